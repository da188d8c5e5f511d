#!/usr/bin/env python3
"""A digest of what the CLI prints for every input, to show that a refactor changes no byte.

    git worktree add ../before HEAD~1
    (cd ../before && PYTHONPATH=. ../k8s-harden/.venv/bin/python scripts/snapshot.py /tmp/before.tsv)
    PYTHONPATH=. .venv/bin/python scripts/snapshot.py /tmp/after.tsv
    diff /tmp/before.tsv /tmp/after.tsv     # empty: the same bytes

Every corpus file (../shared/corpus), golden case, hostile input and example, through every
built-in profile and the report, emit, --check, --verify and audit modes (1,755 runs today):
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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main_(out_path: str) -> int:
    inputs = sorted([*CORPUS.glob("*.yaml"), *(REPO / "tests" / "cases").glob("*/input.yaml"),
                     *(p for p in (REPO / "tests" / "hostile").iterdir() if p.is_file()),
                     *(REPO / "examples").glob("*.yaml")])
    profiles = sorted(p.stem for p in (REPO / "profiles").glob("*.yaml"))
    runs = [("--profile", p) for p in profiles] + RUNS
    runner = CliRunner()
    with open(out_path, "w", encoding="utf-8") as out:
        for run in runs:
            for path in inputs:
                res = runner.invoke(main, list(run), input=path.read_bytes())
                crash = res.exception and not isinstance(res.exception, SystemExit)
                out.write("\t".join((str(path.relative_to(path.parents[1])), " ".join(run), str(res.exit_code),
                                     _digest(res.stdout_bytes), _digest(res.stderr_bytes),
                                     type(res.exception).__name__ if crash else "")) + "\n")
    print(f"snapshot: {len(runs) * len(inputs)} runs -> {out_path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main_(sys.argv[1]))
