"""``api/...`` rules: what the API server rejects (pkg/apis/core/validation/validation.go).
Pods and the templates of ValidatePodTemplateSpec are treated alike; a StatefulSet's
template is accepted and each of its Pods rejected instead.
"""

from __future__ import annotations

from typing import Iterator

from .. import names
from ..nodes import linux_only_fields
from ..podspec import integer
from ..pointer import field_path
from ..versions import APPARMOR_FIELD, HOST_SYSCTL_API, POD_OS, SECCOMP_FIELD, Version, fmt
from .view import (
    Hit, Rule, TemplateView, annotation_path, apparmor_annotations, caps, contexts, no_new_privs,
    profiles, shared_host_namespace, sysctl_path, text,
)


#: validation.IsValidUserID / IsValidGroupID: 0..math.MaxInt32.
MAX_ID = 2147483647


_LOCALHOST = "localhost/"


_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")


_VALIDATION = "pkg/apis/core/validation/validation.go"


#: Go's unicode.IsSpace (what strings.TrimSpace trims); Python's str.strip also trims \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009" \
            "\u200a\u2028\u2029\u202f\u205f\u3000"


def _rejected(since: Version | None = None) -> str:
    return "the API server rejects the pod" + (f" (Kubernetes >= {fmt(since)})" if since else "")


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


def _seccomp_annotation_mismatch(p: TemplateView) -> Iterator[Hit]:
    """validateSeccompAnnotationsAndFieldsMatch: a pod field against the pod annotation, a
    container's own field against its container annotation (no cross-level comparison)."""
    if p.kube < SECCOMP_FIELD:
        return
    for name, path, profile in profiles(p, "seccompProfile"):
        key = names.SECCOMP_POD if name is None else names.SECCOMP_CONTAINER_PREFIX + name
        annotation = p.annotations.get(key)
        if annotation is None:
            continue
        wrong = _mismatch(annotation, profile, ("runtime/default", "docker/default"))
        if wrong:
            yield Hit(name, f"{path}/{wrong}",
                       f"{field_path(path)} {profile.get('type')} and annotation {key}={annotation!r} disagree "
                       f"(seccomp {'type' if wrong == 'type' else 'profile'} in annotation and field must match): "
                       f"{_rejected(SECCOMP_FIELD)}")


def _apparmor_annotation_mismatch(p: TemplateView) -> Iterator[Hit]:
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
            yield Hit(c.name, f"{path}/{wrong}",
                       f"{field_path(path)} {profile.get('type')} (effective for container {c.name!r}) and annotation "
                       f"{key}={annotation!r} disagree (apparmor {'type' if wrong == 'type' else 'profile'} "
                       f"in annotation and field must match): {_rejected(APPARMOR_FIELD)}")


def _seccomp_field_problems(profile: dict) -> Iterator[tuple[str, str]]:
    """(sub-field, problem): validateSeccompProfileField and validateSeccompProfileType."""
    kind = text(profile.get("type")) or ""
    local = text(profile.get("localhostProfile"))
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


def _seccomp_field(p: TemplateView) -> Iterator[Hit]:
    if p.kube < SECCOMP_FIELD:
        return
    for name, path, profile in profiles(p, "seccompProfile"):
        for sub, problem in _seccomp_field_problems(profile):
            yield Hit(name, f"{path}/{sub}", f"{field_path(path)}.{sub} {problem}: {_rejected(SECCOMP_FIELD)}")


def _seccomp_annotation_problems(value: str) -> list[str]:
    """ValidateSeccompProfile."""
    if value in ("runtime/default", "docker/default", "unconfined"):
        return []
    if value.startswith(_LOCALHOST):
        return _descending_path(value[len(_LOCALHOST):])
    return ["must be a valid seccomp profile"]


def _seccomp_annotation(p: TemplateView) -> Iterator[Hit]:
    """ValidateSeccompPodAnnotations: the pod key and every container key (whose container
    need not exist)."""
    prefix = names.SECCOMP_CONTAINER_PREFIX
    for key, value in p.annotations.items():
        if key != names.SECCOMP_POD and not key.startswith(prefix):
            continue
        for problem in _seccomp_annotation_problems(value):
            yield Hit(key[len(prefix):] if key.startswith(prefix) else None, annotation_path(key),
                       f"annotation {key}={value!r} {problem}: {_rejected()}")


def _apparmor_field_problems(profile: dict) -> Iterator[tuple[str, str]]:
    """(sub-field, problem): ValidateAppArmorProfileField."""
    kind = text(profile.get("type")) or ""
    local = text(profile.get("localhostProfile"))
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


