"""The Pod Security Admission labels of `--emit pss-labels` on a real API server (1.37 and 1.30):
in namespaces labelled as the CLI labels them, the server's own PodSecurity admission admits
each hardened pod exactly when `audit` says it meets the enforced level.

Each stream gets a Namespace document for every namespace it uses (and `apps` for what names
none) in front, as docs/policy.md tells users to do, so the CLI has something to label.
"""

from __future__ import annotations

import json

import pytest
import yaml

from hardener.kube.workloads import find_pod_templates
from helpers import harden, invoke, load_all
from kube_server import KUBE_VERSIONS, ApiError, KubeServer, count
from test_server_admission import STREAMS, TABLE, _items, _minor, _name, pod_of, referenced

PSA_VERSIONS = [v for v in KUBE_VERSIONS if int(v.split(".")[1]) >= 25]
ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.fixture(scope="module", params=PSA_VERSIONS)
def server(request, cluster) -> KubeServer:
    return cluster.server(request.param)


def with_namespaces(text: str) -> str:
    docs = _items(load_all(text))
    used = sorted({(d.get("metadata") or {}).get("namespace") or "apps" for d in docs} - {"default", "kube-system"})
    head = "".join(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}) + "---\n"
                   for n in used)
    return head + text


def meets(text: str, version: str) -> dict[tuple, str]:
    result = invoke("audit", "--format", "json", "--kube-version", _minor(version), input=text)
    report = json.loads(result.stdout)
    return {(r["kind"], r["namespace"] or "", r["name"], t["pointer"]): t["meets"]
            for r in report["resources"] for t in r["podTemplates"]}


@pytest.mark.parametrize("name", [_name(p) for p in STREAMS if not (p.name == "input.yaml" and
                                                                   "resource-list" in p.parent.name)])
def test_the_labels_enforce_what_audit_says(server, name):
    path = next(p for p in STREAMS if _name(p) == name)
    text = path.read_text()
    if text.lstrip().startswith(("kind: ResourceList", "apiVersion: config.kubernetes.io")):
        pytest.skip("a KRM ResourceList")
    out = harden(with_namespaces(text), kube=_minor(server.version), emit="pss-labels", namespace="apps").output
    docs = _items(load_all(out))
    labels = {d["metadata"]["name"]: d["metadata"].get("labels") or {} for d in docs if d.get("kind") == "Namespace"}
    accounts = referenced(server, docs)
    for ns, lab in labels.items():
        server.namespace(ns, labels=lab, service_accounts=sorted(accounts))
    try:
        assert wrong_admissions(server, docs, labels, meets(out, server.version)) == []
    finally:
        unlabel(server, labels)


def unlabel(server, labels: dict[str, dict]) -> None:
    """Take the Pod Security labels off again: the server lives for the whole run, and a later
    test's pods in the same namespace (`apps`, `monitoring`, ...) must meet its own policy, not
    this test's enforce level."""
    for ns, lab in labels.items():
        server.request("PATCH", f"/api/v1/namespaces/{ns}", {"metadata": {"labels": {k: None for k in lab}}},
                       content_type="application/merge-patch+json")


def wrong_admissions(server, docs: list[dict], labels: dict[str, dict], levels: dict) -> list:
    """Pods whose PodSecurity answer differs from what audit's level and the enforce label say."""
    order = {"privileged": 0, "baseline": 1, "restricted": 2}
    wrong = []
    for i, doc in enumerate(docs):
        meta = doc.get("metadata") or {}
        ns = meta.get("namespace") or "apps"
        enforce = labels.get(ns, {}).get(ENFORCE)
        if enforce is None:
            continue
        for j, pt in enumerate(find_pod_templates(doc, TABLE)):
            key = (doc.get("kind"), meta.get("namespace") or "", meta.get("name"), pt.pointer)
            if key not in levels:
                continue
            try:
                server.create(pod_of(pt.resource, pt.template, f"pod-{i}-{j}"), ns, field_validation="Ignore")
                admitted = True
            except ApiError as e:
                if "violates PodSecurity" not in e.message:
                    continue  # rejected before admission: the input's own problem
                admitted = False
            count("PSA labels", server.version, f"pods {'admitted' if admitted else 'denied'}")
            if admitted != (order[levels[key]] >= order[enforce]):
                wrong.append((key, enforce, levels[key], admitted))
    return wrong


def test_a_pod_audit_fails_is_denied_in_a_labelled_namespace(server):
    """The other half, and proof the comparison can fail: in the namespace the CLI labelled for
    a hardened stream, a pod `audit` says fails the enforced level is denied by the real PSA."""
    stream = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
              "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
              "    spec:\n      containers:\n      - {name: web, image: nginx}\n")
    out = harden(with_namespaces(stream), kube=_minor(server.version), emit="pss-labels").output
    ns = next(d for d in _items(load_all(out)) if d.get("kind") == "Namespace")
    assert ns["metadata"]["labels"][ENFORCE] == "restricted"
    server.namespace("shop", labels=ns["metadata"]["labels"])
    bad = ("apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: shop}\nspec:\n  containers:\n"
           "  - {name: c, image: nginx, securityContext: {privileged: true}}\n")
    assert meets(bad, server.version)[("Pod", "shop", "bad", "")] == "privileged"
    with pytest.raises(ApiError, match="violates PodSecurity"):
        server.create(_items(load_all(bad))[0], "shop")
    server.create(next(pod_of(d, pt.template, "good") for d in _items(load_all(out)) if d.get("kind") == "Deployment"
                       for pt in find_pod_templates(d, TABLE)), "shop")


def test_a_meshed_namespace_admits_the_pods_the_mesh_completes(server):
    """Issue #23: a Namespace labelled istio-injection=enabled got enforce=restricted, and the
    real PSA then refused every pod Istio completed (istio-init: root, NET_ADMIN, NET_RAW).
    The CLI's labels admit it; with --mesh-cni (enforce baseline) the same pod is denied —
    which is why the cap is what the mesh's CNI plugin decides."""
    stream = ("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mesh\n  labels: {istio-injection: enabled}\n---\n"
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: mesh}\nspec:\n"
              "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
              "    spec:\n      containers:\n      - {name: web, image: nginx}\n")
    istio_init = {"name": "istio-init", "image": "istio/proxyv2:1.24",
                  "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                                      "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}}}
    for args, admitted in (({}, True), ({"mesh_cni": True}, False)):
        out = harden(stream, kube=_minor(server.version), emit="pss-labels", **args).output
        docs = _items(load_all(out))
        labels = next(d for d in docs if d.get("kind") == "Namespace")["metadata"]["labels"]
        server.namespace("mesh", labels=labels)
        try:
            deployment = next(d for d in docs if d.get("kind") == "Deployment")
            pod = next(pod_of(deployment, pt.template, "web-x") for pt in find_pod_templates(deployment, TABLE))
            pod["spec"]["initContainers"] = [istio_init]  # what the injector adds
            try:
                server.create(pod, "mesh")
                got = True
            except ApiError as e:
                assert "violates PodSecurity" in e.message, e.message
                got = False
            assert got is admitted, (args, labels)
        finally:
            unlabel(server, {"mesh": labels})
