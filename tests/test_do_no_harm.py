"""Do no harm: every corpus stream, hardened at 1.24, 1.29, 1.31 and the newest version, is
admitted by the API server, by the kubelet of a node without AppArmor, starts and works, and
at 1.24 is admitted by the PodSecurityPolicy the tool emitted for it.

The judge is hardener.kube.admission (API validation, kubelet admission, Linux runtime rules,
each mirroring a cited Kubernetes function; proven rule by rule in tests/test_admission.py)
and tests/psp_admission.py (PSP admission). Hardening must add no finding of severity
`error` to any pod template: what the chart already got wrong is the chart's (and `audit`
reports it), what the hardener adds is ours.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import pytest

from hardener.kube.admission import NodeFeatures, check
from hardener.kube.versions import LATEST, fmt
from hardener.kube.workloads import WorkloadTable, find_pod_templates
from hardener.profile import load_profile
from helpers import CORPUS_FILES, REPO, harden, load_all
from psp_admission import admit

#: the corpus, and the golden inputs written for the cases that broke (MetalLB, Bitnami's
#: volumePermissions, legacy seccomp annotations, Windows IIS, an opted-out sidecar, ...)
STREAMS = CORPUS_FILES + sorted(p / "input.yaml" for p in (REPO / "tests" / "cases").iterdir()
                                if (p / "input.yaml").exists() and not (p / "error.txt").exists())

VERSIONS = ("1.24", "1.29", "1.31", fmt(LATEST))
NODE = NodeFeatures()  # no AppArmor, kernel >= 4.11: the default the profiles assume
TABLE = WorkloadTable(load_profile("restricted").workloads)


def templates(docs: list) -> dict:
    """(document index, template pointer) -> pod template, for every pod template."""
    return {(i, pt.pointer): pt.template for i, d in enumerate(docs)
            for pt in find_pod_templates(d, TABLE)}


def errors(template: dict, kube: tuple) -> set:
    return {(f.rule, f.container, f.path) for f in check(template, kube, NODE) if f.severity == "error"}


def added_errors(before: dict, after: dict, kube: tuple) -> list:
    """Errors a hardened template has that the same template had not before hardening."""
    found = []
    for key, tpl in after.items():
        new = errors(tpl, kube) - errors(before.get(key) or {}, kube)
        found += [(key, rule, container, path) for rule, container, path in sorted(new, key=str)]
    return found


def _name(path) -> str:
    return path.parent.name if path.name == "input.yaml" else path.name


@lru_cache(maxsize=None)
def hardened(name: str, version: str):
    path = next(p for p in STREAMS if _name(p) == name)
    text = path.read_text()
    out = harden(text, kube=version, emit="auto")
    return _items(load_all(text)), _items(load_all(out.output))


def _items(docs: list) -> list:
    """A KRM ResourceList's items, or the documents."""
    if len(docs) == 1 and (docs[0] or {}).get("kind") == "ResourceList":
        return docs[0].get("items") or []
    return docs


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_hardening_adds_no_rejection_refusal_or_break(name, version):
    before, after = hardened(name, version)
    kube = tuple(int(x) for x in version.split("."))
    workloads = [d for d in after if not _generated(d)]
    assert added_errors(templates(before), templates(workloads), kube) == []


@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_emitted_psps_admit_the_pods_they_were_emitted_for(name):
    """At 1.24 each hardened pod is admitted by a PodSecurityPolicy its service account may
    use (pkg/security/podsecuritypolicy, mirrored in tests/psp_admission.py)."""
    _, after = hardened(name, "1.24")
    refused = []
    for (i, pointer), tpl in templates([d for d in after if not _generated(d)]).items():
        usable = psps_for(after, after[i], tpl)
        if not usable or all(admit(psp, tpl, (1, 24)) for psp in usable):
            refused.append((i, pointer, [admit(psp, tpl, (1, 24)) for psp in usable]))
    assert refused == []


def test_the_comparison_catches_a_hand_made_harmful_edit():
    """The judge is not blind: a field added that contradicts a kept annotation, a sysctl on a
    hostNetwork pod and a non-root container that adds NET_RAW are each an added error."""
    pod = {"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
           "spec": {"hostNetwork": True, "containers": [
               {"name": "agent", "image": "x", "securityContext": {"capabilities": {"add": ["NET_RAW"]}}}]}}
    bad = copy.deepcopy(pod)
    bad["spec"]["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 1000,
                                      "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]}
    bad["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = False
    rules = {rule for _, rule, _, _ in added_errors({(0, ""): pod}, {(0, ""): bad}, (1, 29))}
    assert {"api/seccompAnnotationMismatch", "api/hostNamespaceSysctl", "runtime/capabilitiesNonRoot"} <= rules


def _generated(doc: dict) -> bool:
    labels = ((doc or {}).get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/managed-by") == "k8s-harden"


def psps_for(docs: list, resource: dict, template: dict) -> list:
    """The generated PSPs the pod's service account is bound to use."""
    sa = (template.get("spec") or {}).get("serviceAccountName") or "default"
    ns = ((resource or {}).get("metadata") or {}).get("namespace") or ""
    roles = {}
    for d in docs:
        if _generated(d) and d.get("kind") == "ClusterRole":
            roles[d["metadata"]["name"]] = set(d["rules"][0]["resourceNames"])
    allowed = set()
    for d in docs:
        if _generated(d) and d.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            for s in d.get("subjects") or []:
                if s.get("name") == sa and (s.get("namespace") or "") in (ns, ""):
                    allowed |= roles.get(d["roleRef"]["name"], set())
    return [d for d in docs if _generated(d) and d.get("kind") == "PodSecurityPolicy"
            and d["metadata"]["name"] in allowed]
