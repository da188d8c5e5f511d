"""PyYAML, imported once with its pure-Python reader's character check compiled on first use.

`import yaml` compiles `yaml.reader.Reader.NON_PRINTABLE`, a character class spanning all of
Unicode, when the module loads: about 5 ms of every start (a tenth of k8s-harden's cold
start over a bare interpreter). Only the pure-Python Reader uses it; k8s-harden reads with
libyaml (CSafeLoader) and writes with the emitter, which never do. So while PyYAML is first
imported, that one pattern is handed out as a proxy that compiles it when it is first used;
every other pattern, and `re.compile` itself afterwards, are the standard ones. Imported by
the package's __init__, before any module imports `yaml`.
"""

from __future__ import annotations

import re
import sys

#: the pattern as yaml/reader.py spells it (another spelling is compiled as usual)
NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class LazyPattern:
    """A compiled pattern, compiled on the first attribute read (`.search`, `.match`, ...)."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern | None = None

    def __getattr__(self, name: str):
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


def _import_yaml() -> None:
    if "yaml" in sys.modules:
        return  # imported before us: nothing to save
    standard = re.compile

    def compile_(pattern, flags=0):
        if pattern == NON_PRINTABLE and not flags:
            return LazyPattern(pattern, flags)
        return standard(pattern, flags)

    re.compile = compile_
    try:
        import yaml  # noqa: F401 - the import this module exists for
    finally:
        re.compile = standard


_import_yaml()
