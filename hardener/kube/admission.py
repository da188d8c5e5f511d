"""What would go wrong with a pod template: at the API server, at the kubelet, once running.

:func:`check` reads one pod template (a dict with optional `metadata` and `spec`: a
Deployment's `spec.template`, or a Pod without apiVersion and kind) for a target Kubernetes
version and a node described by :class:`NodeFeatures`, and returns a :class:`Finding` per
problem. Three groups of rules, each with a stable id (:data:`RULES`):

* ``api/...``: what the API server rejects (pkg/apis/core/validation/validation.go). Pods and
  the templates of ValidatePodTemplateSpec are treated alike; a StatefulSet's template is
  accepted and each of its Pods rejected instead.
* ``kubelet/...``: what the kubelet refuses at pod admission or container creation. A problem
  the API server already rejects at the target version is not reported again here.
* ``runtime/...``: what does not work once the container runs (Linux semantics).

Upstream works on typed Go structs, so the input is read the same way: a field of the wrong
JSON type is absent, a list element that is not an object is skipped, and nothing here
raises on pod data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from . import names
from .kubelet import kubelet_allowlist, sysctl_namespace
from .nodes import linux_only_fields, node_os
from .podspec import cap_name, containers, integer, mapping, sequence
from .pointer import field_path, join
from .kubelet import PORT_SYSCTL, PORT_SYSCTL_KERNEL
from .nodes import WINDOWS_ROOT_USER
from .versions import APPARMOR_FIELD, APPARMOR_HARD_REJECT, HOST_SYSCTL_API, POD_OS, SECCOMP_FIELD, Version, fmt

#: validation.IsValidUserID / IsValidGroupID: 0..math.MaxInt32.
MAX_ID = 2147483647

_LOCALHOST = "localhost/"
_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
_VALIDATION = "pkg/apis/core/validation/validation.go"
#: Go's unicode.IsSpace (what strings.TrimSpace trims); Python's str.strip also trims \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009" \
            "\u200a\u2028\u2029\u202f\u205f\u3000"
_OWNER_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER")
_OWNER_TOOLS = re.compile(r"(?<![\w.-])(chown|chmod)(?![\w.-])")
_DIGITS = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class NodeFeatures:
    """What the nodes the pod may land on offer."""

    apparmor: bool = False  # AppArmor is enabled on the Linux nodes
    unprivileged_port_sysctl: bool = True  # kernel >= 4.11: net.ipv4.ip_unprivileged_port_start exists
    windows: bool = False  # the pod may land on a Windows node


@dataclass(frozen=True)
class Finding:
    rule: str  # stable rule id, e.g. "kubelet/appArmorUnavailable"
    severity: str  # "error" | "warning"
    container: str | None  # container name, or None for the pod
    path: str  # JSON pointer from the template root (/spec/..., /metadata/...)
    message: str  # one line: the field and the consequence
    source: str  # the upstream "file: function" the rule mirrors


class _Hit(NamedTuple):
    container: str | None
    path: str
    message: str
    severity: str = "error"


class _Container(NamedTuple):
    name: str
    path: str  # /spec/<list>/<i>
    body: dict
    sc: dict  # its securityContext ({} when unset)


class _Pod:
    """The template as the rules see it."""

    __slots__ = ("annotations", "spec", "psc", "containers", "sysctls", "os_name", "linux", "windows",
                 "kube", "node")

    def __init__(self, template: Any, kube: Version, node: NodeFeatures):
        template = mapping(template)
        meta_annotations = mapping(mapping(template.get("metadata")).get("annotations"))
        self.annotations = {k: v for k, v in meta_annotations.items() if isinstance(k, str) and isinstance(v, str)}
        self.spec = spec = mapping(template.get("spec"))
        self.psc = mapping(spec.get("securityContext"))
        self.containers = [_Container(c.get("name") if isinstance(c.get("name"), str) else "",
                                      f"/spec/{list_name}/{i}", c, mapping(c.get("securityContext")))
                           for list_name, i, c in containers(spec)]
        self.sysctls = [(i, s["name"]) for i, s in enumerate(sequence(self.psc.get("sysctls")))
                        if isinstance(s, dict) and isinstance(s.get("name"), str)]
        self.os_name = mapping(spec.get("os")).get("name")  # what validateOS / validateWindows read
        where = node_os(spec)
        self.linux = where != "windows"
        self.windows = where == "windows" or (node.windows and where != "linux")
        self.kube = kube
        self.node = node


# --------------------------------------------------------------------------- reading helpers


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _flag(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def _contexts(p: _Pod) -> Iterator[tuple[str | None, str, dict]]:
    """(container name or None, pointer of the securityContext, securityContext) for the pod
    and then every container, in VisitContainers order."""
    yield None, "/spec/securityContext", p.psc
    for c in p.containers:
        yield c.name, f"{c.path}/securityContext", c.sc


def _profiles(p: _Pod, field: str) -> Iterator[tuple[str | None, str, dict]]:
    """(container or None, pointer of the profile, profile) for each set `field`."""
    for name, base, sc in _contexts(p):
        if isinstance(sc.get(field), dict):
            yield name, f"{base}/{field}", sc[field]


def _effective(p: _Pod, c: _Container, key: str, read: Callable[[Any], Any]) -> tuple[Any, str]:
    """A container's typed setting, else the pod's, and where it is set
    (pkg/securitycontext/util.go, DetermineEffectiveSecurityContext)."""
    own = read(c.sc.get(key))
    if own is not None:
        return own, f"{c.path}/securityContext/{key}"
    return read(p.psc.get(key)), f"/spec/securityContext/{key}"


def _caps(sc: dict, key: str) -> list[tuple[int, str]]:
    """(index, name) of the string entries of capabilities.add or .drop."""
    return [(j, cap) for j, cap in enumerate(sequence(mapping(sc.get("capabilities")).get(key)))
            if isinstance(cap, str)]


def _cap_set(sc: dict, key: str) -> set[str]:
    return {cap_name(cap) for _, cap in _caps(sc, key)}


def _apparmor_annotations(p: _Pod) -> Iterator[tuple[str, str, str]]:
    """(key, container name, value) of every container AppArmor annotation."""
    prefix = names.APPARMOR_CONTAINER_PREFIX
    for key, value in p.annotations.items():
        if key.startswith(prefix):
            yield key, key[len(prefix):], value


def _annotation_path(key: str) -> str:
    return join("/metadata/annotations", key)


def _rejected(since: Version | None = None) -> str:
    return "the API server rejects the pod" + (f" (Kubernetes >= {fmt(since)})" if since else "")


def _runs_as_non_root(p: _Pod, c: _Container) -> bool:
    """Effective uid non-zero: an explicit runAsUser != 0, or runAsNonRoot true."""
    uid, _ = _effective(p, c, "runAsUser", integer)
    if uid is not None:
        return uid != 0
    return _effective(p, c, "runAsNonRoot", _flag)[0] is True


def _no_new_privs(c: _Container) -> bool:
    return c.sc.get("allowPrivilegeEscalation") is False


# --------------------------------------------------------------------------- api/...


def _descending_path(path: str) -> list[str]:
    """validation.go, validateLocalDescendingPath: relative, no `..` segment."""
    problems = ["must be a relative path"] if path.startswith("/") else []
    if ".." in path.split("/"):
        problems.append("must not contain '..'")
    return problems


def _mismatch(annotation: str, profile: dict, runtime_default: tuple[str, ...]) -> str | None:
    """The profile field ("type" or "localhostProfile") that disagrees with the annotation."""
    kind = profile.get("type")
    if kind == "Unconfined":
        return None if annotation == "unconfined" else "type"
    if kind == "RuntimeDefault":
        return None if annotation in runtime_default else "type"
    if kind != "Localhost":
        return None
    if not annotation.startswith(_LOCALHOST):
        return "type"
    return None if profile.get("localhostProfile") == annotation[len(_LOCALHOST):] else "localhostProfile"


def _seccomp_annotation_mismatch(p: _Pod) -> Iterator[_Hit]:
    """validateSeccompAnnotationsAndFieldsMatch: a pod field against the pod annotation, a
    container's own field against its container annotation (no cross-level comparison)."""
    if p.kube < SECCOMP_FIELD:
        return
    for name, path, profile in _profiles(p, "seccompProfile"):
        key = names.SECCOMP_POD if name is None else names.SECCOMP_CONTAINER_PREFIX + name
        annotation = p.annotations.get(key)
        if annotation is None:
            continue
        wrong = _mismatch(annotation, profile, ("runtime/default", "docker/default"))
        if wrong:
            yield _Hit(name, f"{path}/{wrong}",
                       f"{field_path(path)} {profile.get('type')} and annotation {key}={annotation!r} disagree "
                       f"(seccomp {'type' if wrong == 'type' else 'profile'} in annotation and field must match): "
                       f"{_rejected(SECCOMP_FIELD)}")


