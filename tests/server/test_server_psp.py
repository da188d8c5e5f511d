"""The emitted PodSecurityPolicies and RBAC on a real 1.24 API server (the last with PSP): every
hardened pod of every corpus stream and golden input, created as its controller creates it
(by the replicaset-controller, which may use no PSP itself, so only the pod's service account
and the emitted bindings count), is admitted, and the same pod asking for more (hostPID) is not.
"""

from __future__ import annotations

import copy

import pytest

from hardener.kube.workloads import find_pod_templates
from helpers import harden, load_all
from kube_server import KUBE_VERSIONS, ApiError, KubeServer, count
from test_server_admission import STREAMS, TABLE, _items, _name, pod_of, referenced

PSP_VERSIONS = [v for v in KUBE_VERSIONS if int(v.split(".")[1]) < 25]
MANAGED = ("app.kubernetes.io/managed-by", "k8s-harden")


@pytest.fixture(scope="module", params=PSP_VERSIONS)
def server(request, cluster) -> KubeServer:
    return cluster.server(request.param)


def _generated(d: dict) -> bool:
    return ((d.get("metadata") or {}).get("labels") or {}).get(MANAGED[0]) == MANAGED[1]


def _answer(server: KubeServer, pod: dict, ns: str, token: str) -> str:
    try:
        server.create(pod, ns, token=token, field_validation="Ignore")
        return ""
    except ApiError as e:
        return e.message


@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_the_emitted_psps_admit_exactly_the_hardened_pods(server, name):
    path = next(p for p in STREAMS if _name(p) == name)
    docs = _items(load_all(harden(path.read_text(), kube="1.24", emit="psp,rbac", namespace="apps").output))
    policy = [d for d in docs if _generated(d)]
    workloads = [d for d in docs if not _generated(d)]
    if not policy:
        pytest.skip("no pod template: no policy emitted")
    namespaces = {"apps"} | {(d.get("metadata") or {}).get("namespace") for d in docs} - {None, ""}
    accounts = referenced(server, workloads)
    for ns in sorted(namespaces):
        if ns in ("default", "kube-system"):
            for sa in accounts:
                server.service_account(ns, sa)
        else:
            server.namespace(ns, service_accounts=sorted(accounts))
    server.apply_objects(policy)
    token = server.token_for("kube-system", "replicaset-controller")
    refused, too_much = [], []
    for i, doc in enumerate(workloads):
        ns = (doc.get("metadata") or {}).get("namespace") or "apps"
        for j, pt in enumerate(find_pod_templates(doc, TABLE)):
            if doc.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                                       "ReplicationController", "Pod"):
                continue
            pod = pod_of(pt.resource, pt.template, f"pod-{i}-{j}")
            said = _answer(server, pod, ns, token)
            if said and "PodSecurityPolicy" not in said:
                count("PSP", server.version, "pods the API rejects (the input's own problem)")
                continue
            count("PSP", server.version, "hardened pods tried")
            if said:
                refused.append((doc.get("kind"), (doc.get("metadata") or {}).get("name"), pt.pointer, said))
                continue
            if not pod["spec"].get("hostPID"):
                more = copy.deepcopy(pod)
                more["spec"]["hostPID"] = True
                count("PSP", server.version, "pods asking for more tried")
                if not _answer(server, more, ns, token):
                    too_much.append((doc.get("kind"), (doc.get("metadata") or {}).get("name"), pt.pointer))
    assert refused == []
    assert too_much == []