def _apparmor_field(p: TemplateView) -> Iterator[Hit]:
    if p.kube < APPARMOR_FIELD:
        return
    for name, path, profile in profiles(p, "appArmorProfile"):
        for sub, problem in _apparmor_field_problems(profile):
            yield Hit(name, f"{path}/{sub}", f"{field_path(path)}.{sub} {problem}: {_rejected(APPARMOR_FIELD)}")


def _apparmor_annotation(p: TemplateView) -> Iterator[Hit]:
    """ValidateAppArmorProfileFormat: "", runtime/default, unconfined or localhost/<name>."""
    for key, name, value in apparmor_annotations(p):
        if value not in ("", "runtime/default", "unconfined") and not value.startswith(_LOCALHOST):
            yield Hit(name, annotation_path(key),
                       f"annotation {key}: invalid AppArmor profile name {value!r} (runtime/default, "
                       f"unconfined or localhost/<profile>): {_rejected()}")


def _apparmor_annotation_container(p: TemplateView) -> Iterator[Hit]:
    """ValidateAppArmorPodAnnotations: the annotation must name a container of the pod."""
    known = {c.name for c in p.containers}
    for key, name, _ in apparmor_annotations(p):
        if name not in known:
            yield Hit(name, annotation_path(key),
                       f"annotation {key}: container {name!r} not found in the pod: {_rejected()}")


def _privilege_escalation(p: TemplateView) -> Iterator[Hit]:
    """ValidateSecurityContext: allowPrivilegeEscalation false next to privileged true, or
    next to the literal `CAP_SYS_ADMIN` in capabilities.add (`SYS_ADMIN` is not compared)."""
    for c in p.containers:
        if not no_new_privs(c):
            continue
        path = f"{c.path}/securityContext/allowPrivilegeEscalation"
        if c.sc.get("privileged") is True:
            yield Hit(c.name, path, f"{field_path(path)}: cannot set `allowPrivilegeEscalation` to false and "
                                     f"`privileged` to true: {_rejected()}")
        if any(cap == "CAP_SYS_ADMIN" for _, cap in caps(c.sc, "add")):
            yield Hit(c.name, path, f"{field_path(path)}: cannot set `allowPrivilegeEscalation` to false and "
                                     f"`capabilities.Add` CAP_SYS_ADMIN: {_rejected()}")


#: Linux-only fields validateWindows checks that came after spec.os itself.
_FIELD_SINCE = {"appArmorProfile": APPARMOR_FIELD}


def _windows_linux_field(p: TemplateView) -> Iterator[Hit]:
    """validateWindows: no Linux-only field on a `spec.os.name: windows` pod."""
    if p.os_name != "windows" or p.kube < POD_OS:
        return
    for name, path in linux_only_fields(p.spec):
        if p.kube >= _FIELD_SINCE.get(path.rsplit("/", 1)[1], POD_OS):
            yield Hit(name, path, f"{field_path(path)} cannot be set for a windows pod (spec.os.name: windows): "
                                   f"{_rejected(POD_OS)}")


def _linux_windows_options(p: TemplateView) -> Iterator[Hit]:
    """validateLinux: no windowsOptions on a `spec.os.name: linux` pod."""
    if p.os_name != "linux" or p.kube < POD_OS:
        return
    for name, base, sc in contexts(p):
        if isinstance(sc.get("windowsOptions"), dict):
            path = f"{base}/windowsOptions"
            yield Hit(name, path, f"{field_path(path)}: windows options cannot be set for a linux pod "
                                   f"(spec.os.name: linux): {_rejected(POD_OS)}")


def _host_namespace_sysctl_api(p: TemplateView) -> Iterator[Hit]:
    """ValidateHostSysctl (from 1.29)."""
    if p.kube < HOST_SYSCTL_API:
        return
    for i, name in p.sysctls:
        shared = shared_host_namespace(p, name)
        if shared:
            yield Hit(None, sysctl_path(i), f"sysctl {name} may not be specified when '{shared}' is true: "
                                              f"{_rejected(HOST_SYSCTL_API)}")


def _proc_mount_unmasked(p: TemplateView) -> Iterator[Hit]:
    """ValidateSecurityContext: procMount Unmasked needs a user namespace (hostUsers: false)."""
    if p.spec.get("hostUsers") is False:
        return
    for c in p.containers:
        if c.sc.get("procMount") == "Unmasked":
            path = f"{c.path}/securityContext/procMount"
            yield Hit(c.name, path, f"{field_path(path)} Unmasked: `hostUsers` must be false to use `Unmasked`: "
                                     f"{_rejected()}")


