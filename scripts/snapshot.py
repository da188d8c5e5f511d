#!/usr/bin/env python3
"""A digest of what the CLI prints for every input, to show that a refactor changes no byte.

    git worktree add ../before HEAD~1
    (cd ../before && PYTHONPATH=. ../k8s-harden/.venv/bin/python scripts/snapshot.py /tmp/before.tsv)
    PYTHONPATH=. .venv/bin/python scripts/snapshot.py /tmp/after.tsv
    diff <(sort /tmp/before.tsv) <(sort /tmp/after.tsv)    # empty: the same bytes

(the worktree next to ../shared, where the corpus is; sorted, as the paths sort by the tree's name)

Every corpus file (../shared/corpus), golden case, hostile input and example, through every
built-in profile and the report, emit, --check, --verify and audit modes, and those that are
objects as a KRM ResourceList too (about 1,900 runs today):
one line per run with the exit code and digests of stdout and stderr, and the type of an
exception that was not an exit. Run it from the tree it measures, with that tree first on
PYTHONPATH. In-process (click's runner), so a run takes about two minutes.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from click.testing import CliRunner

from hardener.cli import main

REPO = Path.cwd()
CORPUS = REPO.parent / "shared" / "corpus"
RUNS = [
    ("--report", "json"), ("--report", "sarif"),
    ("--emit", "vap", "--namespace", "apps"), ("--emit", "vap", "--kube-version", "1.30", "--namespace", "apps"),
    ("--emit", "psp", "--kube-version", "1.24"), ("--emit", "psa", "--namespace", "apps"),
    ("--profile", "baseline", "--emit", "map", "--kube-version", "1.37", "--namespace", "apps"),
    ("--profile", "strict", "--report", "json", "--check"), ("--verify",),
    ("audit",), ("audit", "--format", "json"), ("audit", "--profile", "baseline"),
]
#: the same inputs as a KRM ResourceList ("krm" then the arguments), for the inputs PyYAML
#: reads as objects
KRM_RUNS = [("krm",), ("krm", "--profile", "strict"), ("krm", "--emit", "vap", "--namespace", "apps")]


def _resource_list(raw: bytes) -> bytes | None:
    """The input's objects as a KRM ResourceList (what kpt and kustomize hand a function),
    or None for an input PyYAML does not read as objects."""
    import yaml

    try:
        items = [d for d in yaml.load_all(raw.decode("utf-8"), Loader=yaml.CSafeLoader) if d is not None]
    except Exception:  # noqa: BLE001 - hostile inputs: not wrapped
        return None
    if not items or not all(isinstance(d, dict) for d in items):
        return None
    try:
        text = yaml.dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items},
                         Dumper=yaml.CSafeDumper, sort_keys=False)
    except Exception:  # noqa: BLE001 - hostile inputs: not wrapped
        return None
    return text.encode("utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main_(out_path: str) -> int:
    inputs = sorted([*CORPUS.glob("*.yaml"), *(REPO / "tests" / "cases").glob("*/input.yaml"),
                     *(p for p in (REPO / "tests" / "hostile").iterdir() if p.is_file()),
                     *(REPO / "examples").glob("*.yaml")])
    profiles = sorted(p.stem for p in (REPO / "profiles").glob("*.yaml"))
    runs = [("--profile", p) for p in profiles] + RUNS + KRM_RUNS
    runner = CliRunner()
    total = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for run in runs:
            for path in inputs:
                raw = path.read_bytes()
                if run and run[0] == "krm":
                    raw = _resource_list(raw)
                    if raw is None:
                        continue
                total += 1
                res = runner.invoke(main, list(run[1:] if run[0] == "krm" else run), input=raw)
                crash = res.exception and not isinstance(res.exception, SystemExit)
                out.write("\t".join((str(path.relative_to(path.parents[1])), " ".join(run), str(res.exit_code),
                                     _digest(res.stdout_bytes), _digest(res.stderr_bytes),
                                     type(res.exception).__name__ if crash else "")) + "\n")
    print(f"snapshot: {total} runs -> {out_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main_(sys.argv[1]))