def _apparmor_annotation_mismatch(p: _Pod) -> Iterator[_Hit]:
    """validateAppArmorAnnotationsAndFieldsMatchOnCreate: each container's annotation against
    its *effective* field (its own, else the pod's); skipped for spec.os.name windows."""
    if p.kube < APPARMOR_FIELD or p.os_name == "windows":
        return
    pod_profile = p.psc.get("appArmorProfile")
    for c in p.containers:
        own = c.sc.get("appArmorProfile")
        path, profile = ((f"{c.path}/securityContext/appArmorProfile", own) if isinstance(own, dict)
                         else ("/spec/securityContext/appArmorProfile", pod_profile))
        key = names.APPARMOR_CONTAINER_PREFIX + c.name
        annotation = p.annotations.get(key)
        if annotation is None or not isinstance(profile, dict):
            continue
        wrong = _mismatch(annotation, profile, ("runtime/default",))
        if wrong:
            yield _Hit(c.name, f"{path}/{wrong}",
                       f"{field_path(path)} {profile.get('type')} (effective for container {c.name!r}) and annotation "
                       f"{key}={annotation!r} disagree (apparmor {'type' if wrong == 'type' else 'profile'} "
                       f"in annotation and field must match): {_rejected(APPARMOR_FIELD)}")


def _seccomp_field_problems(profile: dict) -> Iterator[tuple[str, str]]:
    """(sub-field, problem): validateSeccompProfileField and validateSeccompProfileType."""
    kind = _text(profile.get("type")) or ""
    local = _text(profile.get("localhostProfile"))
    if kind not in _PROFILE_TYPES:
        yield "type", ("is required when seccompProfile is set" if kind == "" else
                       f"{kind!r} is not supported (Localhost, RuntimeDefault, Unconfined)")
    if kind == "Localhost":
        if local is None:
            yield "localhostProfile", "must be set when seccomp type is Localhost"
        for problem in _descending_path(local or ""):
            yield "localhostProfile", f"{local!r} {problem}"
    elif local is not None:
        yield "localhostProfile", "can only be set when seccomp type is Localhost"


