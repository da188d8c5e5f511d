"""Kubernetes versions: parsing `--kube-version` and the newest version this tool knows."""

from __future__ import annotations

import re

LATEST: tuple[int, int] = (1, 37)
OLDEST: tuple[int, int] = (1, 0)
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:[.+-].*)?$")


def parse_kube_version(value: str | tuple | None) -> tuple[int, int]:
    """`1.30`, `v1.30.2`, `1.30.2+k3s1` or `latest` -> (1, 30). Raises ValueError."""
    if value is None or value == "" or value == "latest":
        return LATEST
    if isinstance(value, tuple):
        return (int(value[0]), int(value[1]))
    m = _VERSION_RE.match(str(value).strip())
    if not m:
        raise ValueError(f"not a Kubernetes version: {value!r} (expected X.Y, e.g. 1.30, or 'latest')")
    return (int(m.group(1)), int(m.group(2)))


def fmt(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
