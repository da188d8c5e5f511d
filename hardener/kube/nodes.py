"""Which nodes a pod can land on, by operating system, and the fields only Linux reads.

Read from the pod spec alone, the way the API server and the scheduler see it: `spec.os`,
the OS node labels in a node selector or in required node affinity, and as a last hint
`windowsOptions` on a pod that sets nothing Linux-only.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from . import names
from .podspec import containers, dig, integer, mapping, sequence

OS_LABELS = (names.OS_LABEL, names.BETA_OS_LABEL)
#: The Windows user the kubelet counts as root
#: (pkg/kubelet/kuberuntime/security_context_windows.go, windowsRootUserName).
WINDOWS_ROOT_USER = "ContainerAdministrator"
_OSES = ("windows", "linux")


def _obj(v: Any) -> bool:
    return isinstance(v, dict)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _true(v: Any) -> bool:
    return v is True


def _int(v: Any) -> bool:
    return integer(v) is not None


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _list(v: Any) -> bool:
    return isinstance(v, list)


def _items(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0


#: pkg/apis/core/validation/validation.go, validateWindows: what a Windows pod may not set,
#: as (path under the spec, test for "set" on the typed field: a wrong-typed value is unset).
POD_LINUX_FIELDS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("securityContext/appArmorProfile", _obj), ("securityContext/seLinuxOptions", _obj),
    ("hostUsers", _bool), ("hostPID", _true), ("hostIPC", _true),
    ("securityContext/seccompProfile", _obj), ("securityContext/fsGroup", _int),
    ("securityContext/fsGroupChangePolicy", _str), ("securityContext/sysctls", _items),
    ("shareProcessNamespace", _bool), ("securityContext/runAsUser", _int),
    ("securityContext/runAsGroup", _int), ("securityContext/supplementalGroups", _list),
    ("securityContext/supplementalGroupsPolicy", _str), ("securityContext/seLinuxChangePolicy", _str),
)
#: The same for every container's securityContext (any non-nil value, even `false`).
CONTAINER_LINUX_FIELDS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("appArmorProfile", _obj), ("seLinuxOptions", _obj), ("seccompProfile", _obj),
    ("capabilities", _obj), ("readOnlyRootFilesystem", _bool), ("privileged", _bool),
    ("allowPrivilegeEscalation", _bool), ("procMount", _str), ("runAsUser", _int),
    ("runAsGroup", _int),
)


def linux_only_fields(spec: Any) -> Iterator[tuple[str | None, str]]:
    """(container name or None, JSON pointer from the template root) of every field
    validateWindows forbids that `spec` sets."""
    spec = mapping(spec)
    for path, is_set in POD_LINUX_FIELDS:
        if is_set(dig(spec, *path.split("/"))):
            yield None, f"/spec/{path}"
    for list_name, i, c in containers(spec):
        sc = mapping(c.get("securityContext"))
        name = c.get("name") if isinstance(c.get("name"), str) else ""
        for field, is_set in CONTAINER_LINUX_FIELDS:
            if is_set(sc.get(field)):
                yield name, f"/spec/{list_name}/{i}/securityContext/{field}"


def _os_field(spec: dict) -> str | None:
    name = mapping(spec.get("os")).get("name")
    return name if name in _OSES else None


def _selector_os(spec: dict) -> str | None:
    selector = mapping(spec.get("nodeSelector"))
    return next((selector[label] for label in OS_LABELS if selector.get(label) in _OSES), None)


def _term_os(term: Any) -> str | None:
    """The OS a required node selector term insists on: an `In` expression on an OS label
    whose values are all one OS (expressions of a term are ANDed)."""
    for expr in sequence(mapping(term).get("matchExpressions")):
        expr = mapping(expr)
        values = set(v for v in sequence(expr.get("values")) if isinstance(v, str))
        if expr.get("key") in OS_LABELS and expr.get("operator") == "In" and len(values) == 1 \
                and values <= set(_OSES):
            return values.pop()
    return None


def _affinity_os(spec: dict) -> str | None:
    """An OS every required term insists on (terms are ORed: one open term admits any OS)."""
    terms = sequence(dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                         "nodeSelectorTerms"))
    found = {_term_os(t) for t in terms}
    return found.pop() if len(found) == 1 and None not in found else None


def _windows_options_only(spec: dict) -> str | None:
    """`windowsOptions` on the pod or a container, and no field only Linux reads."""
    options = [dig(spec, "securityContext", "windowsOptions")]
    options += [dig(c, "securityContext", "windowsOptions") for _, _, c in containers(spec)]
    if any(_obj(o) for o in options) and next(linux_only_fields(spec), None) is None:
        return "windows"
    return None


def node_os(spec: Any) -> str | None:
    """"windows" or "linux" when the pod can only land on nodes of that OS, else None.
    First answer wins: `spec.os.name`, a node selector on `kubernetes.io/os` or
    `beta.kubernetes.io/os`, required node affinity on either label (an OS only when every
    term requires it), then a pod that sets `windowsOptions` but no Linux-only field."""
    spec = mapping(spec)
    for rule in (_os_field, _selector_os, _affinity_os, _windows_options_only):
        found = rule(spec)
        if found:
            return found
    return None


def targets_windows(spec: Any) -> bool:
    """Will this pod run on a Windows node? The one answer the controls, the policy objects
    and the audit go by: Linux-only fields are refused there (validateWindows) or
    meaningless, and the Windows kubelet allows no sysctl. Pod Security Admission has its
    own, narrower rule: :func:`psa_windows`."""
    return node_os(spec) == "windows"


def psa_windows(spec: Any) -> bool:
    """Pod Security Admission's rule: only `spec.os.name == "windows"` exempts a pod from the
    checks with a 1.25 revision (PSA never reads node selectors or affinity)."""
    return mapping(mapping(spec).get("os")).get("name") == "windows"
