"""The shape of a pod spec, read the way Kubernetes reads it.

One home for what several stages need to agree on: which container lists exist and the
order they are visited in, how a container's setting falls back to the pod's, and how
capability names compare. Which OS a pod runs on is :mod:`hardener.kube.nodes`.
"""

from __future__ import annotations

from typing import Any, Iterator


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


def effective(sc: dict, pod_sc: dict, key: str) -> Any:
    """A container's security setting, else the pod's: how the kubelet resolves the fields
    both levels have (runAsUser, runAsNonRoot, seccompProfile, ...)."""
    value = sc.get(key)
    return value if value is not None else pod_sc.get(key)


#: Every Linux capability (capabilities(7), without the CAP_ prefix Kubernetes does not use).
LINUX_CAPABILITIES = frozenset((
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE",
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL",
    "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
    "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG",
    "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE",
    "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
))


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