def _seccomp_field(p: _Pod) -> Iterator[_Hit]:
    if p.kube < SECCOMP_FIELD:
        return
    for name, path, profile in _profiles(p, "seccompProfile"):
        for sub, problem in _seccomp_field_problems(profile):
            yield _Hit(name, f"{path}/{sub}", f"{field_path(path)}.{sub} {problem}: {_rejected(SECCOMP_FIELD)}")


def _seccomp_annotation_problems(value: str) -> list[str]:
    """ValidateSeccompProfile."""
    if value in ("runtime/default", "docker/default", "unconfined"):
        return []
    if value.startswith(_LOCALHOST):
        return _descending_path(value[len(_LOCALHOST):])
    return ["must be a valid seccomp profile"]


def _seccomp_annotation(p: _Pod) -> Iterator[_Hit]:
    """ValidateSeccompPodAnnotations: the pod key and every container key (whose container
    need not exist)."""
    prefix = names.SECCOMP_CONTAINER_PREFIX
    for key, value in p.annotations.items():
        if key != names.SECCOMP_POD and not key.startswith(prefix):
            continue
        for problem in _seccomp_annotation_problems(value):
            yield _Hit(key[len(prefix):] if key.startswith(prefix) else None, _annotation_path(key),
                       f"annotation {key}={value!r} {problem}: {_rejected()}")


def _apparmor_field_problems(profile: dict) -> Iterator[tuple[str, str]]:
    """(sub-field, problem): ValidateAppArmorProfileField."""
    kind = _text(profile.get("type")) or ""
    local = _text(profile.get("localhostProfile"))
    if kind == "Localhost":
        if local is None or local == "":
            yield "localhostProfile", "must be set when AppArmor type is Localhost"
        elif local.strip(_GO_SPACE) != local:
            yield "localhostProfile", "must not be padded with whitespace"
        if local is not None and len(local.encode("utf-8", "surrogatepass")) > 4095:
            yield "localhostProfile", "may not be longer than 4095 bytes"
    elif kind in _PROFILE_TYPES:
        if local is not None:
            yield "localhostProfile", "can only be set when AppArmor type is Localhost"
    else:
        yield "type", ("is required when appArmorProfile is set" if kind == "" else
                       f"{kind!r} is not supported (Localhost, RuntimeDefault, Unconfined)")


def _apparmor_field(p: _Pod) -> Iterator[_Hit]:
    if p.kube < APPARMOR_FIELD:
        return
    for name, path, profile in _profiles(p, "appArmorProfile"):
        for sub, problem in _apparmor_field_problems(profile):
            yield _Hit(name, f"{path}/{sub}", f"{field_path(path)}.{sub} {problem}: {_rejected(APPARMOR_FIELD)}")


def _apparmor_annotation(p: _Pod) -> Iterator[_Hit]:
    """ValidateAppArmorProfileFormat: "", runtime/default, unconfined or localhost/<name>."""
    for key, name, value in _apparmor_annotations(p):
        if value not in ("", "runtime/default", "unconfined") and not value.startswith(_LOCALHOST):
            yield _Hit(name, _annotation_path(key),
                       f"annotation {key}: invalid AppArmor profile name {value!r} (runtime/default, "
                       f"unconfined or localhost/<profile>): {_rejected()}")


def _apparmor_annotation_container(p: _Pod) -> Iterator[_Hit]:
    """ValidateAppArmorPodAnnotations: the annotation must name a container of the pod."""
    known = {c.name for c in p.containers}
    for key, name, _ in _apparmor_annotations(p):
        if name not in known:
            yield _Hit(name, _annotation_path(key),
                       f"annotation {key}: container {name!r} not found in the pod: {_rejected()}")


def _privilege_escalation(p: _Pod) -> Iterator[_Hit]:
    """ValidateSecurityContext: allowPrivilegeEscalation false next to privileged true, or
    next to the literal `CAP_SYS_ADMIN` in capabilities.add (`SYS_ADMIN` is not compared)."""
    for c in p.containers:
        if not _no_new_privs(c):
            continue
        path = f"{c.path}/securityContext/allowPrivilegeEscalation"
        if c.sc.get("privileged") is True:
            yield _Hit(c.name, path, f"{field_path(path)}: cannot set `allowPrivilegeEscalation` to false and "
                                     f"`privileged` to true: {_rejected()}")
        if any(cap == "CAP_SYS_ADMIN" for _, cap in _caps(c.sc, "add")):
            yield _Hit(c.name, path, f"{field_path(path)}: cannot set `allowPrivilegeEscalation` to false and "
                                     f"`capabilities.Add` CAP_SYS_ADMIN: {_rejected()}")


#: Linux-only fields validateWindows checks that came after spec.os itself.
_FIELD_SINCE = {"appArmorProfile": APPARMOR_FIELD}


def _windows_linux_field(p: _Pod) -> Iterator[_Hit]:
    """validateWindows: no Linux-only field on a `spec.os.name: windows` pod."""
    if p.os_name != "windows" or p.kube < POD_OS:
        return
    for name, path in linux_only_fields(p.spec):
        if p.kube >= _FIELD_SINCE.get(path.rsplit("/", 1)[1], POD_OS):
            yield _Hit(name, path, f"{field_path(path)} cannot be set for a windows pod (spec.os.name: windows): "
                                   f"{_rejected(POD_OS)}")


