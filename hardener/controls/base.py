"""The one shape every hardening control has.

A control is a class with an `id`, a docstring (its documentation), `options` (each with a
default, a validator and a line of documentation), the Pod Security Standards checks it
answers (`pss_checks`), an optional cross-option `validate()`, and a `plan(ctx, opts)`
generator that *yields* changes and skips as data (:mod:`hardener.results`). Controls never
mutate documents: the hardener applies each yielded Change before resuming the control, so
a control always reads the pod template as its earlier changes left it.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Iterator

from ..record import FrozenRecord

CONFLICT_RULES = ("keep", "override", "fail")


class Option(FrozenRecord):
    """A control option: its default, its check (returns what is allowed when the value is
    bad) and its documentation."""

    __slots__ = _fields = ("default", "check", "doc")

    def __init__(self, default: Any, check: Callable[[Any], str | None], doc: str = "") -> None:
        self._init(default, check, doc)


def one_of(*allowed: Any) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else "one of " + ", ".join(map(repr, allowed))


def is_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def is_int(lo: int = 0, hi: int = 2**31 - 1) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
        return None if ok else f"an integer from {lo} to {hi}"
    return check


def is_str_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) and x for x in v)
    return None if ok else "a list of non-empty strings"


def is_int_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)
    return None if ok else "a list of positive integers"


def is_capability_list(allow_all: bool) -> Callable[[Any], str | None]:
    """Capability names as Kubernetes spells them: upper case, no `CAP_` prefix (PSA and PSP
    compare them literally, and containerd prefixes CAP_ itself); `ALL` where allowed."""
    from ..kube.podspec import LINUX_CAPABILITIES

    known = LINUX_CAPABILITIES | ({"ALL"} if allow_all else set())

    def check(v: Any) -> str | None:
        if isinstance(v, list) and all(isinstance(x, str) and x in known for x in v):
            return None
        bad = [x for x in v if x not in known] if isinstance(v, list) else v
        what = "ALL or " if allow_all else ""
        return (f"a list of capability names ({what}Linux capabilities in upper case without CAP_, "
                f"e.g. NET_BIND_SERVICE; not {bad!r})")
    return check


def is_absolute_path_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) and x.startswith("/") and x.strip() == x
                                     for x in v)
    return None if ok else "a list of absolute paths, e.g. [/tmp]"


def is_str_map(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    return None if ok else "a mapping of strings to strings"


COMMON_OPTIONS = {
    "enabled": Option(True, is_bool, "apply this control"),
    "conflicts": Option(None, lambda v: None if v is None or v in CONFLICT_RULES
                        else "one of keep, override, fail (or null: the profile's rule)",
                        "what to do when the manifest explicitly conflicts; null = profile default"),
}


class Control:
    """Base class: subclasses set `id`, `scope`, `options`, `pss_checks` and implement `plan`."""

    id: ClassVar[str]
    scope: ClassVar[str]  # "pod" or "container": where it acts, for the docs
    options: ClassVar[dict[str, Option]] = {}
    linux_only: ClassVar[bool] = True  # not applied to Windows pods
    #: A node feature (hardener.profile.NODE_FEATURES) without which the change would make
    #: the kubelet refuse the pod: the control is active only on nodes declared to have it.
    requires: ClassVar[str | None] = None
    #: The upstream PSS check ids whose failure this control's change answers (an audit
    #: finding of the check already says what the control would change). Every control
    #: declares it, empty or not.
    pss_checks: ClassVar[frozenset[str]]
    #: A pod (YAML) this control changes or reports on, and the options to show it with:
    #: the docs show it before and after, a test runs it.
    example: ClassVar[str]
    example_options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def all_options(cls) -> dict[str, Option]:
        return {**COMMON_OPTIONS, **cls.options}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        from ..results import json_copy  # defaults are YAML data: lists, maps, scalars

        return {k: json_copy(o.default) for k, o in cls.all_options().items()}

    @classmethod
    def validate(cls, opts: dict) -> tuple[str, str] | None:
        """Checks across this control's resolved options: (option, problem) or None."""
        return None

    def plan(self, ctx, opts: dict) -> Iterator:  # pragma: no cover
        raise NotImplementedError
