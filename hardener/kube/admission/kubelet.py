"""``kubelet/...`` rules: what the kubelet refuses at pod admission or container creation.
A problem the API server already rejects at the target version is not reported again here.
"""

from __future__ import annotations

from typing import Iterator

from ..kubelet import PORT_SYSCTL, PORT_SYSCTL_KERNEL, kubelet_allowlist
from ..nodes import WINDOWS_ROOT_USER
from ..podspec import integer, mapping
from ..pointer import field_path
from ..versions import APPARMOR_FIELD, APPARMOR_HARD_REJECT, HOST_SYSCTL_API, POD_OS, Version, fmt
from .view import (
    Container, Hit, Rule, TemplateView, annotation_path, apparmor_annotations, effective, flag,
    profiles, shared_host_namespace, sysctl_path, text,
)


def _apparmor_required(p: TemplateView) -> tuple[str | None, str, str] | None:
    """(container, pointer, what) of what makes AppArmor required (helpers.go, isRequired):
    a non-Unconfined field (pod, then containers; from 1.30), else a container annotation
    other than `unconfined` (upstream stops at the first annotation in map order)."""
    if p.kube >= APPARMOR_FIELD:
        for name, path, profile in profiles(p, "appArmorProfile"):
            if profile.get("type") != "Unconfined":
                return name, f"{path}/type", field_path(f"{path}/type")
    for key, name, value in apparmor_annotations(p):
        if value != "unconfined":
            return name, annotation_path(key), f"annotation {key}={value!r}"
    return None


def _apparmor_outcome(kube: Version) -> str:
    if kube >= APPARMOR_HARD_REJECT:
        return (f"the kubelet rejects the pod (Failed, reason AppArmor: Cannot enforce AppArmor: AppArmor is "
                f"not enabled on the host; Kubernetes >= {fmt(APPARMOR_HARD_REJECT)})")
    return (f"the kubelet holds the pod Pending with containers Waiting/Blocked (reason AppArmor; soft "
            f"admission, Kubernetes < {fmt(APPARMOR_HARD_REJECT)})")


def _apparmor_unavailable(p: TemplateView) -> Iterator[Hit]:
    """isRequired + the AppArmor admit handler, on a Linux node without AppArmor."""
    if p.node.apparmor or not p.linux:
        return
    required = _apparmor_required(p)
    if required:
        name, path, what = required
        yield Hit(name, path, f"{what} requires AppArmor, which the node does not have: {_apparmor_outcome(p.kube)}")


def _sysctl_not_allowlisted(p: TemplateView) -> Iterator[Hit]:
    """SafeSysctlAllowlist at the version (getSafeSysctlAllowlist drops a sysctl on a kernel
    older than it needs; a node without ip_unprivileged_port_start runs a kernel < 4.11)."""
    if not p.linux:
        return
    allowed = kubelet_allowlist(p.kube)
    unless = "unless the node's kubelet lists it in --allowed-unsafe-sysctls"
    for i, name in p.sysctls:
        if name not in allowed:
            yield Hit(None, sysctl_path(i),
                       f"sysctl {name} is not a safe sysctl of the {fmt(p.kube)} kubelet: it rejects the pod "
                       f"(Failed, SysctlForbidden: not allowlisted) {unless}")
        elif allowed[name] and allowed[name] >= PORT_SYSCTL_KERNEL and not p.node.unprivileged_port_sysctl:
            yield Hit(None, sysctl_path(i),
                       f"sysctl {name} needs Linux >= {fmt(allowed[name])} and the node's kernel is older than "
                       f"{fmt(PORT_SYSCTL_KERNEL)}: the kubelet drops it from its safe list and rejects the pod "
                       f"(Failed, SysctlForbidden) {unless}")


def _host_namespace_sysctl_kubelet(p: TemplateView) -> Iterator[Hit]:
    """allowlist.go validateSysctl: "%q not allowed with host %s enabled" (before 1.29; from
    then on the API server rejects the pod first)."""
    if p.kube >= HOST_SYSCTL_API or not p.linux:
        return
    for i, name in p.sysctls:
        shared = shared_host_namespace(p, name)
        if shared:
            yield Hit(None, sysctl_path(i),
                       f"sysctl {name} not allowed with {shared}: true: the kubelet rejects the pod (Failed, "
                       f"SysctlForbidden) and a controller keeps recreating it; the API server rejects it from "
                       f"{fmt(HOST_SYSCTL_API)}")


