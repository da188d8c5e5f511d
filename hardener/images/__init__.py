"""Image facts for hardening: what an image's config says about the user it runs as and
the ports it exposes, fetched only when `--images` is not `off`.

This module reads a config (the JSON `crane config` prints) into an :class:`ImageConfig`
and holds no I/O: the registry client (`registry`), the disk cache (`cache`) and the
run's lookup (`lookup`) are imported only by runs that ask for images, so a default run
never pays for urllib, hashlib or threads.
"""

from __future__ import annotations

from typing import Any

from ..record import Record

#: Linux reserves the ports below this one for root (net.ipv4.ip_unprivileged_port_start).
PRIVILEGED_PORTS = 1024
#: The largest uid Kubernetes and every runtime accept as runAsUser.
MAX_UID = 2**31 - 1


class RegistryError(Exception):
    """Why an image's config could not be had from a registry (said in the warning)."""


class ImageConfig(Record):
    """What an image's config says: its `user` (as written), the `ports` below 1024 it
    exposes, its `os`; `digest` of the config blob (None from a folder), and `source`
    (registry, cache or folder)."""

    __slots__ = _fields = ("reference", "user", "ports", "os", "digest", "source")

    def __init__(self, reference: str, user: str, ports: tuple[int, ...] = (), os: str = "linux",
                 digest: str | None = None, source: str = "registry") -> None:
        self.reference, self.user, self.ports, self.os, self.digest, self.source = (
            reference, user, ports, os, digest, source)

    @property
    def windows(self) -> bool:
        return self.os == "windows"


class Failure(Record):
    """An image whose config could not be had, and why (for a warning, or an error with
    --images-required)."""

    __slots__ = _fields = ("reference", "reason")

    def __init__(self, reference: str, reason: str) -> None:
        self.reference, self.reason = reference, reason


class ImageUser(Record):
    """The image's `User` read as a uid: `kind` uid (a non-zero numeric uid, `gid` its group
    when numeric), root (empty, 0, root: the runtime's default) or name (a user name the
    kubelet cannot check, `nginx`, `app:app`)."""

    __slots__ = _fields = ("kind", "uid", "gid", "text")

    def __init__(self, kind: str, uid: int | None, gid: int | None, text: str) -> None:
        self.kind, self.uid, self.gid, self.text = kind, uid, gid, text

    def describe(self) -> str:
        """How the report names a user that is not a non-zero uid: `root (no user set)`,
        `user 'root' (root)`, `user 'nginx' (a name: root or a uid unknown here)`."""
        if not self.text:
            return "root (no user set)"
        return f"user {self.text!r}" + (" (root)" if self.kind == "root" else " (a name: root or a uid unknown here)")


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_UID else None


def parse_user(user: Any) -> ImageUser:
    """`1001` -> uid 1001; `1001:1001` -> uid 1001, gid 1001; `1001:0` -> gid 0 (the caller
    must not set it); `1001:app` -> uid 1001 and no gid; ``, `0`, `root`, `0:1000` -> root;
    anything else (`nginx`, `app:app`, `-1`) -> name. A name may be root in /etc/passwd:
    only a number says who the process is."""
    text = user.strip() if isinstance(user, str) else ""
    name, _, group = text.partition(":")
    if name in ("", "root") or _number(name) == 0:
        return ImageUser("root", 0, None, text)
    uid = _number(name)
    if uid is None:
        return ImageUser("name", None, None, text)
    return ImageUser("uid", uid, _number(group) if group else None, text)


def exposed_low_ports(exposed: Any) -> tuple[int, ...]:
    """The ports below 1024 of a config's `ExposedPorts` (`{"80/tcp": {}, "53/udp": {}}`;
    a range `"100-200/tcp"` counts from its first port), sorted."""
    ports = set()
    for key in exposed if isinstance(exposed, dict) else ():
        first = str(key).partition("/")[0].partition("-")[0].strip()
        if first.isascii() and first.isdigit() and 0 < int(first) < PRIVILEGED_PORTS:
            ports.add(int(first))
    return tuple(sorted(ports))


def from_config(reference: str, data: Any, digest: str | None = None,
                source: str = "registry") -> ImageConfig | Failure:
    """An image config (OCI or Docker: `{"os", "config": {"User", "ExposedPorts"}}`) as
    facts; anything else is a Failure."""
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), (dict, type(None))):
        return Failure(reference, "not an image config (a JSON object with `config`)")
    cfg = data.get("config") or {}
    return ImageConfig(reference, str(cfg.get("User") or ""), exposed_low_ports(cfg.get("ExposedPorts")),
                       str(data.get("os") or "linux"), digest, source)