def _linux_windows_options(p: _Pod) -> Iterator[_Hit]:
    """validateLinux: no windowsOptions on a `spec.os.name: linux` pod."""
    if p.os_name != "linux" or p.kube < POD_OS:
        return
    for name, base, sc in _contexts(p):
        if isinstance(sc.get("windowsOptions"), dict):
            path = f"{base}/windowsOptions"
            yield _Hit(name, path, f"{field_path(path)}: windows options cannot be set for a linux pod "
                                   f"(spec.os.name: linux): {_rejected(POD_OS)}")


def _shared_host_namespace(p: _Pod, sysctl: str) -> str | None:
    """"hostNetwork" / "hostIPC" when the sysctl's namespace is the host's."""
    ns = sysctl_namespace(sysctl)
    if ns == "net" and p.spec.get("hostNetwork") is True:
        return "hostNetwork"
    if ns == "ipc" and p.spec.get("hostIPC") is True:
        return "hostIPC"
    return None


def _sysctl_path(i: int) -> str:
    return f"/spec/securityContext/sysctls/{i}/name"


def _host_namespace_sysctl_api(p: _Pod) -> Iterator[_Hit]:
    """ValidateHostSysctl (from 1.29)."""
    if p.kube < HOST_SYSCTL_API:
        return
    for i, name in p.sysctls:
        shared = _shared_host_namespace(p, name)
        if shared:
            yield _Hit(None, _sysctl_path(i), f"sysctl {name} may not be specified when '{shared}' is true: "
                                              f"{_rejected(HOST_SYSCTL_API)}")


def _proc_mount_unmasked(p: _Pod) -> Iterator[_Hit]:
    """ValidateSecurityContext: procMount Unmasked needs a user namespace (hostUsers: false)."""
    if p.spec.get("hostUsers") is False:
        return
    for c in p.containers:
        if c.sc.get("procMount") == "Unmasked":
            path = f"{c.path}/securityContext/procMount"
            yield _Hit(c.name, path, f"{field_path(path)} Unmasked: `hostUsers` must be false to use `Unmasked`: "
                                     f"{_rejected()}")


def _id_out_of_range(p: _Pod) -> Iterator[_Hit]:
    """validatePodSpecSecurityContext / ValidateSecurityContext: IsValidUserID, IsValidGroupID."""
    for name, base, sc in _contexts(p):
        for field in ("runAsUser", "runAsGroup"):
            value = integer(sc.get(field))
            if value is not None and not 0 <= value <= MAX_ID:
                path = f"{base}/{field}"
                yield _Hit(name, path, f"{field_path(path)} {value} must be between 0 and {MAX_ID}, inclusive: "
                                       f"{_rejected()}")


# --------------------------------------------------------------------------- kubelet/...


def _apparmor_required(p: _Pod) -> tuple[str | None, str, str] | None:
    """(container, pointer, what) of what makes AppArmor required (helpers.go, isRequired):
    a non-Unconfined field (pod, then containers; from 1.30), else a container annotation
    other than `unconfined` (upstream stops at the first annotation in map order)."""
    if p.kube >= APPARMOR_FIELD:
        for name, path, profile in _profiles(p, "appArmorProfile"):
            if profile.get("type") != "Unconfined":
                return name, f"{path}/type", field_path(f"{path}/type")
    for key, name, value in _apparmor_annotations(p):
        if value != "unconfined":
            return name, _annotation_path(key), f"annotation {key}={value!r}"
    return None


def _apparmor_outcome(kube: Version) -> str:
    if kube >= APPARMOR_HARD_REJECT:
        return (f"the kubelet rejects the pod (Failed, reason AppArmor: Cannot enforce AppArmor: AppArmor is "
                f"not enabled on the host; Kubernetes >= {fmt(APPARMOR_HARD_REJECT)})")
    return (f"the kubelet holds the pod Pending with containers Waiting/Blocked (reason AppArmor; soft "
            f"admission, Kubernetes < {fmt(APPARMOR_HARD_REJECT)})")


def _apparmor_unavailable(p: _Pod) -> Iterator[_Hit]:
    """isRequired + the AppArmor admit handler, on a Linux node without AppArmor."""
    if p.node.apparmor or not p.linux:
        return
    required = _apparmor_required(p)
    if required:
        name, path, what = required
        yield _Hit(name, path, f"{what} requires AppArmor, which the node does not have: {_apparmor_outcome(p.kube)}")


def _sysctl_not_allowlisted(p: _Pod) -> Iterator[_Hit]:
    """SafeSysctlAllowlist at the version (getSafeSysctlAllowlist drops a sysctl on a kernel
    older than it needs; a node without ip_unprivileged_port_start runs a kernel < 4.11)."""
    if not p.linux:
        return
    allowed = kubelet_allowlist(p.kube)
    unless = "unless the node's kubelet lists it in --allowed-unsafe-sysctls"
    for i, name in p.sysctls:
        if name not in allowed:
            yield _Hit(None, _sysctl_path(i),
                       f"sysctl {name} is not a safe sysctl of the {fmt(p.kube)} kubelet: it rejects the pod "
                       f"(Failed, SysctlForbidden: not allowlisted) {unless}")
        elif allowed[name] and allowed[name] >= PORT_SYSCTL_KERNEL and not p.node.unprivileged_port_sysctl:
            yield _Hit(None, _sysctl_path(i),
                       f"sysctl {name} needs Linux >= {fmt(allowed[name])} and the node's kernel is older than "
                       f"{fmt(PORT_SYSCTL_KERNEL)}: the kubelet drops it from its safe list and rejects the pod "
                       f"(Failed, SysctlForbidden) {unless}")


