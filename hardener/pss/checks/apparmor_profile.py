"""The appArmorProfile check: upstream's policy/check_appArmorProfile.go."""

from __future__ import annotations

from ...kube import names
from ...kube.pointer import escape
from ..check import BASELINE, Check
from ..pod import CheckedPod, profile_type_violations


_APPARMOR_ANNOTATION_PREFIX = names.APPARMOR_CONTAINER_PREFIX


_APPARMOR_TYPES_ALLOWED = frozenset(("RuntimeDefault", "Localhost"))


def _apparmor_annotation_ok(v: str) -> bool:
    # allowedAnnotationValue: empty, "runtime/default" or "localhost/<profile>".
    return v == "" or v == "runtime/default" or v.startswith("localhost/")


def _apparmor_profile(p: CheckedPod):
    """check_appArmorProfile.go, appArmorProfileV1Dot0 (single version at 1.0): the
    securityContext.appArmorProfile.type field (pod and every container) must be
    RuntimeDefault or Localhost, and container.apparmor.security.beta.kubernetes.io/*
    annotations must be empty, runtime/default or localhost/*. The field check was added
    to the 1.0 function (Kubernetes 1.30), so it applies at every policy version."""
    out = profile_type_violations(
        p, "appArmorProfile", _APPARMOR_TYPES_ALLOWED, "AppArmor profile type",
        "set appArmorProfile.type to RuntimeDefault or Localhost, or remove it")
    for key in sorted(k for k in p.annotations
                      if isinstance(k, str) and k.startswith(_APPARMOR_ANNOTATION_PREFIX)):
        v = p.annotations[key]
        if isinstance(v, str) and not _apparmor_annotation_ok(v):
            out.append((key[len(_APPARMOR_ANNOTATION_PREFIX):], f"/metadata/annotations/{escape(key)}", v,
                        f"annotation {key}={v!r} sets a forbidden AppArmor profile",
                        "set the annotation to runtime/default or localhost/<profile>, or remove it"))
    return out


CHECK = Check("appArmorProfile", BASELINE, 'AppArmor',
              'AppArmor must not be disabled or overridden: '
              'securityContext.appArmorProfile.type (pod and containers) is RuntimeDefault or '
              'Localhost, and the container.apparmor.security.beta.kubernetes.io/* annotations '
              'are unset, runtime/default or localhost/*.',
              (((1, 0), _apparmor_profile, ()),))