def _port_sysctl_kernel(p: TemplateView) -> Iterator[Hit]:
    """safeSysctls lists ip_unprivileged_port_start without a kernel gate; it exists from
    Linux 4.11 only, and setting it in the sandbox fails on older kernels."""
    if p.node.unprivileged_port_sysctl or not p.linux:
        return
    for i, name in p.sysctls:
        if name == PORT_SYSCTL:
            yield Hit(None, sysctl_path(i),
                       f"sysctl {name} does not exist on the node's kernel (< {fmt(PORT_SYSCTL_KERNEL)}): pod "
                       f"sandbox creation fails (open /proc/sys/net/ipv4/ip_unprivileged_port_start: no such "
                       f"file or directory) and the pod never starts")


def _windows_sysctl(p: TemplateView) -> Iterator[Hit]:
    """SafeSysctlAllowlist returns nil off Linux: a Windows kubelet allows no sysctl. Not
    reported where validateWindows already rejects the pod."""
    if not p.windows or (p.os_name == "windows" and p.kube >= POD_OS):
        return
    for i, name in p.sysctls:
        yield Hit(None, sysctl_path(i),
                   f"sysctl {name} on a pod that may run on Windows: the Windows kubelet has no safe sysctls "
                   f"and rejects the pod (Failed, SysctlForbidden: not allowlisted)")


def _non_root_required(p: TemplateView) -> Iterator[tuple[Container, str]]:
    """(container, pointer of runAsNonRoot) for every container whose effective runAsNonRoot
    is true (verifyRunAsNonRoot does nothing otherwise)."""
    for c in p.containers:
        value, path = effective(p, c, "runAsNonRoot", flag)
        if value is True:
            yield c, path


def _run_as_non_root_uid0(p: TemplateView) -> Iterator[Hit]:
    """security_context_others.go, verifyRunAsNonRoot: runAsUser 0 breaks the policy."""
    if not p.linux:
        return
    for c, _ in _non_root_required(p):
        uid, path = effective(p, c, "runAsUser", integer)
        if uid == 0:
            yield Hit(c.name, path,
                       f"{field_path(path)} 0 with runAsNonRoot: true: the kubelet refuses to create container "
                       f"{c.name!r} (CreateContainerConfigError: container's runAsUser breaks non-root policy)")


def _run_as_non_root_image_user(p: TemplateView) -> Iterator[Hit]:
    """verifyRunAsNonRoot without runAsUser: the image's USER decides."""
    if not p.linux:
        return
    for c, path in _non_root_required(p):
        if effective(p, c, "runAsUser", integer)[0] is None:
            yield Hit(c.name, path,
                       f"{field_path(path)} true without runAsUser: image user unknown; the kubelet starts "
                       f"container {c.name!r} only if the image's USER is numeric and non-zero (a missing, "
                       f"root or named USER gives CreateContainerConfigError)", "warning")


def _run_as_user_name(p: TemplateView, c: Container) -> tuple[str | None, str]:
    """The effective windowsOptions.runAsUserName (merged field by field) and its pointer."""
    for base, sc in ((f"{c.path}/securityContext", c.sc), ("/spec/securityContext", p.psc)):
        value = text(mapping(sc.get("windowsOptions")).get("runAsUserName"))
        if value is not None:
            return value, f"{base}/windowsOptions/runAsUserName"
    return None, ""


def _run_as_non_root_windows_admin(p: TemplateView) -> Iterator[Hit]:
    """security_context_windows.go, verifyRunAsNonRoot: ContainerAdministrator is root."""
    if not p.windows:
        return
    for c, _ in _non_root_required(p):
        user, path = _run_as_user_name(p, c)
        if user == WINDOWS_ROOT_USER:
            yield Hit(c.name, path,
                       f"{field_path(path)} {WINDOWS_ROOT_USER} with runAsNonRoot: true: the Windows kubelet "
                       f"refuses to create container {c.name!r} (CreateContainerConfigError: regarded as root "
                       f"identity)")