def _host_namespace_sysctl_kubelet(p: _Pod) -> Iterator[_Hit]:
    """allowlist.go validateSysctl: "%q not allowed with host %s enabled" (before 1.29; from
    then on the API server rejects the pod first)."""
    if p.kube >= HOST_SYSCTL_API or not p.linux:
        return
    for i, name in p.sysctls:
        shared = _shared_host_namespace(p, name)
        if shared:
            yield _Hit(None, _sysctl_path(i),
                       f"sysctl {name} not allowed with {shared}: true: the kubelet rejects the pod (Failed, "
                       f"SysctlForbidden) and a controller keeps recreating it; the API server rejects it from "
                       f"{fmt(HOST_SYSCTL_API)}")


def _port_sysctl_kernel(p: _Pod) -> Iterator[_Hit]:
    """safeSysctls lists ip_unprivileged_port_start without a kernel gate; it exists from
    Linux 4.11 only, and setting it in the sandbox fails on older kernels."""
    if p.node.unprivileged_port_sysctl or not p.linux:
        return
    for i, name in p.sysctls:
        if name == PORT_SYSCTL:
            yield _Hit(None, _sysctl_path(i),
                       f"sysctl {name} does not exist on the node's kernel (< {fmt(PORT_SYSCTL_KERNEL)}): pod "
                       f"sandbox creation fails (open /proc/sys/net/ipv4/ip_unprivileged_port_start: no such "
                       f"file or directory) and the pod never starts")


def _windows_sysctl(p: _Pod) -> Iterator[_Hit]:
    """SafeSysctlAllowlist returns nil off Linux: a Windows kubelet allows no sysctl. Not
    reported where validateWindows already rejects the pod."""
    if not p.windows or (p.os_name == "windows" and p.kube >= POD_OS):
        return
    for i, name in p.sysctls:
        yield _Hit(None, _sysctl_path(i),
                   f"sysctl {name} on a pod that may run on Windows: the Windows kubelet has no safe sysctls "
                   f"and rejects the pod (Failed, SysctlForbidden: not allowlisted)")


def _non_root_required(p: _Pod) -> Iterator[tuple[_Container, str]]:
    """(container, pointer of runAsNonRoot) for every container whose effective runAsNonRoot
    is true (verifyRunAsNonRoot does nothing otherwise)."""
    for c in p.containers:
        value, path = _effective(p, c, "runAsNonRoot", _flag)
        if value is True:
            yield c, path


def _run_as_non_root_uid0(p: _Pod) -> Iterator[_Hit]:
    """security_context_others.go, verifyRunAsNonRoot: runAsUser 0 breaks the policy."""
    if not p.linux:
        return
    for c, _ in _non_root_required(p):
        uid, path = _effective(p, c, "runAsUser", integer)
        if uid == 0:
            yield _Hit(c.name, path,
                       f"{field_path(path)} 0 with runAsNonRoot: true: the kubelet refuses to create container "
                       f"{c.name!r} (CreateContainerConfigError: container's runAsUser breaks non-root policy)")


def _run_as_non_root_image_user(p: _Pod) -> Iterator[_Hit]:
    """verifyRunAsNonRoot without runAsUser: the image's USER decides."""
    if not p.linux:
        return
    for c, path in _non_root_required(p):
        if _effective(p, c, "runAsUser", integer)[0] is None:
            yield _Hit(c.name, path,
                       f"{field_path(path)} true without runAsUser: image user unknown; the kubelet starts "
                       f"container {c.name!r} only if the image's USER is numeric and non-zero (a missing, "
                       f"root or named USER gives CreateContainerConfigError)", "warning")


def _run_as_user_name(p: _Pod, c: _Container) -> tuple[str | None, str]:
    """The effective windowsOptions.runAsUserName (merged field by field) and its pointer."""
    for base, sc in ((f"{c.path}/securityContext", c.sc), ("/spec/securityContext", p.psc)):
        value = _text(mapping(sc.get("windowsOptions")).get("runAsUserName"))
        if value is not None:
            return value, f"{base}/windowsOptions/runAsUserName"
    return None, ""


def _run_as_non_root_windows_admin(p: _Pod) -> Iterator[_Hit]:
    """security_context_windows.go, verifyRunAsNonRoot: ContainerAdministrator is root."""
    if not p.windows:
        return
    for c, _ in _non_root_required(p):
        user, path = _run_as_user_name(p, c)
        if user == WINDOWS_ROOT_USER:
            yield _Hit(c.name, path,
                       f"{field_path(path)} {WINDOWS_ROOT_USER} with runAsNonRoot: true: the Windows kubelet "
                       f"refuses to create container {c.name!r} (CreateContainerConfigError: regarded as root "
                       f"identity)")


def _run_as_non_root_windows_image_user(p: _Pod) -> Iterator[_Hit]:
    """verifyRunAsNonRoot on Windows without runAsUserName: the image's user decides."""
    if not p.windows:
        return
    for c, path in _non_root_required(p):
        if _run_as_user_name(p, c)[0] is None:
            yield _Hit(c.name, path,
                       f"{field_path(path)} true without windowsOptions.runAsUserName: on Windows the image user "
                       f"decides, and servercore/IIS images run as {WINDOWS_ROOT_USER} "
                       f"(CreateContainerConfigError)", "warning")


# --------------------------------------------------------------------------- runtime/...


