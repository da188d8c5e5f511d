"""What a check is and what one finds: upstream's policy/registry.go types.

Apart from the registry, so each module of checks/ builds its Check without importing the
list of them."""

from __future__ import annotations

from ..record import FrozenRecord

BASELINE = "baseline"
RESTRICTED = "restricted"


class Violation(FrozenRecord):
    """One failing check: `check` (the stable upstream check id), `level` ("baseline" or
    "restricted": the level of the failing check), `container` (its name, or None for
    pod-level), `path` (a JSON pointer from the pod template root: /spec/..., /metadata/...),
    `value` (the offending value; None when missing), `message` (what is wrong) and `fix`
    (how to fix it, one line)."""

    __slots__ = _fields = ("check", "level", "container", "path", "value", "message", "fix")

    def __init__(self, check: str, level: str, container: str | None, path: str, value: object,
                 message: str, fix: str) -> None:
        self._init(check, level, container, path, value, message, fix)


class Check(FrozenRecord):
    """One upstream check: id, level, title, what the standard asks, and its versions
    (((MinimumVersion, function, OverrideCheckIDs), ...)); unpacks as those five."""

    __slots__ = _fields = ("id", "level", "title", "description", "versions")

    def __init__(self, id: str, level: str, title: str, description: str, versions: tuple) -> None:  # noqa: A002
        self._init(id, level, title, description, versions)

    def __iter__(self):
        return (getattr(self, f) for f in self._fields)
