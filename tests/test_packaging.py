"""The wheel ships every package of the source tree (an editable install would hide a miss)."""

from __future__ import annotations

import re

from helpers import REPO


def test_every_package_directory_is_listed_in_pyproject():
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(hardener[\w.]*)"', re.search(r"packages = \[([^\]]*)\]", text)[1]))
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "hardener").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
    assert "hardener.profiles" in listed  # the built-in profiles, from profiles/


def test_every_data_file_of_the_package_is_package_data():
    """A data file inside hardener/ (the CRD table) ships only when pyproject lists it."""
    text = (REPO / "pyproject.toml").read_text()
    data = [p for p in (REPO / "hardener").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
            and "__pycache__" not in p.parts]
    assert data, "hardener/kube/crds.yaml is expected"
    for p in data:
        package = ".".join(p.parent.relative_to(REPO).parts)
        assert re.search(rf'^"{re.escape(package)}" = \[[^\]]*"{re.escape(p.name)}"', text, re.M), p
