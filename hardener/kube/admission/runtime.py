"""``runtime/...`` rules: what does not work once the container runs (Linux semantics).
"""

from __future__ import annotations

import re
from typing import Iterator

from ..kubelet import PORT_SYSCTL
from ..podspec import cap_name, integer, mapping, sequence
from ..pointer import field_path
from .view import Container, Hit, Rule, TemplateView, caps, effective, flag, no_new_privs, text


_OWNER_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER")


_OWNER_TOOLS = re.compile(r"(?<![\w.-])(chown|chmod)(?![\w.-])")


_DIGITS = re.compile(r"[0-9]{1,6}")


def _cap_set(sc: dict, key: str) -> set[str]:
    return {cap_name(cap) for _, cap in caps(sc, key)}


def _runs_as_non_root(p: TemplateView, c: Container) -> bool:
    """Effective uid non-zero: an explicit runAsUser != 0, or runAsNonRoot true."""
    uid, _ = effective(p, c, "runAsUser", integer)
    if uid is not None:
        return uid != 0
    return effective(p, c, "runAsNonRoot", flag)[0] is True


def _capabilities_non_root(p: TemplateView) -> Iterator[Hit]:
    """No ambient capabilities (kubernetes/kubernetes#56374): what capabilities.add grants is
    lost at execve of a non-root process, unless its binary has file capabilities, which
    allowPrivilegeEscalation: false (no_new_privs) turns off too."""
    if not p.linux:
        return
    for c in p.containers:
        extra = [cap for _, cap in caps(c.sc, "add") if cap_name(cap) != "NET_BIND_SERVICE"]
        if not extra or not _runs_as_non_root(p, c):
            continue
        path = f"{c.path}/securityContext/capabilities/add"
        if no_new_privs(c):
            yield Hit(c.name, path, f"{field_path(path)} {extra} never take effect: the container runs as "
                                     f"non-root, Kubernetes sets no ambient capabilities and "
                                     f"allowPrivilegeEscalation: false turns file capabilities off")
        else:
            yield Hit(c.name, path, f"{field_path(path)} {extra} never reach the non-root process (no ambient "
                                     f"capabilities) unless its binary carries them as file capabilities",
                       "warning")


def _unprivileged_port_start(p: TemplateView) -> int | None:
    for s in sequence(p.psc.get("sysctls")):
        s = mapping(s)
        value = text(s.get("value"))
        if s.get("name") == PORT_SYSCTL and value is not None and _DIGITS.fullmatch(value.strip()):
            return int(value)
    return None


def _low_port_blocker(p: TemplateView, port: int) -> str | None:
    """Why a non-root process cannot bind `port` (< 1024), or None when the sysctl allows it."""
    if p.spec.get("hostNetwork") is True:
        return ("hostNetwork: true applies the host's net.ipv4.ip_unprivileged_port_start (1024 by default), "
                "which no pod sysctl can change")
    start = _unprivileged_port_start(p)
    if start is None:
        return "net.ipv4.ip_unprivileged_port_start is not set (1024 by default)"
    return f"net.ipv4.ip_unprivileged_port_start is {start}" if start > port else None


def _file_caps_can_bind(c: Container) -> bool:
    """A binary with the file capability could still bind: no no_new_privs, and
    NET_BIND_SERVICE left in the bounding set."""
    kept = "NET_BIND_SERVICE" in _cap_set(c.sc, "add") or not {"ALL", "NET_BIND_SERVICE"} & _cap_set(c.sc, "drop")
    return kept and not no_new_privs(c)


def _privileged_port_non_root(p: TemplateView) -> Iterator[Hit]:
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
                    yield Hit(c.name, path, f"{field_path(path)} {number} is privileged and the container runs "
                                             f"as non-root; {blocker}: bind() fails with EACCES unless the binary "
                                             f"has the file capability cap_net_bind_service", "warning")
                else:
                    yield Hit(c.name, path, f"{field_path(path)} {number} is privileged and the container runs "
                                             f"as non-root; {blocker}, and NET_BIND_SERVICE cannot reach the "
                                             f"process: bind() fails with EACCES")


