"""The seccompProfile_baseline check: upstream's policy/check_seccompProfile_baseline.go."""

from __future__ import annotations

from ...kube import names
from ...kube.pointer import escape
from ..check import BASELINE, Check
from ..pod import CheckedPod, profile_type_violations


SECCOMP_POD_ANNOTATION = names.SECCOMP_POD


SECCOMP_CONTAINER_ANNOTATION_PREFIX = names.SECCOMP_CONTAINER_PREFIX


SECCOMP_TYPES_ALLOWED = frozenset(("RuntimeDefault", "Localhost"))


def seccomp_annotation_ok(v: str) -> bool:
    # validSeccompAnnotationValue: runtime/default, docker/default or localhost/*.
    return v == "runtime/default" or v == "docker/default" or v.startswith("localhost/")


def _seccomp_baseline_1_0(p: CheckedPod):
    """check_seccompProfile_baseline.go, seccompProfileBaseline_1_0 (policy 1.0-1.18):
    only the alpha annotations, pod-level and per visited container name."""
    out = []
    fix = "set the annotation to runtime/default or localhost/<profile>, or remove it"
    v = p.annotations.get(SECCOMP_POD_ANNOTATION)
    if isinstance(v, str) and not seccomp_annotation_ok(v):
        out.append((None, f"/metadata/annotations/{escape(SECCOMP_POD_ANNOTATION)}", v,
                    f"annotation {SECCOMP_POD_ANNOTATION}={v!r} sets a forbidden seccomp profile", fix))
    for c, name, path, sc in p.containers:
        key = SECCOMP_CONTAINER_ANNOTATION_PREFIX + name
        v = p.annotations.get(key)
        if isinstance(v, str) and not seccomp_annotation_ok(v):
            out.append((name, f"/metadata/annotations/{escape(key)}", v,
                        f"annotation {key}={v!r} sets a forbidden seccomp profile", fix))
    return out


def _seccomp_baseline_1_19(p: CheckedPod):
    """check_seccompProfile_baseline.go, seccompProfileBaseline_1_19: if the
    seccompProfile field is set (pod or container) its type must be RuntimeDefault or
    Localhost. Annotations are no longer looked at."""
    return profile_type_violations(
        p, "seccompProfile", SECCOMP_TYPES_ALLOWED, "securityContext.seccompProfile.type",
        "set seccompProfile.type to RuntimeDefault or Localhost, or remove it")


CHECK = Check("seccompProfile_baseline", BASELINE, 'Seccomp',
              'The seccomp profile must not be explicitly set to Unconfined.',
              (
                  ((1, 0), _seccomp_baseline_1_0, ()),
                  ((1, 19), _seccomp_baseline_1_19, ()),
              ))
