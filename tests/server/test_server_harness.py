"""The harness's own promise: a kube-apiserver that exits under the tests (seen once in CI,
every later request refused) is started again on its port and etcd prefix, what the tests
created survives, and the exit is recorded so the run's summary shows it (conftest.py)."""

from __future__ import annotations

import kube_server


def test_a_server_that_exits_is_started_again_with_its_objects(newest):
    name = newest.namespace("harness-restart", labels={"k8s-harden/test": "restart"})
    before = len(kube_server.RESTARTS)
    newest.proc.kill()
    newest.proc.wait()
    try:
        ns = newest.request("GET", f"/api/v1/namespaces/{name}")
        assert ns["metadata"]["labels"]["k8s-harden/test"] == "restart"
        assert len(kube_server.RESTARTS) == before + 1
        what, code, _ = kube_server.RESTARTS[-1]
        assert what == f"kube-apiserver v{newest.version}" and code == -9
        assert newest.proc.poll() is None
    finally:
        # this exit was the test's own doing: not one to report
        del kube_server.RESTARTS[before:]
