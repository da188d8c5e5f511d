"""Fixtures of the server tests: the session's real kube-apiserver per minor (kube_server.py)."""

from __future__ import annotations

import pytest

from kube_server import FIGURES, KUBE_VERSIONS, RESTARTS, Cluster, kubectl_binary


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("kube"))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def kubectl():
    return kubectl_binary()


@pytest.fixture(scope="session")
def newest(cluster):
    """The newest built minor's server."""
    return cluster.server(KUBE_VERSIONS[0])


def pytest_terminal_summary(terminalreporter):
    """The server's figures (created / rejected per minor, ...), as the issue notes quote them."""
    for what, code, tail in RESTARTS:
        terminalreporter.section(f"{what} exited (code {code}) and was started again", red=True)
        terminalreporter.write_line(tail)
    if FIGURES:
        terminalreporter.section("real kube-apiserver figures")
        for topic, per_version in sorted(FIGURES.items()):
            for version, counts in sorted(per_version.items()):
                terminalreporter.write_line(
                    f"{topic} v{version}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