def _capabilities_non_root(p: _Pod) -> Iterator[_Hit]:
    """No ambient capabilities (kubernetes/kubernetes#56374): what capabilities.add grants is
    lost at execve of a non-root process, unless its binary has file capabilities, which
    allowPrivilegeEscalation: false (no_new_privs) turns off too."""
    if not p.linux:
        return
    for c in p.containers:
        extra = [cap for _, cap in _caps(c.sc, "add") if cap_name(cap) != "NET_BIND_SERVICE"]
        if not extra or not _runs_as_non_root(p, c):
            continue
        path = f"{c.path}/securityContext/capabilities/add"
        if _no_new_privs(c):
            yield _Hit(c.name, path, f"{field_path(path)} {extra} never take effect: the container runs as "
                                     f"non-root, Kubernetes sets no ambient capabilities and "
                                     f"allowPrivilegeEscalation: false turns file capabilities off")
        else:
            yield _Hit(c.name, path, f"{field_path(path)} {extra} never reach the non-root process (no ambient "
                                     f"capabilities) unless its binary carries them as file capabilities",
                       "warning")


def _unprivileged_port_start(p: _Pod) -> int | None:
    for s in sequence(p.psc.get("sysctls")):
        s = mapping(s)
        value = _text(s.get("value"))
        if s.get("name") == PORT_SYSCTL and value is not None and _DIGITS.fullmatch(value.strip()):
            return int(value)
    return None


def _low_port_blocker(p: _Pod, port: int) -> str | None:
    """Why a non-root process cannot bind `port` (< 1024), or None when the sysctl allows it."""
    if p.spec.get("hostNetwork") is True:
        return ("hostNetwork: true applies the host's net.ipv4.ip_unprivileged_port_start (1024 by default), "
                "which no pod sysctl can change")
    start = _unprivileged_port_start(p)
    if start is None:
        return "net.ipv4.ip_unprivileged_port_start is not set (1024 by default)"
    return f"net.ipv4.ip_unprivileged_port_start is {start}" if start > port else None


def _file_caps_can_bind(c: _Container) -> bool:
    """A binary with the file capability could still bind: no no_new_privs, and
    NET_BIND_SERVICE left in the bounding set."""
    kept = "NET_BIND_SERVICE" in _cap_set(c.sc, "add") or not {"ALL", "NET_BIND_SERVICE"} & _cap_set(c.sc, "drop")
    return kept and not _no_new_privs(c)


def _privileged_port_non_root(p: _Pod) -> Iterator[_Hit]:
    """A non-root container declaring a containerPort below 1024 it cannot bind:
    NET_BIND_SERVICE does not reach a non-root process, only the sysctl helps."""
    if not p.linux:
        return
    for c in p.containers:
        if not _runs_as_non_root(p, c):
            continue
        for j, port in enumerate(sequence(c.body.get("ports"))):
            number = integer(mapping(port).get("containerPort"))
            blocker = _low_port_blocker(p, number) if number is not None and 0 < number < 1024 else None
            if blocker:
                path = f"{c.path}/ports/{j}/containerPort"
                if _file_caps_can_bind(c):
                    yield _Hit(c.name, path, f"{field_path(path)} {number} is privileged and the container runs "
                                             f"as non-root; {blocker}: bind() fails with EACCES unless the binary "
                                             f"has the file capability cap_net_bind_service", "warning")
                else:
                    yield _Hit(c.name, path, f"{field_path(path)} {number} is privileged and the container runs "
                                             f"as non-root; {blocker}, and NET_BIND_SERVICE cannot reach the "
                                             f"process: bind() fails with EACCES")


def _ownership_tools(c: _Container) -> list[str]:
    """chown / chmod named in command or args (a shell script in them included)."""
    words = [w for key in ("command", "args") for w in sequence(c.body.get(key)) if isinstance(w, str)]
    return sorted({m.group(1) for w in words for m in _OWNER_TOOLS.finditer(w)})


def _root_without_chown(p: _Pod) -> Iterator[_Hit]:
    """Root whose CHOWN, DAC_OVERRIDE or FOWNER is dropped (ALL or by name, not added back)
    while it runs chown/chmod: root without CHOWN for a chown job."""
    if not p.linux:
        return
    for c in p.containers:
        if _effective(p, c, "runAsUser", integer)[0] != 0:
            continue
        dropped, added = _cap_set(c.sc, "drop"), _cap_set(c.sc, "add")
        lost = [cap for cap in _OWNER_CAPS if {cap, "ALL"} & dropped and cap not in added]
        tools = _ownership_tools(c)
        if lost and tools:
            path = f"{c.path}/securityContext/capabilities/drop"
            yield _Hit(c.name, path, f"{field_path(path)} takes {', '.join(lost)} from root, and container "
                                     f"{c.name!r} runs {'/'.join(tools)}: it fails with EPERM (root without "
                                     f"CHOWN for a chown job); add them back in capabilities.add")


def _capability_spelling(p: _Pod) -> Iterator[_Hit]:
    """containerd prefixes every name with CAP_ (CAP_CAP_X is unknown and ignored); Pod
    Security Admission and PodSecurityPolicy compare exact, upper-case names."""
    if not p.linux:
        return
    for c in p.containers:
        for key in ("add", "drop"):
            for j, cap in _caps(c.sc, key):
                if cap_name(cap) == cap:
                    continue
                path = f"{c.path}/securityContext/capabilities/{key}/{j}"
                yield _Hit(c.name, path, f"{field_path(path)} {cap!r} should be spelled {cap_name(cap)!r}: "
                                         f"{_misspelling_effect(cap, key)}", "error" if key == "add" else "warning")


