"""Does a change change what runs? Some only write down what the kubelet does anyway.

`--check` is a CI guard: it must fail where hardening changes what a container runs with,
not where it spells out a default (`privileged: false`) or sets a pod-level field every
container already sets for itself. The rules, from the Kubernetes source:

* pkg/securitycontext/util.go `DetermineEffectiveSecurityContext`: a container's own
  runAsUser, runAsGroup, runAsNonRoot, seLinuxOptions, seccompProfile, appArmorProfile and
  windowsOptions win over the pod's; a pod-level value reaches only containers without one;
* pkg/securitycontext/util.go `HasPrivilegedRequest`: an unset `privileged` is false;
* pkg/apis/core/v1/defaults.go `SetDefaults_SecurityContext`: an unset procMount is Default;
* pkg/volume/volume_linux.go `SetVolumeOwnership`: no fsGroup, no ownership change, so
  `fsGroupChangePolicy` alone does nothing.
"""

from __future__ import annotations

from typing import Any

from .pointer import tokens
from .podspec import CONTAINER_LISTS

#: Fields a container sets for itself over the pod's (DetermineEffectiveSecurityContext).
INHERITED = frozenset(("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile",
                       "appArmorProfile", "windowsOptions"))
#: A container securityContext field's value when unset.
CONTAINER_DEFAULTS = {"privileged": False, "procMount": "Default"}


def changes_what_runs(op: str, rel: str, value: Any, template: dict, made: list[str]) -> bool:
    """Does the change (`op` at `rel`, a pointer inside the pod template, to `value`) change
    what the pod's containers run with? Judged on the hardened `template` and `made`, the
    pointers of every change of the run to it: a setting that makes another inert must have
    been there before (a pod-level runAsNonRoot and the same on every container, both
    added, change what runs). Anything not known to be inert counts as a change."""
    if op != "add":
        return True
    parts = tokens(rel)
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        return True
    if parts[:2] == ["spec", "securityContext"]:
        return any(not _pod_field_inert(f, spec, made) for f in _fields(parts[2:], value))
    if len(parts) >= 4 and parts[0] == "spec" and parts[1] in CONTAINER_LISTS and parts[3] == "securityContext":
        pod_sc = spec.get("securityContext") if isinstance(spec.get("securityContext"), dict) else {}
        return any(not _container_field_inert(f, v, pod_sc, made) for f, v in _values(parts[4:], value))
    return True


def _fields(below: list[str], value: Any) -> list[str]:
    """The securityContext fields a change sets: the one it points into, or the keys of the
    securityContext it creates."""
    if below:
        return [below[0]]
    return list(value) if isinstance(value, dict) else ["?"]


def _values(below: list[str], value: Any) -> list[tuple[str, Any]]:
    if below:
        return [(below[0], value if len(below) == 1 else object())]  # deeper: a part of a field
    return list(value.items()) if isinstance(value, dict) else [("?", object())]


def _containers(spec: dict) -> list[tuple[str, dict]]:
    """(pointer inside the template, container) of every container."""
    return [(f"/spec/{name}/{i}", c) for name in CONTAINER_LISTS
            for i, c in enumerate(spec.get(name) if isinstance(spec.get(name), list) else []) if isinstance(c, dict)]


def _was_there(pointer: str, made: list[str]) -> bool:
    """Was the value at `pointer` there before the run (no change made it or a parent)?"""
    return not any(pointer == m or pointer.startswith(m + "/") for m in made)


def _pod_field_inert(field: str, spec: dict, made: list[str]) -> bool:
    sc = spec.get("securityContext")
    if field == "fsGroupChangePolicy":
        return not (isinstance(sc, dict) and sc.get("fsGroup") is not None)
    if field not in INHERITED:
        return False
    containers = _containers(spec)
    return bool(containers) and all(
        isinstance(c.get("securityContext"), dict) and c["securityContext"].get(field) is not None
        and _was_there(f"{at}/securityContext/{field}", made) for at, c in containers)


def _container_field_inert(field: str, value: Any, pod_sc: dict, made: list[str]) -> bool:
    if field in CONTAINER_DEFAULTS:
        return value == CONTAINER_DEFAULTS[field]
    return (field in INHERITED and pod_sc.get(field) == value
            and _was_there(f"/spec/securityContext/{field}", made))