def _id_out_of_range(p: TemplateView) -> Iterator[Hit]:
    """validatePodSpecSecurityContext / ValidateSecurityContext: IsValidUserID, IsValidGroupID."""
    for name, base, sc in contexts(p):
        for field in ("runAsUser", "runAsGroup"):
            value = integer(sc.get(field))
            if value is not None and not 0 <= value <= MAX_ID:
                path = f"{base}/{field}"
                yield Hit(name, path, f"{field_path(path)} {value} must be between 0 and {MAX_ID}, inclusive: "
                                       f"{_rejected()}")


#: this group's rules, in report order
RULES = (
    Rule("api/seccompAnnotationMismatch", "Seccomp annotation and field disagree",
         "A seccompProfile field and the seccomp annotation of the same level (pod, or the "
         "container's own) must say the same: RuntimeDefault is runtime/default or "
         "docker/default, Localhost X is localhost/X.",
         f"{_VALIDATION}: validateSeccompAnnotationsAndFieldsMatch", _seccomp_annotation_mismatch),
    Rule("api/appArmorAnnotationMismatch", "AppArmor annotation and field disagree",
         "From 1.30 a container's AppArmor annotation must match its effective appArmorProfile "
         "(its own, else the pod's); not checked for spec.os.name windows.",
         f"{_VALIDATION}: validateAppArmorAnnotationsAndFieldsMatchOnCreate", _apparmor_annotation_mismatch),
    Rule("api/seccompField", "Invalid seccompProfile",
         "seccompProfile.type is Localhost, RuntimeDefault or Unconfined; localhostProfile is "
         "set exactly for Localhost and is a relative path without a '..' segment.",
         f"{_VALIDATION}: validateSeccompProfileField", _seccomp_field),
    Rule("api/seccompAnnotation", "Invalid seccomp annotation",
         "A seccomp annotation is runtime/default, docker/default, unconfined or "
         "localhost/<relative path without '..'>.",
         f"{_VALIDATION}: ValidateSeccompProfile", _seccomp_annotation),
    Rule("api/appArmorField", "Invalid appArmorProfile",
         "appArmorProfile.type is Localhost, RuntimeDefault or Unconfined; Localhost needs a "
         "non-empty localhostProfile, not padded with whitespace, of at most 4095 bytes; the "
         "other types carry none (from 1.30).",
         f"{_VALIDATION}: ValidateAppArmorProfileField", _apparmor_field),
    Rule("api/appArmorAnnotation", "Invalid AppArmor annotation",
         "An AppArmor annotation is empty, runtime/default, unconfined or localhost/<profile>.",
         f"{_VALIDATION}: ValidateAppArmorProfileFormat", _apparmor_annotation),
    Rule("api/appArmorAnnotationContainer", "AppArmor annotation for a missing container",
         "container.apparmor.security.beta.kubernetes.io/<name> must name a container of the pod.",
         f"{_VALIDATION}: ValidateAppArmorPodAnnotations", _apparmor_annotation_container),
    Rule("api/privilegeEscalation", "allowPrivilegeEscalation false with privileges",
         "allowPrivilegeEscalation: false cannot go with privileged: true, nor with the literal "
         "CAP_SYS_ADMIN in capabilities.add.",
         f"{_VALIDATION}: ValidateSecurityContext", _privilege_escalation),
    Rule("api/windowsLinuxField", "Linux-only field on a Windows pod",
         "A spec.os.name: windows pod sets none of the Linux-only pod and container fields "
         "(from 1.24), not even false or empty values.",
         f"{_VALIDATION}: validateWindows", _windows_linux_field),
    Rule("api/linuxWindowsOptions", "windowsOptions on a Linux pod",
         "A spec.os.name: linux pod sets no windowsOptions, on the pod or a container (from 1.24).",
         f"{_VALIDATION}: validateLinux", _linux_windows_options),
    Rule("api/hostNamespaceSysctl", "Namespaced sysctl in a host namespace",
         "A net.* sysctl cannot go with hostNetwork: true, an IPC sysctl not with hostIPC: true "
         "(from 1.29).",
         f"{_VALIDATION}: ValidateHostSysctl", _host_namespace_sysctl_api),
    Rule("api/procMountUnmasked", "Unmasked procMount without a user namespace",
         "procMount: Unmasked needs hostUsers: false.",
         f"{_VALIDATION}: ValidateSecurityContext", _proc_mount_unmasked),
    Rule("api/idOutOfRange", "User or group id out of range",
         "runAsUser and runAsGroup (pod and containers) are between 0 and 2147483647.",
         f"{_VALIDATION}: validatePodSpecSecurityContext, ValidateSecurityContext", _id_out_of_range),
)
