"""Fixtures of the end-to-end tests (real helm 3/4, kubectl kustomize, kpt)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from e2e_support import K8S_HARDEN, PLUGINS, run, tool


@pytest.fixture(scope="session")
def e2e_cli() -> Path:
    """The k8s-harden console script of the environment running the tests."""
    if not os.access(K8S_HARDEN, os.X_OK):
        pytest.fail(f"{K8S_HARDEN} not found: install the package (pip install -e .)",
                    pytrace=False)
    return K8S_HARDEN


@pytest.fixture(scope="session")
def e2e_bin_path(e2e_cli) -> str:
    """A PATH on which `k8s-harden` is the CLI under test (as after `pip install`)."""
    return f"{e2e_cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"


def _helm_home(root: Path) -> dict:
    env = {}
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        d = root / var.split("_")[1].lower()
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    return env


@pytest.fixture
def e2e_helm_home(tmp_path, e2e_bin_path) -> dict:
    """A fresh, empty Helm home of this test's own (XDG_DATA_HOME, XDG_CONFIG_HOME,
    XDG_CACHE_HOME) and a PATH with k8s-harden: the env to run helm 3 or 4 with."""
    return {**_helm_home(tmp_path / "helm-home"), "PATH": e2e_bin_path}


@pytest.fixture(scope="session")
def e2e_helm3(tmp_path_factory, e2e_bin_path):
    """helm 3 with a Helm home of its own (a Helm 4 plugin there would upset it).
    Returns (helm3 path, env to run it with: the home and a PATH with k8s-harden)."""
    helm3 = tool("helm3")
    return helm3, {**_helm_home(tmp_path_factory.mktemp("helm3-home")), "PATH": e2e_bin_path}


@pytest.fixture(scope="session")
def e2e_helm4(tmp_path_factory, e2e_bin_path):
    """helm 4 with the plugin installed from plugins/helm into a temporary Helm home.
    Returns (helm4 path, env to run it with)."""
    helm4 = tool("helm4")
    env = {**_helm_home(tmp_path_factory.mktemp("helm4-home")), "PATH": e2e_bin_path}
    run([helm4, "plugin", "install", PLUGINS / "helm"], env=env)
    listed = run([helm4, "plugin", "list"], env=env).stdout
    assert "k8s-harden" in listed and "postrenderer/v1" in listed, listed
    return helm4, env


@pytest.fixture
def e2e_tee(tmp_path, e2e_cli):
    """A K8S_HARDEN_COMMAND that runs the real CLI and records what it was given and what
    it returned. Returns (command path, reader) where reader() -> [(input, output)]."""
    rec = tmp_path / "recorded"
    rec.mkdir()
    script = tmp_path / "k8s-harden-recorder"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        n=$(ls '{rec}' | wc -l)
        tee '{rec}'/$n.in | '{e2e_cli}' "$@" > '{rec}'/$n.out
        rc=$?
        cat '{rec}'/$n.out
        exit $rc
        """))
    script.chmod(0o755)

    def reader():
        pairs = []
        for f in sorted(rec.glob("*.in"), key=lambda p: int(p.stem)):
            pairs.append((f.read_text(), f.with_suffix(".out").read_text()))
        return pairs

    return script, reader


