"""The real API server admits every hardened stream: each corpus stream and golden input,
hardened for the minor of each built kube-apiserver (the policy objects `--emit auto` appends
included), is created with dryRun=All into a namespace, and so is a Pod made of every pod
template in it (the pods the controllers would create: a StatefulSet's template is checked
for its pods too, and a custom resource's pod template for the pod its operator makes).

The oracle is the server's answer, judged against `audit`'s `api/` predictions (the rules of
hardener/kube/admission.py that mirror pkg/apis/core/validation/validation.go): the server
rejects nothing `audit` did not predict, and everything it predicted.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache

import pytest

from hardener.kube.workloads import WorkloadTable, find_pod_templates
from hardener.profile import load_profile
from helpers import CORPUS_FILES, REPO, harden, invoke, load_all
from kube_server import KUBE_VERSIONS, ApiError, KubeServer, count

STREAMS = CORPUS_FILES + sorted(p / "input.yaml" for p in (REPO / "tests" / "cases").iterdir()
                                if (p / "input.yaml").exists() and not (p / "error.txt").exists())
TABLE = WorkloadTable(load_profile("restricted").workloads)
#: what the server says about a kind it lacks (a custom resource without its CRD)
NOT_SERVED = "not served"
GO_POINTER = re.compile(r"0x[0-9a-f]{6,}")


def _name(path) -> str:
    return path.parent.name if path.name == "input.yaml" else path.name


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _items(docs: list) -> list:
    if len(docs) == 1 and (docs[0] or {}).get("kind") == "ResourceList":
        return docs[0].get("items") or []
    return [d for d in docs if isinstance(d, dict)]


@lru_cache(maxsize=None)
def hardened(name: str, version: str) -> str:
    path = next(p for p in STREAMS if _name(p) == name)
    return harden(path.read_text(), kube=_minor(version), emit="auto").output


def api_predictions(text: str, version: str) -> set[tuple]:
    """(kind, namespace, name, pod template pointer) of every template `audit` says the API
    server rejects (an `api/` finding of severity error)."""
    result = invoke("audit", "--format", "json", "--kube-version", _minor(version), input=text)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    return {(f["kind"], f["namespace"] or "", f["name"], f["podTemplate"])
            for f in report["findings"] if f["rule"].startswith("api/") and f["severity"] == "error"}


def pod_of(resource: dict, template: dict, name: str) -> dict:
    """The Pod a controller makes of a template: its metadata and spec, a name of its own,
    and (pkg/controller/statefulset/stateful_set_utils.go: updateStorage) a volume per
    volumeClaimTemplate of the resource."""
    meta = {k: v for k, v in (template.get("metadata") or {}).items()
            if k in ("labels", "annotations")}
    spec = copy.deepcopy(template.get("spec") or {})
    # operators name what a custom resource leaves unnamed (Knative's user-container, Tekton's
    # step-unnamed-N): a pod's containers all have names
    for key in ("initContainers", "containers"):
        for n, c in enumerate(spec.get(key) or [] if isinstance(spec, dict) else []):
            if isinstance(c, dict) and not c.get("name"):
                c["name"] = f"unnamed-{key[:4].lower()}-{n}"
    claims = ((resource.get("spec") or {}).get("volumeClaimTemplates") or []) if isinstance(resource, dict) else []
    if isinstance(claims, list) and isinstance(spec, dict):
        volumes = spec.setdefault("volumes", []) if isinstance(spec.get("volumes", []), list) else []
        have = {v.get("name") for v in volumes if isinstance(v, dict)}
        for c in claims:
            claim = (c.get("metadata") or {}).get("name") if isinstance(c, dict) else None
            if isinstance(claim, str) and claim not in have:
                volumes.append({"name": claim, "persistentVolumeClaim": {"claimName": f"{claim}-{name}"}})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "name": name}, "spec": spec}


def prepare(server: KubeServer, namespace: str, docs: list) -> None:
    """What the pods refer to and a controller manager would have made: the namespace, its
    service accounts, the PriorityClasses named."""
    server.namespace(namespace, service_accounts=sorted(referenced(server, docs)))


def referenced(server: KubeServer, docs: list) -> set[str]:
    """Create the PriorityClasses the pod templates name; return their service accounts."""
    accounts = {"default"}
    for d in docs:
        for pt in find_pod_templates(d, TABLE):
            spec = (pt.template or {}).get("spec") or {}
            sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
            if isinstance(sa, str) and sa:
                accounts.add(sa)
            pc = spec.get("priorityClassName")
            if isinstance(pc, str) and pc and not pc.startswith("system-"):
                try:
                    server.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses",
                                   {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                    "metadata": {"name": pc}, "value": 1000})
                except ApiError as e:
                    assert e.status == 409, e
    return accounts


def answers(server: KubeServer, text: str, namespace: str) -> dict[tuple, frozenset | str]:
    """Per object and per pod made of a template: the causes of the server's rejection
    (empty: admitted) or NOT_SERVED. Keys: (document index, kind, namespace, name, "") for
    objects and (..., template pointer) for pods."""
    docs = _items(load_all(text))
    prepare(server, namespace, docs)
    out: dict[tuple, frozenset | str] = {}
    for i, doc in enumerate(docs):
        meta = doc.get("metadata") or {}
        key = (i, doc.get("kind"), meta.get("namespace") or "", meta.get("name"))
        body = copy.deepcopy(doc)
        if server.path_of(body, namespace) is None:
            out[(*key, "")] = NOT_SERVED
        else:
            if "namespace" in (body.get("metadata") or {}):
                body["metadata"]["namespace"] = namespace
            out[(*key, "")] = _causes(server, body, namespace, "Strict")
        for j, pt in enumerate(find_pod_templates(doc, TABLE)):
            # a custom resource's template is the operator's, with fields of its own (Tekton's
            # script, a SidecarSet's upgradeStrategy): the pod is judged on the pod fields only
            pod = pod_of(pt.resource, pt.template, f"pod-{i}-{j}")
            out[(*key, pt.pointer)] = _causes(server, pod, namespace, "Ignore")
    return out


def _causes(server: KubeServer, body: dict, namespace: str, validation: str) -> frozenset:
    try:
        server.create(body, namespace, field_validation=validation)
        return frozenset()
    except ApiError as e:
        if e.status == 409:  # a cluster-scoped object of the same name exists already
            return frozenset()
        causes = (e.body.get("details") or {}).get("causes") or []
        found = frozenset(f"{c.get('field')}: {c.get('message')}" for c in causes) or frozenset({e.message})
        return frozenset(GO_POINTER.sub("0x", c) for c in found)  # %#v of a Go pointer differs per call


def judge(before: dict, after: dict, predicted: set) -> tuple[dict, set]:
    """(what hardening made the server reject that audit did not predict, what audit
    predicted the server rejects that it admitted). A cause the unhardened input has too is
    the chart's, not the hardener's; an object is covered by a prediction for its template."""
    added = {k: v - before.get(k, frozenset()) for k, v in after.items() if v != NOT_SERVED}
    unpredicted = {k: v for k, v in added.items() if v and k[1:] not in predicted
                   and not (k[4] == "" and any(p[:3] == k[1:4] for p in predicted))}
    missed = {p for p in predicted if not any(k[1:] == p and v for k, v in after.items() if v != NOT_SERVED)}
    return unpredicted, missed


@pytest.fixture(scope="module", params=KUBE_VERSIONS)
def server(request, cluster) -> KubeServer:
    return cluster.server(request.param)


@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_the_server_admits_every_hardened_stream_as_audit_predicts(server, name):
    path = next(p for p in STREAMS if _name(p) == name)
    text = hardened(name, server.version)
    before = answers(server, path.read_text(), "input")
    after = answers(server, text, "hardened")
    unpredicted, missed = judge(before, after, api_predictions(text, server.version))
    for k, v in after.items():
        what = "objects" if k[4] == "" else "pods of templates"
        verdict = ("not served" if v == NOT_SERVED else "rejected by hardening" if v - before.get(k, frozenset())
                   else "rejected as the input was" if v else "admitted")
        count("hardened corpus", server.version, f"{what} {verdict}")
    assert unpredicted == {}, f"v{server.version} rejected what audit did not predict"
    assert missed == set(), f"v{server.version} admitted what audit predicted it rejects"


BROKEN = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        securityContext: {privileged: true, allowPrivilegeEscalation: false}
"""