def _run_as_non_root_windows_image_user(p: TemplateView) -> Iterator[Hit]:
    """verifyRunAsNonRoot on Windows without runAsUserName: the image's user decides."""
    if not p.windows:
        return
    for c, path in _non_root_required(p):
        if _run_as_user_name(p, c)[0] is None:
            yield Hit(c.name, path,
                       f"{field_path(path)} true without windowsOptions.runAsUserName: on Windows the image user "
                       f"decides, and servercore/IIS images run as {WINDOWS_ROOT_USER} "
                       f"(CreateContainerConfigError)", "warning")


_NON_ROOT_LINUX = "pkg/kubelet/kuberuntime/security_context_others.go: verifyRunAsNonRoot"


_WINDOWS_KUBELET = "pkg/kubelet/kuberuntime/security_context_windows.go: verifyRunAsNonRoot"


#: this group's rules, in report order
RULES = (
    Rule("kubelet/appArmorUnavailable", "AppArmor required on a node without it",
         "A pod with a non-Unconfined AppArmor field or a non-unconfined AppArmor annotation "
         "needs AppArmor on the node: without it the kubelet holds the pod Pending (< 1.31) or "
         "rejects it as Failed (>= 1.31).",
         "pkg/security/apparmor/helpers.go: isRequired", _apparmor_unavailable),
    Rule("kubelet/sysctlNotAllowlisted", "Sysctl the kubelet does not allow",
         "A sysctl outside the kubelet's safe list for the version (and the node's kernel) is "
         "rejected (SysctlForbidden) unless the node allows it with --allowed-unsafe-sysctls.",
         "pkg/kubelet/sysctl/safe_sysctls.go: SafeSysctlAllowlist", _sysctl_not_allowlisted),
    Rule("kubelet/hostNamespaceSysctl", "Namespaced sysctl in a host namespace (kubelet)",
         "Before 1.29 the API server accepts a net.* sysctl with hostNetwork (an IPC sysctl "
         "with hostIPC) and the kubelet rejects every pod (SysctlForbidden).",
         "pkg/kubelet/sysctl/allowlist.go: validateSysctl", _host_namespace_sysctl_kubelet),
    Rule("kubelet/unprivilegedPortSysctlKernel", "ip_unprivileged_port_start on an old kernel",
         "net.ipv4.ip_unprivileged_port_start exists from Linux 4.11; on older kernels the pod "
         "sandbox cannot be created.",
         "pkg/kubelet/sysctl/safe_sysctls.go: safeSysctls", _port_sysctl_kernel),
    Rule("kubelet/windowsSysctl", "Sysctl on a pod that may run on Windows",
         "The Windows kubelet has no safe sysctls and rejects any pod that sets one.",
         "pkg/kubelet/sysctl/safe_sysctls.go: SafeSysctlAllowlist", _windows_sysctl),
    Rule("kubelet/runAsNonRootUid0", "runAsNonRoot with runAsUser 0",
         "runAsNonRoot: true with an effective runAsUser of 0: the container is never created "
         "(CreateContainerConfigError).",
         _NON_ROOT_LINUX, _run_as_non_root_uid0),
    Rule("kubelet/runAsNonRootImageUser", "runAsNonRoot without runAsUser",
         "runAsNonRoot: true without runAsUser leaves it to the image: a missing, root or "
         "non-numeric USER stops the container (warning).",
         _NON_ROOT_LINUX, _run_as_non_root_image_user),
    Rule("kubelet/runAsNonRootWindowsAdmin", "runAsNonRoot as ContainerAdministrator",
         "On Windows, runAsNonRoot: true with windowsOptions.runAsUserName ContainerAdministrator "
         "stops the container (CreateContainerConfigError).",
         _WINDOWS_KUBELET, _run_as_non_root_windows_admin),
    Rule("kubelet/runAsNonRootWindowsImageUser", "runAsNonRoot without runAsUserName on Windows",
         "On Windows, runAsNonRoot: true without runAsUserName leaves it to the image; "
         "servercore/IIS images run as ContainerAdministrator (warning).",
         _WINDOWS_KUBELET, _run_as_non_root_windows_image_user),
)
