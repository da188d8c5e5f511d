"""Shared helpers for the tests: run the library in-process or the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO.parent / "shared" / "corpus").resolve()
CORPUS_FILES = sorted(CORPUS.glob("*.yaml"))


def harden(text: str, profile: str = "restricted", kube: str | None = None, emit: str = "none",
           source: str = "<test>", **options):
    """Run the pipeline in-process, as a library user would; returns the Outcome. `options`
    are the other keywords of hardener.options.build_options (namespace=, binding=, ...)."""
    from hardener.inputs import Source
    from hardener.options import build_options
    from hardener.pipeline import run

    opts = build_options(profile=profile, kube_version=kube, emit=emit, **options)
    return run([Source(source, text)], opts)


def cli(*args: str, input: str | bytes | None = None, env: dict | None = None, timeout: int = 120,
        cwd: Path | None = None):
    """Run `python -m hardener ARGS` as a real subprocess (stdin -> stdout)."""
    data = input.encode() if isinstance(input, str) else input
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "hardener", *args], input=data,
                          capture_output=True, env=full_env, timeout=timeout, cwd=cwd or REPO)


def invoke(*args: str, input: str | bytes | None = None, env: dict | None = None):
    """Run the CLI in-process with click's runner (fast; stdout and stderr apart)."""
    from click.testing import CliRunner

    from hardener.cli import main

    return CliRunner().invoke(main, list(args), input=input, env=env)


def load_all(text: str) -> list:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def pod(spec: dict, name: str = "p", annotations: dict | None = None) -> dict:
    meta = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def dump(*docs) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def leaves(obj, prefix=""):
    """(JSON pointer, scalar) for every leaf of a document: the no-data-loss check."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}/{i}")
    else:
        yield prefix, obj


def without_nulls(value):
    """The object as admission sees it: decoded into typed structs, so `null` fields are absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value if v is not None]
    return value


class ProofChecks:
    """Reads back what yamlio/textpatch does not: wraps `_Patcher.patch` (a result it calls
    proven is loaded again and compared with the planned data) and `_Patcher.insert` (each
    text written straight from the nodes is compared with the diff's text for the same
    document, and read back). Counts `proven`, `careful` (read back by textpatch itself) and
    `direct`; `wrong` collects (result, what it should be). `setattr_`: how to install the
    wrappers (pytest's monkeypatch.setattr, or :func:`proofs_read_back`'s)."""

    def __init__(self, setattr_) -> None:
        from hardener import yamlio
        from hardener.yamlio import textpatch
        from hardener.yamlio.likeness import same
        from hardener.yamlio.load import rebuild

        self.proven = self.careful = self.direct = 0
        self.wrong: list[tuple] = []
        patch, insert = textpatch._Patcher.patch, textpatch._Patcher.insert

        def checked_patch(patcher, old, new):
            result = patch(patcher, old, new)
            if patcher.proven:
                self.proven += 1
                if not same(yamlio.load_text(result), new):
                    self.wrong.append((result, new))
            else:
                self.careful += 1
            return result

        def checked_insert(patcher, ops, new):
            result = insert(patcher, ops, new)
            if result is not None:
                self.direct += 1
                careful = textpatch._Patcher(patcher.text, patcher.root).patch(rebuild(patcher.root), new)
                if result != careful or not same(yamlio.load_text(result), new):
                    self.wrong.append((result, careful))
            return result

        setattr_(textpatch._Patcher, "patch", checked_patch)
        setattr_(textpatch._Patcher, "insert", checked_insert)


@contextmanager
def proofs_read_back():
    """:class:`ProofChecks` installed for the block (for a hypothesis test, where pytest's
    monkeypatch fixture does not fit); the real methods are back afterwards."""
    saved = []

    def set_(obj, name, value):
        saved.append((obj, name, obj.__dict__[name]))
        setattr(obj, name, value)

    try:
        yield ProofChecks(set_)
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)