def test_the_judge_fails_on_what_the_server_rejects(newest):
    """The comparison is not blind. A field the API rejects that audit predicts
    (privileged with allowPrivilegeEscalation false: api/privilegeEscalation) is rejected and
    predicted; the same rejection without the prediction is unpredicted; a prediction the
    server does not confirm is missed; a cause the input had already is the chart's."""
    ok = BROKEN.replace("privileged: true, ", "")
    before, after = answers(newest, ok, "input"), answers(newest, BROKEN, "hardened")
    predicted = api_predictions(BROKEN, newest.version)
    assert ("Deployment", "", "web", "/spec/template") in predicted
    assert judge(before, after, predicted) == ({}, set())
    unpredicted, _ = judge(before, after, set())
    assert {k[1:] for k in unpredicted} == {("Deployment", "", "web", ""), ("Deployment", "", "web", "/spec/template")}
    assert any("allowPrivilegeEscalation" in c for c in unpredicted[(0, "Deployment", "", "web", "")])
    _, missed = judge(before, before, predicted)
    assert missed == predicted
    assert judge(after, after, set()) == ({}, set())


def test_kubectl_applies_a_hardened_chart_to_the_real_server(newest, kubectl):
    """The user's own pipe, `k8s-harden | kubectl apply --dry-run=server -f -`, against the
    real server: every object of the hardened podinfo chart is accepted."""
    from helpers import CORPUS

    newest.service_account("default", "default")
    out = harden((CORPUS / "podinfo.yaml").read_text(), kube=_minor(newest.version)).output
    proc = newest.kubectl(kubectl, "apply", "--dry-run=server", "-f", "-", input=out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len([d for d in load_all(out) if d])
