"""Image references, normalised as docker does: `nginx` is docker.io/library/nginx:latest,
the first component is a registry host when it holds a `.` or a `:` or is `localhost`,
and a digest (`@sha256:...`) wins over a tag."""

from __future__ import annotations

import re

from ..record import Record

DOCKER_HUB = "docker.io"
#: docker.io's distribution API lives on another host.
DOCKER_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Reference(Record):
    """A normalised image reference: `registry` (docker.io for Docker Hub), `repository`
    (library/nginx), `tag` (None with a digest alone) and `digest`."""

    __slots__ = _fields = ("registry", "repository", "tag", "digest")

    def __init__(self, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
        self.registry, self.repository, self.tag, self.digest = registry, repository, tag, digest

    @property
    def api_host(self) -> str:
        """The host (and port) the distribution API is served on."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def manifest(self) -> str:
        """What to ask the manifest endpoint for: the digest when there is one."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return (f"{self.registry}/{self.repository}" + (f":{self.tag}" if self.tag else "")
                + (f"@{self.digest}" if self.digest else ""))


def parse(text: str) -> Reference:
    """Parse and normalise; ValueError says what is wrong."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise ValueError("empty, or surrounded by spaces")
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"digest {digest!r} is not sha256:<64 hex digits>")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"tag {tag!r} is not a valid tag")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise ValueError(f"repository {path!r} is not a valid name (lowercase letters, digits, "
                         "separators)")
    if not re.fullmatch(r"[A-Za-z0-9.-]+(?::[0-9]+)?", registry):
        raise ValueError(f"registry {registry!r} is not a host[:port]")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, path, tag, digest)
