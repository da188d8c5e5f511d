"""Golden cases: tests/cases/<scenario>/{input.yaml, args, expected.yaml | error.txt}.

`args` holds the command-line options (one line, shell syntax); `expected.yaml` is the
exact stdout; `error.txt` a text the error message on stderr must contain (exit 2, empty
stdout). Regenerate the expected files after a deliberate change with

    K8S_HARDEN_REGENERATE=1 .venv/bin/python -m pytest tests/test_golden.py

and review the diff before committing it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardener.cli import main

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())
REGENERATE = os.environ.get("K8S_HARDEN_REGENERATE") == "1"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden(case: Path):
    args_file = case / "args"
    args = shlex.split(args_file.read_text()) if args_file.exists() else []
    stdin = (case / "input.yaml").read_bytes()
    result = CliRunner().invoke(main, ["--report", "none", *args], input=stdin)
    expected, error = case / "expected.yaml", case / "error.txt"
    if REGENERATE:
        if result.exit_code == 0:
            expected.write_bytes(result.stdout_bytes)
        else:
            error.write_text(result.stderr.strip().removeprefix("k8s-harden: error: ") + "\n")
    if error.exists():
        assert result.exit_code == 2, result.stdout
        assert result.stdout_bytes == b""
        assert error.read_text().strip() in result.stderr
    else:
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == expected.read_bytes()
