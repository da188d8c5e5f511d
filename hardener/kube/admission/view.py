"""The pod template as the admission rules read it, and the readers the groups share.

Upstream works on typed Go structs: a field of the wrong JSON type is absent, a list
element that is not an object is skipped, and nothing here raises on pod data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from .. import names
from ..kubelet import sysctl_namespace
from ..nodes import node_os
from ..podspec import containers, mapping, sequence
from ..pointer import join
from ..versions import Version


@dataclass(frozen=True)
class NodeFeatures:
    """What the nodes the pod may land on offer."""

    apparmor: bool = False  # AppArmor is enabled on the Linux nodes
    unprivileged_port_sysctl: bool = True  # kernel >= 4.11: net.ipv4.ip_unprivileged_port_start exists
    windows: bool = False  # the pod may land on a Windows node


class Hit(NamedTuple):
    container: str | None
    path: str
    message: str
    severity: str = "error"


class Container(NamedTuple):
    name: str
    path: str  # /spec/<list>/<i>
    body: dict
    sc: dict  # its securityContext ({} when unset)


class TemplateView:
    """The template as the rules see it."""

    __slots__ = ("annotations", "spec", "psc", "containers", "sysctls", "os_name", "linux", "windows",
                 "kube", "node")

    def __init__(self, template: Any, kube: Version, node: NodeFeatures):
        template = mapping(template)
        meta_annotations = mapping(mapping(template.get("metadata")).get("annotations"))
        self.annotations = {k: v for k, v in meta_annotations.items() if isinstance(k, str) and isinstance(v, str)}
        self.spec = spec = mapping(template.get("spec"))
        self.psc = mapping(spec.get("securityContext"))
        self.containers = [Container(c.get("name") if isinstance(c.get("name"), str) else "",
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


def text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def flag(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def contexts(p: TemplateView) -> Iterator[tuple[str | None, str, dict]]:
    """(container name or None, pointer of the securityContext, securityContext) for the pod
    and then every container, in VisitContainers order."""
    yield None, "/spec/securityContext", p.psc
    for c in p.containers:
        yield c.name, f"{c.path}/securityContext", c.sc


def profiles(p: TemplateView, field: str) -> Iterator[tuple[str | None, str, dict]]:
    """(container or None, pointer of the profile, profile) for each set `field`."""
    for name, base, sc in contexts(p):
        if isinstance(sc.get(field), dict):
            yield name, f"{base}/{field}", sc[field]


def effective(p: TemplateView, c: Container, key: str, read: Callable[[Any], Any]) -> tuple[Any, str]:
    """A container's typed setting, else the pod's, and where it is set
    (pkg/securitycontext/util.go, DetermineEffectiveSecurityContext)."""
    own = read(c.sc.get(key))
    if own is not None:
        return own, f"{c.path}/securityContext/{key}"
    return read(p.psc.get(key)), f"/spec/securityContext/{key}"


def caps(sc: dict, key: str) -> list[tuple[int, str]]:
    """(index, name) of the string entries of capabilities.add or .drop."""
    return [(j, cap) for j, cap in enumerate(sequence(mapping(sc.get("capabilities")).get(key)))
            if isinstance(cap, str)]


def apparmor_annotations(p: TemplateView) -> Iterator[tuple[str, str, str]]:
    """(key, container name, value) of every container AppArmor annotation."""
    prefix = names.APPARMOR_CONTAINER_PREFIX
    for key, value in p.annotations.items():
        if key.startswith(prefix):
            yield key, key[len(prefix):], value


def annotation_path(key: str) -> str:
    return join("/metadata/annotations", key)


def no_new_privs(c: Container) -> bool:
    return c.sc.get("allowPrivilegeEscalation") is False


def shared_host_namespace(p: TemplateView, sysctl: str) -> str | None:
    """"hostNetwork" / "hostIPC" when the sysctl's namespace is the host's."""
    ns = sysctl_namespace(sysctl)
    if ns == "net" and p.spec.get("hostNetwork") is True:
        return "hostNetwork"
    if ns == "ipc" and p.spec.get("hostIPC") is True:
        return "hostIPC"
    return None


def sysctl_path(i: int) -> str:
    return f"/spec/securityContext/sysctls/{i}/name"


class Rule(NamedTuple):
    id: str
    title: str
    description: str
    source: str
    check: Callable[[TemplateView], Iterable[Hit]]