def _misspelling_effect(cap: str, key: str) -> str:
    if cap.upper().startswith("CAP_"):
        return (f"containerd turns it into CAP_{cap.upper()}, which is unknown, so it is not "
                f"{'granted' if key == 'add' else 'dropped'}")
    return "Pod Security Admission and PodSecurityPolicy compare exact names"


# --------------------------------------------------------------------------- registry


class _Rule(NamedTuple):
    id: str
    title: str
    description: str
    source: str
    check: Callable[[_Pod], Iterable[_Hit]]


_NON_ROOT_LINUX = "pkg/kubelet/kuberuntime/security_context_others.go: verifyRunAsNonRoot"
_WINDOWS_KUBELET = "pkg/kubelet/kuberuntime/security_context_windows.go: verifyRunAsNonRoot"
_NO_AMBIENT = "pkg/kubelet/kuberuntime/security_context.go: convertToRuntimeCapabilities"

_REGISTRY = (
    _Rule("api/seccompAnnotationMismatch", "Seccomp annotation and field disagree",
          "A seccompProfile field and the seccomp annotation of the same level (pod, or the "
          "container's own) must say the same: RuntimeDefault is runtime/default or "
          "docker/default, Localhost X is localhost/X.",
          f"{_VALIDATION}: validateSeccompAnnotationsAndFieldsMatch", _seccomp_annotation_mismatch),
    _Rule("api/appArmorAnnotationMismatch", "AppArmor annotation and field disagree",
          "From 1.30 a container's AppArmor annotation must match its effective appArmorProfile "
          "(its own, else the pod's); not checked for spec.os.name windows.",
          f"{_VALIDATION}: validateAppArmorAnnotationsAndFieldsMatchOnCreate", _apparmor_annotation_mismatch),
    _Rule("api/seccompField", "Invalid seccompProfile",
          "seccompProfile.type is Localhost, RuntimeDefault or Unconfined; localhostProfile is "
          "set exactly for Localhost and is a relative path without a '..' segment.",
          f"{_VALIDATION}: validateSeccompProfileField", _seccomp_field),
    _Rule("api/seccompAnnotation", "Invalid seccomp annotation",
          "A seccomp annotation is runtime/default, docker/default, unconfined or "
          "localhost/<relative path without '..'>.",
          f"{_VALIDATION}: ValidateSeccompProfile", _seccomp_annotation),
    _Rule("api/appArmorField", "Invalid appArmorProfile",
          "appArmorProfile.type is Localhost, RuntimeDefault or Unconfined; Localhost needs a "
          "non-empty localhostProfile, not padded with whitespace, of at most 4095 bytes; the "
          "other types carry none (from 1.30).",
          f"{_VALIDATION}: ValidateAppArmorProfileField", _apparmor_field),
    _Rule("api/appArmorAnnotation", "Invalid AppArmor annotation",
          "An AppArmor annotation is empty, runtime/default, unconfined or localhost/<profile>.",
          f"{_VALIDATION}: ValidateAppArmorProfileFormat", _apparmor_annotation),
    _Rule("api/appArmorAnnotationContainer", "AppArmor annotation for a missing container",
          "container.apparmor.security.beta.kubernetes.io/<name> must name a container of the pod.",
          f"{_VALIDATION}: ValidateAppArmorPodAnnotations", _apparmor_annotation_container),
    _Rule("api/privilegeEscalation", "allowPrivilegeEscalation false with privileges",
          "allowPrivilegeEscalation: false cannot go with privileged: true, nor with the literal "
          "CAP_SYS_ADMIN in capabilities.add.",
          f"{_VALIDATION}: ValidateSecurityContext", _privilege_escalation),
    _Rule("api/windowsLinuxField", "Linux-only field on a Windows pod",
          "A spec.os.name: windows pod sets none of the Linux-only pod and container fields "
          "(from 1.24), not even false or empty values.",
          f"{_VALIDATION}: validateWindows", _windows_linux_field),
    _Rule("api/linuxWindowsOptions", "windowsOptions on a Linux pod",
          "A spec.os.name: linux pod sets no windowsOptions, on the pod or a container (from 1.24).",
          f"{_VALIDATION}: validateLinux", _linux_windows_options),
    _Rule("api/hostNamespaceSysctl", "Namespaced sysctl in a host namespace",
          "A net.* sysctl cannot go with hostNetwork: true, an IPC sysctl not with hostIPC: true "
          "(from 1.29).",
          f"{_VALIDATION}: ValidateHostSysctl", _host_namespace_sysctl_api),
    _Rule("api/procMountUnmasked", "Unmasked procMount without a user namespace",
          "procMount: Unmasked needs hostUsers: false.",
          f"{_VALIDATION}: ValidateSecurityContext", _proc_mount_unmasked),
    _Rule("api/idOutOfRange", "User or group id out of range",
          "runAsUser and runAsGroup (pod and containers) are between 0 and 2147483647.",
          f"{_VALIDATION}: validatePodSpecSecurityContext, ValidateSecurityContext", _id_out_of_range),
    _Rule("kubelet/appArmorUnavailable", "AppArmor required on a node without it",
          "A pod with a non-Unconfined AppArmor field or a non-unconfined AppArmor annotation "
          "needs AppArmor on the node: without it the kubelet holds the pod Pending (< 1.31) or "
          "rejects it as Failed (>= 1.31).",
          "pkg/security/apparmor/helpers.go: isRequired", _apparmor_unavailable),
    _Rule("kubelet/sysctlNotAllowlisted", "Sysctl the kubelet does not allow",
          "A sysctl outside the kubelet's safe list for the version (and the node's kernel) is "
          "rejected (SysctlForbidden) unless the node allows it with --allowed-unsafe-sysctls.",
          "pkg/kubelet/sysctl/safe_sysctls.go: SafeSysctlAllowlist", _sysctl_not_allowlisted),
    _Rule("kubelet/hostNamespaceSysctl", "Namespaced sysctl in a host namespace (kubelet)",
          "Before 1.29 the API server accepts a net.* sysctl with hostNetwork (an IPC sysctl "
          "with hostIPC) and the kubelet rejects every pod (SysctlForbidden).",
          "pkg/kubelet/sysctl/allowlist.go: validateSysctl", _host_namespace_sysctl_kubelet),
    _Rule("kubelet/unprivilegedPortSysctlKernel", "ip_unprivileged_port_start on an old kernel",
          "net.ipv4.ip_unprivileged_port_start exists from Linux 4.11; on older kernels the pod "
          "sandbox cannot be created.",
          "pkg/kubelet/sysctl/safe_sysctls.go: safeSysctls", _port_sysctl_kernel),
    _Rule("kubelet/windowsSysctl", "Sysctl on a pod that may run on Windows",
          "The Windows kubelet has no safe sysctls and rejects any pod that sets one.",
          "pkg/kubelet/sysctl/safe_sysctls.go: SafeSysctlAllowlist", _windows_sysctl),
    _Rule("kubelet/runAsNonRootUid0", "runAsNonRoot with runAsUser 0",
          "runAsNonRoot: true with an effective runAsUser of 0: the container is never created "
          "(CreateContainerConfigError).",
          _NON_ROOT_LINUX, _run_as_non_root_uid0),
    _Rule("kubelet/runAsNonRootImageUser", "runAsNonRoot without runAsUser",
          "runAsNonRoot: true without runAsUser leaves it to the image: a missing, root or "
          "non-numeric USER stops the container (warning).",
          _NON_ROOT_LINUX, _run_as_non_root_image_user),
    _Rule("kubelet/runAsNonRootWindowsAdmin", "runAsNonRoot as ContainerAdministrator",
          "On Windows, runAsNonRoot: true with windowsOptions.runAsUserName ContainerAdministrator "
          "stops the container (CreateContainerConfigError).",
          _WINDOWS_KUBELET, _run_as_non_root_windows_admin),
    _Rule("kubelet/runAsNonRootWindowsImageUser", "runAsNonRoot without runAsUserName on Windows",
          "On Windows, runAsNonRoot: true without runAsUserName leaves it to the image; "
          "servercore/IIS images run as ContainerAdministrator (warning).",
          _WINDOWS_KUBELET, _run_as_non_root_windows_image_user),
    _Rule("runtime/capabilitiesNonRoot", "Added capabilities on a non-root container",
          "Kubernetes sets no ambient capabilities: capabilities added to a non-root container "
          "(other than NET_BIND_SERVICE, see runtime/privilegedPortNonRoot) never reach its "
          "process; with allowPrivilegeEscalation: false not even through file capabilities.",
          _NO_AMBIENT, _capabilities_non_root),
    _Rule("runtime/privilegedPortNonRoot", "Privileged port on a non-root container",
          "A non-root container cannot bind a containerPort below 1024 unless the pod sets "
          "net.ipv4.ip_unprivileged_port_start at or below it (impossible with hostNetwork); "
          "NET_BIND_SERVICE does not reach a non-root process.",
          _NO_AMBIENT, _privileged_port_non_root),
    _Rule("runtime/rootWithoutChown", "Root without CHOWN for a chown job",
          "A root container that drops CHOWN, DAC_OVERRIDE or FOWNER (or ALL) without adding "
          "them back cannot run the chown/chmod its command or args call for.",
          _NO_AMBIENT, _root_without_chown),
    _Rule("runtime/capabilitySpelling", "Capability name with CAP_ prefix or in lower case",
          "Capability names are upper case without CAP_: containerd prefixes CAP_ again, and Pod "
          "Security Admission and PodSecurityPolicy compare exact names (error in add, warning in "
          "drop).",
          "containerd internal/cri/opts/spec_opts.go: WithCapabilities", _capability_spelling),
)

#: rule id -> (title, description), for reports and SARIF help.
RULES: dict[str, tuple[str, str]] = {r.id: (r.title, r.description) for r in _REGISTRY}
#: The structural rule of hardener.kube.shape, reported per problem by the audit.
MALFORMED = "api/malformed"
RULES[MALFORMED] = (
    "Malformed workload",
    "The API server cannot decode the workload (no apiVersion; metadata, securityContext, "
    "volumes, a container list or a container of the wrong JSON type) or rejects it for any "
    "pod (a built-in kind without containers, a container without a name). It is "
    "not hardened and no Pod Security level is claimed for it.")


def check(template: Any, kube: Version, node: NodeFeatures = NodeFeatures()) -> list[Finding]:
    """Everything that would go wrong with `template` at Kubernetes `kube` on `node`, in rule
    order. Never raises on malformed pod data."""
    p = _Pod(template, kube, node)
    return [Finding(r.id, h.severity, h.container, h.path, h.message, r.source)
            for r in _REGISTRY for h in r.check(p)]
