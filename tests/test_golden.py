"""Golden cases: tests/cases/<scenario>/{input.yaml, args, expected.yaml | error.txt, report.txt}.

`args` holds the command-line options (one line, shell syntax); `expected.yaml` is the
exact stdout; `report.txt`, when present, the exact change report on stderr (the case then
runs with `--report text` unless `args` names a report); `error.txt` a text the error
message on stderr must contain (exit 2, empty stdout). Regenerate the expected files after
a deliberate change with

    K8S_HARDEN_REGENERATE=1 .venv/bin/python -m pytest tests/test_golden.py

(the regenerated cases are skipped, never passed) and review the diff before committing it.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from helpers import invoke

CASES = sorted(p for p in (Path(__file__).parent / "cases").iterdir() if p.is_dir())
REGENERATE = os.environ.get("K8S_HARDEN_REGENERATE") == "1"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden(case: Path):
    args_file = case / "args"
    args = shlex.split(args_file.read_text()) if args_file.exists() else []
    expected, error, report = case / "expected.yaml", case / "error.txt", case / "report.txt"
    if not any(a == "--report" or a.startswith("--report=") for a in args):
        args = ["--report", "text" if report.exists() else "none", *args]
    result = invoke(*args, input=(case / "input.yaml").read_bytes())
    if REGENERATE:
        if result.exit_code == 0:
            expected.write_bytes(result.stdout_bytes)
            if report.exists():
                report.write_text(result.stderr)
        else:
            error.write_text(result.stderr.strip().removeprefix("k8s-harden: error: ") + "\n")
        pytest.skip(f"regenerated {case.name}: review the diff")
    if error.exists():
        assert result.exit_code == 2, result.stdout
        assert result.stdout_bytes == b""
        assert error.read_text().strip() in result.stderr
    else:
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == expected.read_bytes()
        if report.exists():
            assert result.stderr == report.read_text()