def _ownership_tools(c: Container) -> list[str]:
    """chown / chmod named in command or args (a shell script in them included)."""
    words = [w for key in ("command", "args") for w in sequence(c.body.get(key)) if isinstance(w, str)]
    return sorted({m.group(1) for w in words for m in _OWNER_TOOLS.finditer(w)})


def _root_without_chown(p: TemplateView) -> Iterator[Hit]:
    """Root whose CHOWN, DAC_OVERRIDE or FOWNER is dropped (ALL or by name, not added back)
    while it runs chown/chmod: root without CHOWN for a chown job."""
    if not p.linux:
        return
    for c in p.containers:
        if effective(p, c, "runAsUser", integer)[0] != 0:
            continue
        dropped, added = _cap_set(c.sc, "drop"), _cap_set(c.sc, "add")
        lost = [cap for cap in _OWNER_CAPS if {cap, "ALL"} & dropped and cap not in added]
        tools = _ownership_tools(c)
        if lost and tools:
            path = f"{c.path}/securityContext/capabilities/drop"
            yield Hit(c.name, path, f"{field_path(path)} takes {', '.join(lost)} from root, and container "
                                     f"{c.name!r} runs {'/'.join(tools)}: it fails with EPERM (root without "
                                     f"CHOWN for a chown job); add them back in capabilities.add")


def _capability_spelling(p: TemplateView) -> Iterator[Hit]:
    """containerd prefixes every name with CAP_ (CAP_CAP_X is unknown and ignored); Pod
    Security Admission and PodSecurityPolicy compare exact, upper-case names."""
    if not p.linux:
        return
    for c in p.containers:
        for key in ("add", "drop"):
            for j, cap in caps(c.sc, key):
                if cap_name(cap) == cap:
                    continue
                path = f"{c.path}/securityContext/capabilities/{key}/{j}"
                yield Hit(c.name, path, f"{field_path(path)} {cap!r} should be spelled {cap_name(cap)!r}: "
                                         f"{_misspelling_effect(cap, key)}", "error" if key == "add" else "warning")


def _misspelling_effect(cap: str, key: str) -> str:
    if cap.upper().startswith("CAP_"):
        return (f"containerd turns it into CAP_{cap.upper()}, which is unknown, so it is not "
                f"{'granted' if key == 'add' else 'dropped'}")
    return "Pod Security Admission and PodSecurityPolicy compare exact names"


_NO_AMBIENT = "pkg/kubelet/kuberuntime/security_context.go: convertToRuntimeCapabilities"


#: this group's rules, in report order
RULES = (
    Rule("runtime/capabilitiesNonRoot", "Added capabilities on a non-root container",
         "Kubernetes sets no ambient capabilities: capabilities added to a non-root container "
         "(other than NET_BIND_SERVICE, see runtime/privilegedPortNonRoot) never reach its "
         "process; with allowPrivilegeEscalation: false not even through file capabilities.",
         _NO_AMBIENT, _capabilities_non_root),
    Rule("runtime/privilegedPortNonRoot", "Privileged port on a non-root container",
         "A non-root container cannot bind a containerPort below 1024 unless the pod sets "
         "net.ipv4.ip_unprivileged_port_start at or below it (impossible with hostNetwork); "
         "NET_BIND_SERVICE does not reach a non-root process.",
         _NO_AMBIENT, _privileged_port_non_root),
    Rule("runtime/rootWithoutChown", "Root without CHOWN for a chown job",
         "A root container that drops CHOWN, DAC_OVERRIDE or FOWNER (or ALL) without adding "
         "them back cannot run the chown/chmod its command or args call for.",
         _NO_AMBIENT, _root_without_chown),
    Rule("runtime/capabilitySpelling", "Capability name with CAP_ prefix or in lower case",
         "Capability names are upper case without CAP_: containerd prefixes CAP_ again, and Pod "
         "Security Admission and PodSecurityPolicy compare exact names (error in add, warning in "
         "drop).",
         "containerd internal/cri/opts/spec_opts.go: WithCapabilities", _capability_spelling),
)
