"""The shape of a pod spec, read the way Kubernetes reads it.

One home for what several stages need to agree on: which container lists exist and the
order they are visited in, how a pod is known to run on Windows, how a container's
setting falls back to the pod's, and how capability names compare.
"""

from __future__ import annotations

from typing import Any, Iterator

from . import names

#: The container lists of a pod spec, in the order Pod Security Admission visits them
#: (pod-security-admission/policy/visitor.go, visitContainers).
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def mapping(value: Any) -> dict:
    """`value` when it is a mapping, else an empty one (typed-struct reading of YAML)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list:
    return value if isinstance(value, list) else []


def integer(value: Any) -> int | None:
    """An int that is not a bool (YAML's `true` is not uid 1)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def containers(spec: dict) -> Iterator[tuple[str, int, dict]]:
    """(list name, index, container) for every container that is a mapping, in
    :data:`CONTAINER_LISTS` order."""
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, dict):
                    yield list_name, i, c


def targets_windows(spec: dict) -> bool:
    """Will this pod run on a Windows node? `spec.os.name: windows`, or a
    `kubernetes.io/os: windows` node selector. What the hardener and the policy objects go
    by: Linux-only fields are refused there (or meaningless)."""
    if mapping(spec.get("os")).get("name") == "windows":
        return True
    return mapping(spec.get("nodeSelector")).get(names.OS_LABEL) == "windows"


def psa_windows(spec: dict) -> bool:
    """Pod Security Admission's own, narrower rule: only `spec.os.name == "windows"`
    exempts a pod from the checks with a 1.25 revision (PSA never reads node selectors)."""
    return mapping(spec.get("os")).get("name") == "windows"


def effective(sc: dict, pod_sc: dict, key: str) -> Any:
    """A container's security setting, else the pod's: how the kubelet resolves the fields
    both levels have (runAsUser, runAsNonRoot, seccompProfile, ...)."""
    value = sc.get(key)
    return value if value is not None else pod_sc.get(key)


def cap_name(cap: Any) -> str:
    """A capability name for comparison (`cap_net_raw` -> `NET_RAW`)."""
    name = str(cap).upper()
    return name[4:] if name.startswith("CAP_") else name


def added_caps(sc: dict) -> set[str]:
    """The capabilities a container's securityContext adds, normalised."""
    adds = mapping(sc.get("capabilities")).get("add")
    return {cap_name(a) for a in adds} if isinstance(adds, list) else set()


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... through mappings only; None when a step is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
