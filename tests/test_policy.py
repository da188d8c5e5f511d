"""Policy objects (hardener/policy/): PodSecurityPolicy + RBAC below 1.25, Pod Security
Admission labels from 1.25, a ValidatingAdmissionPolicy on request from 1.30.

Checked against the seed's PodSecurityPolicy, the real corpus streams, the Kubernetes
OpenAPI schemas (`kubernetes-validate`; the PSP-era schemas live in its 1.24 release, which
cannot share an environment with 1.37, so they run in `.venv-k8s124/`, created on first use)
and a CEL evaluator (`cel-python`) running the policy's expressions on sample objects.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import celpy
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from hardener import pss
import helpers

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SEED_PODS = REPO / "examples" / "seed-pods.yaml"
NODE_AGENTS = ("node-exporter", "calico", "fluent-bit", "prometheus-smartctl-exporter")
MANAGED = ("app.kubernetes.io/managed-by", "k8s-harden")
K8S124_VENV = REPO / ".venv-k8s124"
#: its validator needs pkg_resources (setuptools) and jsonschema's RefResolver
K8S124_PACKAGES = ("kubernetes-validate==1.24.1", "setuptools<81", "jsonschema<5")

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")


# --------------------------------------------------------------------------- helpers
#: The one harden() helper, with this module's defaults: Kubernetes 1.24, policy objects on.
harden = functools.partial(helpers.harden, kube="1.24", emit="auto")


def cli(*args: str, stdin: str = ""):
    return helpers.cli("--report", "none", *args, input=stdin, timeout=300)


def docs_of(text: str) -> list[dict]:
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if isinstance(d, dict)]


def generated(text: str) -> list[dict]:
    return [d for d in docs_of(text) if (d["metadata"].get("labels") or {}).get(MANAGED[0]) == MANAGED[1]]


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.yaml").read_text()


def seed_object(kind: str) -> dict:
    """The `kind` object printed in the seed article (its YAML ends at the first prose line;
    the article indents with no-break spaces)."""
    texts = [p.read_text() for p in sorted((SHARED / "seed").glob("*.txt"))]
    text = next(t for t in texts if "kind: PodSecurityPolicy" in t).replace("\xa0", " ")
    start = text.index(f"kind: {kind}\n")
    lines = text[text.rindex("apiVersion:", 0, start):].splitlines()
    body = []
    for line in lines:
        if line.strip() and not line.startswith((" ", "-")) and not re.match(r"^[A-Za-z]+:", line):
            break
        body.append(line)
    return yaml.safe_load("\n".join(body))


def hardened_workloads(text: str) -> list[dict]:
    workload_kinds = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
    return [d for d in docs_of(text) if d["kind"] in workload_kinds]


def pod_template(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


# --------------------------------------------------------------------------- the seed
def normalise(value):
    """Semantic comparison: key order and the order of string lists do not matter."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


#: What the generated policy for the seed's two pods changes against the seed's `restricted`
#: PSP — every difference documented in hardener/policy/__init__.py's module docstring.
SEED_DIFFERENCES = {
    "annotations": {
        # (allowedProfileNames keeps the seed's docker/default: PSP compared the two names as
        # strings before 1.19.4, kubernetes/kubernetes#95985)
        # no AppArmor: nodes without it refuse pods asking for a profile (pkg/security/apparmor
        # isRequired), and the default profile assumes them; absent = unrestricted for PSP
        "apparmor.security.beta.kubernetes.io/allowedProfileNames": None,
        "apparmor.security.beta.kubernetes.io/defaultProfileName": None,
    },
    "spec": {
        # the nginx pod listens on port 80: NET_BIND_SERVICE is the one capability added back
        "allowedCapabilities": ["NET_BIND_SERVICE"],
        # the pods mount no volume; the service-account token is a projected volume (>= 1.21)
        "volumes": ["projected"],
        # the seed leaves the primary group open; the profile sets gid 3000
        "runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
        # MustRunAs would inject group 1 into pods that set no supplemental group
        "supplementalGroups": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]},
        # a required field of the API the seed omits
        "seLinux": {"rule": "RunAsAny"},
        # only the sysctl the nginx pod sets (its port 80), every other safe one forbidden
        "allowedUnsafeSysctls": ["net.ipv4.ip_unprivileged_port_start"],
        "forbiddenSysctls": ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                             "net.ipv4.ping_group_range", "net.ipv4.tcp_syncookies"],
    },
}


def test_seed_pods_yield_the_seed_psp_plus_the_documented_differences():
    out = harden(SEED_PODS.read_text(), kube="1.24").output
    [psp] = of_kind(generated(out), "PodSecurityPolicy")
    seed = seed_object("PodSecurityPolicy")
    expected_annotations = {k: v for k, v in {**seed["metadata"]["annotations"],
                                              **SEED_DIFFERENCES["annotations"]}.items() if v is not None}
    expected_spec = {**seed["spec"], **SEED_DIFFERENCES["spec"]}
    assert normalise(psp["metadata"]["annotations"]) == normalise(expected_annotations)
    assert normalise(psp["spec"]) == normalise(expected_spec)
    assert psp["metadata"]["name"] == "k8s-harden-restricted"


def test_seed_rbac_lets_exactly_their_service_accounts_use_the_policy():
    objects = generated(harden(SEED_PODS.read_text(), kube="1.24").output)
    [psp], [role], [binding] = (of_kind(objects, k) for k in ("PodSecurityPolicy", "ClusterRole", "RoleBinding"))
    seed_rule = seed_object("ClusterRole")["rules"][0]
    assert role["rules"] == [{**seed_rule, "resourceNames": [psp["metadata"]["name"]]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    # no namespace in the stream: Helm installs the binding into the release namespace and
    # the API reads the empty subject namespace as the binding's
    assert "namespace" not in binding["metadata"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "default"}]
    assert [o["kind"] for o in objects] == ["PodSecurityPolicy", "ClusterRole", "RoleBinding"]


def _subjects(text: str) -> list[str]:
    bindings = of_kind(generated(harden(text, kube="1.24", namespace="ci").output), "RoleBinding")
    return sorted(s["name"] for b in bindings for s in b["subjects"])


def test_argo_and_tekton_pods_bind_the_service_accounts_they_run_as():
    """Issue #21: a PSP binding for `default` does not let a pod that runs as another account
    use the policy. Argo: the template's serviceAccountName, else the workflow's
    (workflow/controller/workflowpod.go setupServiceAccount); Tekton: a TaskRun's
    spec.serviceAccountName, a PipelineRun's taskRunTemplate.serviceAccountName (v1) or
    spec.serviceAccountName (v1beta1), and each taskRunSpecs override."""
    c = {"name": "main", "image": "alpine"}
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
          "spec": {"serviceAccountName": "wf-sa",
                   "templates": [{"name": "a", "container": dict(c)},
                                 {"name": "b", "container": dict(c), "serviceAccountName": "b-sa"}]}}
    assert _subjects(yaml.safe_dump(wf)) == ["b-sa", "wf-sa"]
    del wf["spec"]["serviceAccountName"]
    assert _subjects(yaml.safe_dump(wf)) == ["b-sa", "default"]
    tasks = [{"name": "t", "taskSpec": {"steps": [c]}}]
    v1 = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "p"},
          "spec": {"pipelineSpec": {"tasks": tasks}, "taskRunTemplate": {"serviceAccountName": "run-sa"},
                   "taskRunSpecs": [{"pipelineTaskName": "t", "serviceAccountName": "t-sa"}]}}
    assert _subjects(yaml.safe_dump(v1)) == ["run-sa", "t-sa"]
    beta = {"apiVersion": "tekton.dev/v1beta1", "kind": "PipelineRun", "metadata": {"name": "p"},
            "spec": {"pipelineSpec": {"tasks": tasks}, "serviceAccountName": "run-sa",
                     "taskRunSpecs": [{"pipelineTaskName": "t", "taskServiceAccountName": "t-sa"}]}}
    assert _subjects(yaml.safe_dump(beta)) == ["run-sa", "t-sa"]
    tr = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "r"},
          "spec": {"taskSpec": {"steps": [c]}, "serviceAccountName": "build-bot"}}
    assert _subjects(yaml.safe_dump(tr)) == ["build-bot"]


def test_namespace_option_and_cluster_binding():
    text = SEED_PODS.read_text()
    [binding] = of_kind(generated(harden(text, kube="1.24", namespace="apps").output), "RoleBinding")
    assert binding["metadata"]["namespace"] == "apps"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "default", "namespace": "apps"}]
    [crb] = of_kind(generated(harden(text, kube="1.24", namespace="apps", binding="cluster").output),
                    "ClusterRoleBinding")
    assert crb["metadata"]["name"] == "k8s-harden-restricted"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "default", "namespace": "apps"}]
    result = cli("--kube-version", "1.24", "--binding", "cluster", stdin=text)
    assert result.returncode == 2 and result.stdout == b""
    assert b"--binding cluster" in result.stderr and b"--namespace" in result.stderr


@needs_corpus
def test_names_carry_the_release_or_the_name_prefix():
    text = corpus("alertmanager")
    names = {o["metadata"]["name"] for o in generated(harden(text, kube="1.24").output)}
    assert names == {"k8s-harden-restricted-alertmanager"}
    names = {o["metadata"]["name"] for o in generated(harden(text, kube="1.24", name_prefix="Team A").output)}
    assert names == {"k8s-harden-restricted-team-a"}
    for obj in generated(harden(text, kube="1.24").output):
        assert obj["metadata"]["labels"] == {MANAGED[0]: MANAGED[1], "app.kubernetes.io/instance": "alertmanager"}


# --------------------------------------------------------------------------- versions and --emit
def test_emit_psp_on_1_30_is_a_usage_error_naming_the_reason():
    result = cli("--kube-version", "1.30", "--emit", "psp", stdin=SEED_PODS.read_text())
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode()
    assert "PodSecurityPolicy" in err and "removed in Kubernetes 1.25" in err and "--force" in err


def test_emit_psp_on_1_30_with_force_emits_it():
    result = cli("--kube-version", "1.30", "--emit", "psp", "--force", stdin=SEED_PODS.read_text())
    assert result.returncode == 0, result.stderr
    assert [o["kind"] for o in generated(result.stdout.decode())] == ["PodSecurityPolicy"]


def test_emit_vap_below_1_30_and_unknown_kinds_are_usage_errors():
    result = cli("--kube-version", "1.28", "--emit", "vap", "--namespace", "x", stdin=SEED_PODS.read_text())
    assert result.returncode == 2 and b"1.30" in result.stderr
    result = cli("--emit", "psp,bogus", stdin=SEED_PODS.read_text())
    assert result.returncode == 2 and b"bogus" in result.stderr


@needs_corpus
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.stem)
def test_auto_on_1_30_emits_no_psp_anywhere(path: Path):
    out = harden(path.read_text(), kube="1.30").output
    assert not of_kind(docs_of(out), "PodSecurityPolicy")
    assert "policy/v1beta1" not in out or "policy/v1beta1" in path.read_text()
    assert generated(out) == []  # no Namespace in these streams: nothing to label


def test_emit_none_appends_nothing():
    text = SEED_PODS.read_text()
    assert harden(text, kube="1.24", emit="none").output == harden(text, kube="1.24", emit="none").output
    assert generated(harden(text, kube="1.24", emit="none").output) == []


# --------------------------------------------------------------------------- once, and the same
@needs_corpus
@pytest.mark.parametrize("name", ["ingress-nginx", "helm4-ingress-nginx", "podinfo"])
def test_an_input_of_only_hook_documents_gets_no_policy_objects(name: str):
    from hardener.yamlio import split_stream

    _, docs = split_stream(corpus(name))
    hooks = "".join(d.text for d in docs if d.root == "mapping" and "helm.sh/hook" in (
        (d.load().get("metadata") or {}).get("annotations") or {}))
    assert hooks
    for kube in ("1.24", "1.37"):
        out = harden(hooks, kube=kube, emit="psp,rbac,pss-labels" if kube == "1.24" else "pss-labels,vap",
                     namespace="x").output
        assert generated(out) == []
    assert generated(harden(corpus(name), kube="1.24").output)  # the release pass gets them


@needs_corpus
@pytest.mark.parametrize("name", ["node-exporter", "calico", "vault-csi"])
def test_output_is_deterministic_and_a_second_pass_adds_nothing(name: str):
    args = ("--kube-version", "1.24")
    first = cli(*args, stdin=corpus(name))
    again = cli(*args, stdin=corpus(name))
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout
    second = cli(*args, stdin=first.stdout.decode())
    assert second.stdout == first.stdout
    vap = ("--emit", "vap,pss-labels")
    assert cli(*vap, stdin=corpus(name)).stdout == cli(*vap, stdin=corpus(name)).stdout


def test_generated_objects_come_after_the_input():
    text = SEED_PODS.read_text()
    out = harden(text, kube="1.24").output
    hardened = harden(text, kube="1.24", emit="none").output
    assert out.startswith(hardened)
    assert out[len(hardened):].startswith("---\n")


# --------------------------------------------------------------------------- exceptions (node agents)
def used_by(template: dict) -> dict:
    """What a hardened pod template uses of host access, computed here independently."""
    spec = template["spec"]
    containers = spec.get("initContainers", []) + spec["containers"]
    mounts = [m for c in containers for m in c.get("volumeMounts", [])]
    paths: dict[str, bool] = {}
    for v in spec.get("volumes", []):
        if "hostPath" in v:
            ro = all(m.get("readOnly") is True for m in mounts if m["name"] == v["name"])
            paths[v["hostPath"]["path"]] = paths.get(v["hostPath"]["path"], True) and ro
    ports = {p.get("hostPort") or (p["containerPort"] if spec.get("hostNetwork") else None)
             for c in containers for p in c.get("ports", [])} - {None, 0}
    sc = [c.get("securityContext", {}) for c in containers]
    return {
        "allowedHostPaths": [{"pathPrefix": p, "readOnly": ro} for p, ro in sorted(paths.items())],
        "hostPorts": sorted(ports),
        "allowedCapabilities": sorted({a for s in sc for a in s.get("capabilities", {}).get("add", [])}),
        "privileged": any(s.get("privileged") is True for s in sc),
        "hostNetwork": spec.get("hostNetwork") is True,
        "hostPID": spec.get("hostPID") is True,
        "hostIPC": spec.get("hostIPC") is True,
    }


def covers(psp: dict) -> dict:
    spec = psp["spec"]
    return {"allowedHostPaths": spec.get("allowedHostPaths", []),
            "hostPorts": [p for r in spec.get("hostPorts", []) for p in range(r["min"], r["max"] + 1)],
            "allowedCapabilities": spec.get("allowedCapabilities", []),
            **{k: spec[k] for k in ("privileged", "hostNetwork", "hostPID", "hostIPC")}}


@needs_corpus
@pytest.mark.parametrize("name", NODE_AGENTS)
def test_exception_psp_covers_exactly_what_the_node_agent_uses(name: str):
    out = harden(corpus(name), kube="1.24").output
    objects = generated(out)
    agents = [w for w in hardened_workloads(out) if w["kind"] == "DaemonSet"]
    assert agents
    psps = {p["metadata"]["annotations"].get("k8s-harden.io/exception-for"): p
            for p in of_kind(objects, "PodSecurityPolicy")}
    bindings = of_kind(objects, "RoleBinding")
    for agent in agents:
        ns = agent["metadata"].get("namespace")
        ref = f"DaemonSet {ns + '/' if ns else ''}{agent['metadata']['name']}"
        psp = psps[ref]
        template = pod_template(agent)
        assert covers(psp) == used_by(template)
        # bound to the agent's own service account only
        sa = template["spec"].get("serviceAccountName", "default")
        users = [s for b in bindings if b["roleRef"]["name"] == psp["metadata"]["name"] for s in b["subjects"]]
        assert [s["name"] for s in users] == [sa]
    # the restricted policy is never widened for them
    for psp in of_kind(objects, "PodSecurityPolicy"):
        if "k8s-harden.io/exception-for" not in psp["metadata"]["annotations"]:
            spec = psp["spec"]
            assert not (spec["privileged"] or spec["hostNetwork"] or spec["hostPID"] or spec["hostIPC"])
            assert "hostPath" not in spec["volumes"] and "allowedHostPaths" not in spec
            assert spec["requiredDropCapabilities"] == ["ALL"]
            assert set(spec.get("allowedCapabilities", [])) <= {"NET_BIND_SERVICE"}


@needs_corpus
def test_node_exporter_exception_in_full():
    """Pinned by hand from the chart: read-only /proc, /sys and /, the host network and PID
    namespace, port 9100 (hostNetwork makes containerPorts host ports), uid/gid 65534, no
    token volume (automountServiceAccountToken: false), a read-only root filesystem."""
    [psp] = of_kind(generated(harden(corpus("node-exporter"), kube="1.24").output), "PodSecurityPolicy")
    assert psp["metadata"]["name"] == "k8s-harden-daemonset-node-exporter-prometheus-node-exporter-node-exporter"
    spec = psp["spec"]
    assert spec["volumes"] == ["hostPath"]
    assert spec["allowedHostPaths"] == [{"pathPrefix": p, "readOnly": True} for p in ("/", "/proc", "/sys")]
    assert (spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (True, True, False)
    assert spec["hostPorts"] == [{"min": 9100, "max": 9100}]
    assert spec["runAsUser"] == {"rule": "MustRunAs", "ranges": [{"min": 65534, "max": 65534}]}
    assert spec["fsGroup"] == {"rule": "MustRunAs", "ranges": [{"min": 65534, "max": 65534}]}
    assert (spec["privileged"], spec["allowPrivilegeEscalation"]) == (False, False)
    assert spec["requiredDropCapabilities"] == ["ALL"] and "allowedCapabilities" not in spec
    assert spec["readOnlyRootFilesystem"] is True
    assert spec["forbiddenSysctls"] == ["*"]


@needs_corpus
def test_privileged_root_agent_gets_exactly_privileged_root():
    [psp] = of_kind(generated(harden(corpus("prometheus-smartctl-exporter"), kube="1.24").output), "PodSecurityPolicy")
    spec = psp["spec"]
    assert (spec["privileged"], spec["allowPrivilegeEscalation"]) == (True, True)
    assert spec["runAsUser"] == {"rule": "MustRunAs", "ranges": [{"min": 0, "max": 0}]}
    assert spec["allowedHostPaths"] == [{"pathPrefix": "/dev", "readOnly": False}]
    assert "requiredDropCapabilities" not in spec


# --------------------------------------------------------------------------- Pod Security Admission
PSA_STREAM = """\
apiVersion: v1
kind: Namespace
metadata:
  name: apps
---
apiVersion: v1
kind: Namespace
metadata:
  name: agents
  labels:
    team: infra
---
apiVersion: v1
kind: Namespace
metadata:
  name: tools
---
apiVersion: v1
kind: Namespace
metadata:
  name: empty
---
apiVersion: v1
kind: Namespace
metadata:
  name: pinned
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: agents}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: agent}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: chown, namespace: tools}
spec:
  selector: {matchLabels: {app: chown}}
  template:
    metadata: {labels: {app: chown}}
    spec:
      containers: [{name: c, image: busybox, securityContext: {capabilities: {add: [CHOWN]}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: root, namespace: pinned}
spec:
  containers: [{name: c, image: busybox, securityContext: {runAsUser: 0}}]
"""


def labels_by_namespace(text: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["metadata"].get("labels", {}) for d in of_kind(docs_of(text), "Namespace")}


def psa(level_enforce: str | None, level: str, version: str = "v1.30") -> dict:
    out = {} if level_enforce is None else {"pod-security.kubernetes.io/enforce": level_enforce,
                                            "pod-security.kubernetes.io/enforce-version": version}
    for mode in ("audit", "warn"):
        out |= {f"pod-security.kubernetes.io/{mode}": level, f"pod-security.kubernetes.io/{mode}-version": version}
    return out


def test_pss_labels_at_the_level_the_hardened_workloads_meet():
    outcome = harden(PSA_STREAM, kube="1.30")
    labels = labels_by_namespace(outcome.output)
    assert labels["apps"] == psa("restricted", "restricted")
    assert labels["agents"] == {"team": "infra", **psa("privileged", "restricted")}  # hostNetwork
    assert labels["tools"] == psa("baseline", "restricted")  # adds CHOWN (kept)
    assert labels["empty"] == psa(None, "restricted")  # no workload: nothing to enforce yet
    # labels already set are kept (and the difference reported)
    assert labels["pinned"]["pod-security.kubernetes.io/enforce"] == "restricted"
    [pinned] = [r for r in outcome.results if r.kind == "Namespace" and r.name == "pinned"]
    assert "computed baseline" in pinned.skipped[0].reason
    # the enforced level never rejects a hardened workload of its namespace
    for w in hardened_workloads(outcome.output):
        level = labels[w["metadata"]["namespace"]]["pod-security.kubernetes.io/enforce"]
        t = pod_template(w)
        if w["metadata"]["namespace"] != "pinned":
            assert pss.evaluate(t.get("metadata"), t["spec"], level, (1, 30)) == []
    assert not of_kind(docs_of(outcome.output), "PodSecurityPolicy")


def test_pss_labels_through_the_cli_are_written_and_reported():
    result = helpers.invoke("--kube-version", "1.30", "--report", "text", input=PSA_STREAM)
    assert result.exit_code == 0, result.stderr
    assert labels_by_namespace(result.stdout)["apps"]["pod-security.kubernetes.io/enforce-version"] == "v1.30"
    pinned = labels_by_namespace(result.stdout)["pinned"]
    assert pinned["pod-security.kubernetes.io/enforce"] == "restricted"  # kept
    assert pinned["pod-security.kubernetes.io/warn"] == "restricted"  # added
    assert "Namespace apps (document 0): 1 change(s)" in result.stderr
    assert "skipped pss-labels: kept: label pod-security.kubernetes.io/enforce=restricted" in result.stderr
    assert result.stdout.startswith("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n")


def test_a_workload_without_namespace_counts_for_every_namespace_unless_namespace_is_given():
    stream = ("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
              "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\n"
              "apiVersion: v1\nkind: Pod\nmetadata: {name: root}\n"
              "spec: {containers: [{name: c, image: x, securityContext: {runAsUser: 0}}]}\n")
    levels = {ns: labels["pod-security.kubernetes.io/enforce"]
              for ns, labels in labels_by_namespace(harden(stream, kube="1.30").output).items()}
    assert levels == {"a": "baseline", "b": "baseline"}  # Helm may install it into either
    labels = labels_by_namespace(harden(stream, kube="1.30", namespace="a").output)
    assert labels["a"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert "pod-security.kubernetes.io/enforce" not in labels["b"]


@needs_corpus
def test_pss_labels_for_a_node_agent_namespace():
    stream = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n---\n" + corpus("node-exporter")
    labels = labels_by_namespace(harden(stream, kube="1.37").output)["monitoring"]
    assert labels == psa("privileged", "restricted", "v1.37")


# --------------------------------------------------------------------------- schemas
def validate_all(objects: list[dict], version: str) -> list[str]:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.utils.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}")
    return errors


@needs_corpus
@pytest.mark.parametrize("kube", ["1.30", "1.37"])
def test_modern_objects_validate_against_the_openapi_schema(kube: str, monkeypatch):
    # kubernetes-validate reads its multi-megabyte definitions file on every call
    utils = kubernetes_validate.utils
    monkeypatch.setattr(utils, "schema_contents", functools.lru_cache(maxsize=None)(utils.schema_contents))
    objects = generated(harden(PSA_STREAM, kube=kube, emit="pss-labels,vap,rbac").output)
    objects += of_kind(docs_of(harden(PSA_STREAM, kube=kube, emit="pss-labels").output), "Namespace")
    for name in NODE_AGENTS + ("vault-csi", "prometheus-windows-exporter", "argo-rollouts-examples"):
        objects += generated(harden(corpus(name), kube=kube, emit="vap,rbac", namespace="ns").output)
    assert {o["kind"] for o in objects} >= {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                                            "ClusterRole", "RoleBinding", "Namespace"}
    assert validate_all(objects, kube) == []


@pytest.fixture(scope="session")
def k8s124_python() -> Path:
    """A Python with kubernetes-validate 1.24 (PodSecurityPolicy-era schemas), kept in
    the git-ignored .venv-k8s124/ and created on first use."""
    python = K8S124_VENV / "bin" / "python"
    probe = [str(python), "-c", "import kubernetes_validate.utils as u; assert '1.24.0' in u.all_versions()"]
    if not python.exists() or subprocess.run(probe, capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(K8S124_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *K8S124_PACKAGES], check=True)
    return python


VALIDATE_124 = """
import functools, json, sys
import jsonschema
import kubernetes_validate


Resolver = jsonschema.RefResolver
fetch = functools.lru_cache(maxsize=None)(lambda uri: Resolver("", {}).resolve_remote(uri))


class CachingResolver(Resolver):  # the 1.24 release re-reads its definitions for every object
    def resolve_remote(self, uri):
        return fetch(uri)


jsonschema.RefResolver = CachingResolver
errors = []
for obj in json.load(sys.stdin):
    try:
        kubernetes_validate.validate(obj, "1.24.0", strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(map(str, exc.path))
        errors.append("%s %s: %s: %s" % (obj["kind"], obj["metadata"]["name"], path, exc.message))
json.dump(errors, sys.stdout)
"""


@needs_corpus
def test_psp_era_objects_validate_against_the_1_24_schema(k8s124_python: Path):
    objects = generated(harden(SEED_PODS.read_text(), kube="1.24").output)
    objects += generated(harden(SEED_PODS.read_text(), kube="1.24", profile="strict", namespace="apps",
                                binding="cluster").output)
    for path in sorted(CORPUS.glob("*.yaml")):
        objects += generated(harden(path.read_text(), kube="1.24").output)
    objects += generated(harden(corpus("calico"), kube="1.24", binding="cluster").output)
    assert {o["kind"] for o in objects} == {"PodSecurityPolicy", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
    result = subprocess.run([str(k8s124_python), "-c", VALIDATE_124], input=json.dumps(objects).encode(),
                            capture_output=True, check=True)
    assert json.loads(result.stdout) == []


# --------------------------------------------------------------------------- the CEL policy
class CelPolicy:
    """A ValidatingAdmissionPolicy run the way the API server runs it: match conditions,
    then variables in order, then validations (an evaluation error fails: failurePolicy Fail)."""

    def __init__(self, vap: dict):
        self.env = celpy.Environment()
        spec = vap["spec"]
        self.conditions = [self._compile(c["expression"]) for c in spec.get("matchConditions", [])]
        self.variables = [(v["name"], self._compile(v["expression"])) for v in spec["variables"]]
        self.validations = [(v["message"], self._compile(v["expression"])) for v in spec["validations"]]

    def _compile(self, expression: str):
        return self.env.program(self.env.compile(expression))

    def matches(self, obj: dict, namespace: str, old: dict | None = None, **user) -> bool:
        activation = self._activation(obj, namespace, old, **user)
        for prog in self.conditions:  # an error in a condition is a bug of the policy, not a "no"
            assert not isinstance(self._evaluate(prog, activation), Exception), self._evaluate(prog, activation)
        return all(self._true(self._evaluate(prog, activation)) for prog in self.conditions)

    def failures(self, obj: dict, namespace: str = "ns", **user) -> list[str]:
        activation = self._with_variables(obj, namespace, **user)
        return [msg for msg, prog in self.validations if not self._true(self._evaluate(prog, activation))]

    def exempt(self, obj: dict, namespace: str = "ns", **user) -> bool:
        """Is the object one of an exception workload's (any `exempt<N>` variable true)?"""
        activation = self._with_variables(obj, namespace, **user)
        return any(self._true(activation["variables"][celpy.celtypes.StringType(name)])
                   for name, _ in self.variables if re.fullmatch(r"exempt\d+", name))

    def _with_variables(self, obj: dict, namespace: str, **user) -> dict:
        activation = self._activation(obj, namespace, **user)
        variables = celpy.celtypes.MapType()
        activation["variables"] = variables
        for name, prog in self.variables:
            variables[celpy.celtypes.StringType(name)] = self._evaluate(prog, activation)
        return activation

    @staticmethod
    def _evaluate(prog, activation):
        """The value, or the error as a value (an error in a variable fails what uses it).
        cel-python raises TypeError where cel-go returns a "no such overload" error; for `||`
        on a non-bool it fails while formatting that TypeError (IndexError from
        celparser.tree_dump), which is the same error."""
        try:
            return prog.evaluate(activation)
        except (celpy.CELEvalError, TypeError, IndexError) as exc:
            return exc

    @staticmethod
    def _activation(obj: dict, namespace: str, old: dict | None = None,
                    user: str = "system:kube-controller-manager") -> dict:
        """CREATE, or with `old` an UPDATE from it (oldObject is null on CREATE), by `user`
        (by default the controllers, which create the pods and ReplicaSets of workloads)."""
        return {"object": celpy.json_to_cel(helpers.without_nulls(obj)),
                "oldObject": celpy.json_to_cel(helpers.without_nulls(old)),
                "request": celpy.json_to_cel({"namespace": namespace, "userInfo": {"username": user},
                                              "operation": "CREATE" if old is None else "UPDATE"})}

    @staticmethod
    def _true(value) -> bool:
        return isinstance(value, celpy.celtypes.BoolType) and bool(value)


#: Nodes with AppArmor: the VAP tests cover the appArmor control too.
APPARMOR_NODES = "appArmor,unprivilegedPortSysctl"


def vap_of(text: str, profile: str = "restricted", kube: str = "1.37", namespace: str = "ns",
           node_features: str = APPARMOR_NODES):
    out = harden(text, kube=kube, profile=profile, emit="vap", namespace=namespace,
                 node_features=node_features).output
    [vap] = of_kind(generated(out), "ValidatingAdmissionPolicy")
    [binding] = of_kind(generated(out), "ValidatingAdmissionPolicyBinding")
    return out, vap, binding


def seed_pod(profile: str = "strict") -> dict:
    out, _, _ = vap_of(SEED_PODS.read_text(), profile)
    return of_kind(docs_of(out), "Pod")[0]


def test_vap_covers_the_profile_controls_and_scopes_to_the_stream_namespaces():
    _, vap, binding = vap_of(SEED_PODS.read_text(), "strict")
    named = {v["message"].split(", ")[1].split(":")[0] for v in vap["spec"]["validations"]}
    controls = {n for n in named if not n.startswith("PSS ")}
    assert {n.rsplit(" ", 1)[1] for n in named - controls} == set(pss.active_checks("restricted", (1, 37)))
    assert controls == {"hostAccess", "privileged", "capabilities", "allowPrivilegeEscalation", "runAsNonRoot",
                        "runAsUser", "runAsGroup", "fsGroup", "seccompProfile", "appArmor",
                        "readOnlyRootFilesystem", "seLinux", "procMount", "sysctls"}
    assert any("drop capability ALL" in v["message"] for v in vap["spec"]["validations"])
    _, default_nodes, _ = vap_of(SEED_PODS.read_text(), "strict", node_features="unprivilegedPortSysctl")
    assert not [v for v in default_nodes["spec"]["validations"] if ", appArmor:" in v["message"]]
    assert binding["spec"]["policyName"] == vap["metadata"]["name"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ns"]}]}
    rules = {r for rule in vap["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]}
    assert rules == {"pods", "pods/ephemeralcontainers", "podtemplates", "replicationcontrollers", "deployments", "statefulsets",
                     "daemonsets", "replicasets", "jobs", "cronjobs"}


def test_vap_needs_a_namespace_other_than_the_system_ones():
    result = cli("--emit", "vap", stdin=SEED_PODS.read_text())
    assert result.returncode == 2 and b"--namespace" in result.stderr
    result = cli("--emit", "vap", "--namespace", "kube-system", stdin=SEED_PODS.read_text())
    assert result.returncode == 2 and b"system namespaces (kube-system)" in result.stderr


#: One change per control that takes a compliant pod out of the profile.
MUTATIONS = {
    "hostAccess": lambda p: p["spec"].update(hostNetwork=True),
    "privileged": lambda p: p["spec"]["containers"][0]["securityContext"].update(privileged=True),
    "capabilities": lambda p: p["spec"]["containers"][0]["securityContext"]["capabilities"].update(
        drop=[], add=["SYS_ADMIN"]),
    "allowPrivilegeEscalation": lambda p: p["spec"]["containers"][0]["securityContext"].update(
        allowPrivilegeEscalation=True),
    "runAsNonRoot": lambda p: p["spec"]["securityContext"].update(runAsNonRoot=False),
    "runAsUser": lambda p: p["spec"]["containers"][0]["securityContext"].update(runAsUser=0),
    "runAsGroup": lambda p: p["spec"]["securityContext"].update(runAsGroup=0),
    "fsGroup": lambda p: p["spec"]["securityContext"].pop("fsGroup"),
    "seccompProfile": lambda p: p["spec"]["securityContext"].update(seccompProfile={"type": "Unconfined"}),
    "appArmor": lambda p: p["spec"]["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
    "readOnlyRootFilesystem": lambda p: p["spec"]["containers"][0]["securityContext"].update(
        readOnlyRootFilesystem=False),
    # check_seLinuxOptions.go, check_procMount.go, check_sysctls.go
    "seLinux": lambda p: p["spec"]["containers"][0]["securityContext"].update(
        seLinuxOptions={"type": "spc_t"}),
    "procMount": lambda p: p["spec"]["containers"][0]["securityContext"].update(procMount="Unmasked"),
    "sysctls": lambda p: p["spec"]["securityContext"].update(
        sysctls=[{"name": "net.core.somaxconn", "value": "1024"}]),
}


def test_vap_cel_admits_the_hardened_seed_pod_in_every_workload_kind():
    _, vap, _ = vap_of(SEED_PODS.read_text(), "strict")
    policy = CelPolicy(vap)
    pod = seed_pod()
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod["spec"]}
    wrapped = [pod,
               {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template}},
               {"kind": "CronJob", "metadata": {"name": "c"},
                "spec": {"jobTemplate": {"spec": {"template": template}}}},
               {"kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}]
    for obj in wrapped:
        assert policy.matches(obj, "ns")
        assert policy.failures(obj) == [], obj["kind"]


@pytest.mark.parametrize("control", sorted(MUTATIONS))
def test_vap_cel_rejects_a_pod_breaking_one_control(control: str):
    _, vap, _ = vap_of(SEED_PODS.read_text(), "strict")
    pod = copy.deepcopy(seed_pod())
    MUTATIONS[control](pod)
    failures = CelPolicy(vap).failures(pod)
    own = [f for f in failures if ", PSS " not in f]  # the PSS checks that fail too: tests/test_vap_pss.py
    assert own and all(f", {control}: " in f for f in own)


def test_vap_cel_accepts_apparmor_annotations_and_exempts_windows_from_linux_controls():
    _, vap, _ = vap_of(SEED_PODS.read_text(), "strict")
    policy = CelPolicy(vap)
    pod = copy.deepcopy(seed_pod())
    del pod["spec"]["securityContext"]["appArmorProfile"]
    pod["metadata"]["annotations"] = {"container.apparmor.security.beta.kubernetes.io/ubuntu-container":
                                      "localhost/custom"}
    assert policy.failures(pod) == []
    # runAsNonRoot is the one identity field Windows pods have, and PSS restricted asks for it
    windows = {"kind": "Pod", "metadata": {"name": "w"},
               "spec": {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
                        "containers": [{"name": "c", "image": "x"}]}}
    assert policy.failures(windows) == []
    windows["spec"]["hostNetwork"] = True
    assert [f for f in policy.failures(windows)] == [
        "k8s-harden profile strict, PSS restricted check hostNamespaces: hostNetwork, hostPID and hostIPC must be "
        "unset or false",
        "k8s-harden profile strict, hostAccess: must not use the host's network, PID or IPC namespace"]


def owned_pod(workload: dict) -> dict:
    """The pod a controller would create from the workload's template."""
    kind, name = workload["kind"], workload["metadata"]["name"]
    owner = {"Deployment": ("ReplicaSet", f"{name}-5d4f8c7b9"), "CronJob": ("Job", f"{name}-29000000")}.get(
        kind, (kind, name))
    template = copy.deepcopy(pod_template(workload))
    meta = template.get("metadata") or {}
    if kind != "Pod":
        meta = {**meta, "name": f"{name}-abcde", "ownerReferences": [{"kind": owner[0], "name": owner[1]}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


@needs_corpus
@pytest.mark.parametrize("name", ("node-exporter", "fluent-bit", "prometheus-smartctl-exporter", "vault-csi",
                                  "ingress-nginx", "etcd", "prometheus-windows-exporter", "argo-rollouts"))
def test_vap_cel_on_the_corpus_admits_hardened_workloads_and_exempts_only_the_exceptions(name: str):
    out, vap, binding = vap_of(corpus(name))
    policy = CelPolicy(vap)
    exemptions = " ".join(v["expression"] for v in vap["spec"]["variables"] if re.fullmatch(r"exempt\d+", v["name"]))
    for workload in hardened_workloads(out):
        ns = workload["metadata"].get("namespace", "ns")
        assert ns in binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"]
        exempt = f"object.kind == '{workload['kind']}' && object.metadata.name == '{workload['metadata']['name']}'" \
            in exemptions
        for obj in (workload, owned_pod(workload)):
            assert policy.matches(obj, ns), (obj["kind"], obj["metadata"]["name"])
            assert policy.failures(obj, ns) == [], (obj["kind"], obj["metadata"]["name"])  # admitted as hardened
            assert policy.exempt(obj, ns) is exempt
        # an exception really needs its exemption: the same pod by another author is denied
        stray = copy.deepcopy(owned_pod(workload))
        stray["metadata"] = {"name": "stray-pod"}
        assert bool(policy.failures(stray, ns, user="alice")) is exempt, workload["metadata"]["name"]


EXCEPTIONS_STREAM = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web.v2, namespace: apps}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: c, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  template:
    spec:
      containers: [{name: c, image: x}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: apps}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          volumes: [{name: host, hostPath: {path: /srv}}]
          containers: [{name: c, image: x, volumeMounts: [{name: host, mountPath: /srv}]}]
"""


def owned(kind: str, name: str, owner_kind: str, owner: str) -> dict:
    return {"kind": kind, "metadata": {"name": name, "ownerReferences": [{"kind": owner_kind, "name": owner}]},
            "spec": {"template": {"spec": {"containers": []}}, "containers": []}}


@pytest.mark.parametrize("obj, namespace, exempt", [
    ({"kind": "Deployment", "metadata": {"name": "web.v2"}}, "apps", True),
    (owned("ReplicaSet", "web.v2-5d4f8c7b9", "Deployment", "web.v2"), "apps", True),
    (owned("Pod", "web.v2-5d4f8c7b9-x1", "ReplicaSet", "web.v2-5d4f8c7b9"), "apps", True),
    (owned("Pod", "web.v2-5d4f8c7b9-x1", "ReplicaSet", "web.v2-5d4f8c7b9"), "other", False),
    (owned("Pod", "web-5d4f8c7b9-x1", "ReplicaSet", "web-5d4f8c7b9"), "apps", False),
    (owned("Pod", "webxv2-5d4f8c7b9-x1", "ReplicaSet", "webxv2-5d4f8c7b9"), "apps", False),  # '.' is literal
    (owned("Pod", "p", "ReplicaSet", "web.v2-extra-5d4f8c7b9"), "apps", False),
    (owned("Job", "backup-29000000", "CronJob", "backup"), "apps", True),
    (owned("Pod", "backup-29000000-x1", "Job", "backup-29000000"), "apps", True),
    (owned("Pod", "backup-extra-29000000-x1", "Job", "backup-extra-29000000"), "apps", False),
])
def test_vap_exemptions_follow_ownership_to_the_exceptions_pods(obj: dict, namespace: str, exempt: bool):
    _, vap, _ = vap_of(EXCEPTIONS_STREAM, namespace="apps")
    assert CelPolicy(vap).exempt(obj, namespace) is exempt


def test_cel_string_literals_cannot_change_the_expression():
    from hardener.policy.vap import _cel_str

    env = celpy.Environment()
    for text in ("plain", "it's", "back\\slash'", "x') || true || ('"):
        assert env.program(env.compile(_cel_str(text))).evaluate({}) == text


POD_KEYS = ["hostNetwork", "hostPID", "hostIPC", "volumes", "hostPath", "path", "name", "securityContext",
            "containers", "initContainers", "ports", "hostPort", "containerPort", "capabilities", "add", "drop",
            "privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups", "sysctls",
            "seccompProfile", "appArmorProfile", "type", "localhostProfile", "readOnlyRootFilesystem",
            "procMount", "windowsOptions", "hostProcess", "os", "nodeSelector", "csi", "driver", "volumeMounts",
            "readOnly", "serviceAccountName", "automountServiceAccountToken", "annotations", "labels"]


def any_shapes():
    from hypothesis import strategies as st

    leaf = st.one_of(st.none(), st.booleans(), st.integers(-1, 70000), st.text(max_size=4),
                     st.sampled_from(["ALL", "RuntimeDefault", "Localhost", "Unconfined", "/", "c", "windows"]))
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(POD_KEYS), inner, max_size=5), max_leaves=25)


def test_policy_derivation_never_raises_on_any_template_shape():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hardener.policy.envelope import Envelope, violations
    from hardener.policy.psp import psp_spec
    from hardener.policy.usage import usage_of
    from hardener.policy.vap import CEL_VARIABLES, cel_validations
    from hardener.profile import load_profile
    from hardener.yamlio import dump_data

    env = Envelope.of(load_profile("strict"), (1, 24))
    policy = CelPolicy({"spec": {
        "variables": [{"name": n, "expression": e} for n, e in CEL_VARIABLES],
        "validations": [{"message": m, "expression": e} for _, e, m in cel_validations(env)]}})

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries({"metadata": any_shapes(), "spec": any_shapes()}))
    def check(template):
        usage = usage_of([template], (1, 24))
        violations(usage, env)
        for envelope in (env, None):
            spec, annotations = psp_spec(usage, envelope, (1, 24))
            dump_data({"spec": spec, "annotations": annotations})
        if isinstance(template["spec"], dict):
            policy.failures({"kind": "Pod", **template})  # CEL errors fail the pod, never Python

    check()


@needs_corpus
def test_helm4_input_gives_generated_objects_a_chart_file():
    out = harden((CORPUS / "helm4-ingress-nginx.yaml").read_text(), kube="1.24")
    objects = generated(out.output)
    assert objects
    for o in objects:
        assert o["metadata"]["annotations"]["postrenderer.helm.sh/postrender-filename"] == \
            "ingress-nginx/templates/k8s-harden-policy.yaml"
    plain = generated(harden((CORPUS / "ingress-nginx.yaml").read_text(), kube="1.24").output)
    assert all("postrenderer.helm.sh/postrender-filename" not in (o["metadata"].get("annotations") or {})
               for o in plain)


def test_vap_expressions_stay_below_the_servers_expression_limit():
    """A 1.37 API server refused the policy of Tekton's examples when all exemptions were
    one match condition of 106,288 code points ("expression code point size exceeds limit",
    100000). Each exempt workload is its own variable now, and each validation names them
    (tests/server/test_server_vap.py creates the policy on the real server)."""
    from hardener.policy.vap import EXPRESSION_LIMIT

    from helpers import CORPUS

    out = harden((CORPUS / "crds-tekton.yaml").read_text(), kube="1.37", emit="vap", namespace="apps").output
    policy = next(d for d in helpers.load_all(out) if d and d.get("kind") == "ValidatingAdmissionPolicy")
    exempt = [v for v in policy["spec"]["variables"] if re.fullmatch(r"exempt\d+", v["name"])]
    assert len(exempt) > 10
    expressions = [e["expression"] for part in ("variables", "validations", "matchConditions")
                   for e in policy["spec"][part]]
    assert max(len(e) for e in expressions) < EXPRESSION_LIMIT
    assert len(policy["spec"]["matchConditions"]) <= 64  # validation.go: at most 64 matchConditions


def test_vap_exemption_matches_a_generated_name():
    """A workload with only generateName (an Argo Workflow) is exempt under the names the API
    server generates from it (generateName + 5 characters), never under the empty name."""
    text = ("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: steps-}\nspec:\n"
            "  entrypoint: main\n  templates:\n  - name: main\n    container:\n      image: busybox\n"
            "      securityContext: {privileged: true}\n")
    out = harden(text, kube="1.37", emit="vap", namespace="apps").output
    policy = next(d for d in helpers.load_all(out) if d and d.get("kind") == "ValidatingAdmissionPolicy")
    expr = next(v["expression"] for v in policy["spec"]["variables"] if v["name"] == "exempt0")
    assert "o.name.matches('^steps\\\\-[a-z0-9]{5}$')" in expr and "o.name == ''" not in expr


CHART_UID = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: data}
spec:
  template:
    spec:
      securityContext: {runAsUser: 1001}
      containers:
      - {name: db, image: bitnami/postgresql:16}
      - {name: metrics, image: bitnami/postgres-exporter:0.15}
      - {name: sidecar, image: busybox, securityContext: {runAsGroup: 1001}}
"""


def test_vap_exemption_is_as_narrow_as_the_reason():
    """Issue #23: a uid the chart chose keeps its image's group, so the pods fail the
    policy's runAsGroup check — the exemption must cover that check, for those containers,
    be reported (a skip, a note), and nothing else: the same pod with a privileged
    container, or another workload's, is denied."""
    r = helpers.invoke("--emit", "vap", "--kube-version", "1.37", "--report", "json", input=CHART_UID)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stderr)
    skips = report["resources"][0]["skipped"]
    assert {(s["control"], s["container"], s["kind"]) for s in skips} == {
        ("runAsGroup", "db", "kept-identity"), ("runAsGroup", "metrics", "kept-identity"),
        ("fsGroup", None, "kept-identity")}
    assert any("Deployment data/db is exempt from fsGroup [pod], runAsGroup [db, metrics]" in n
               for n in report["summary"]["notes"]), report["summary"]
    vap = next(d for d in helpers.load_all(r.stdout) if d and d["kind"] == "ValidatingAdmissionPolicy")
    exempted = [v for v in vap["spec"]["validations"] if "variables.exempt0" in v["expression"]]
    assert sorted(v["message"].split(", ")[1].split(":")[0] for v in exempted) == ["fsGroup", "runAsGroup"]
    policy = CelPolicy(vap)
    workload = next(d for d in hardened_workloads(r.stdout))
    pod = owned_pod(workload)
    assert policy.failures(pod, "data") == []
    privileged = copy.deepcopy(pod)
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True
    assert [f.split(", ", 1)[1] for f in policy.failures(privileged, "data")] == [
        "PSS restricted check privileged: containers must not be privileged",
        "privileged: containers must not be privileged"]
    # the sidecar runs with its own group: a pod where it has none is denied
    no_group = copy.deepcopy(pod)
    del no_group["spec"]["containers"][2]["securityContext"]["runAsGroup"]
    assert any("runAsGroup" in f for f in policy.failures(no_group, "data"))
    # the pod by another author, or in another namespace: checked in full
    assert policy.failures({**pod, "metadata": {"name": "db-by-hand"}}, "data", user="alice")
    assert policy.failures(pod, "other")


def test_workloads_that_use_the_same_share_one_usage():
    """collect_workloads keeps one Usage per distinct one (2,000 equal Deployments held
    8 MB of copies): equal templates share it, a different one (a hostPort) has its own, and
    a StatefulSet's claim templates still add persistentVolumeClaim to its own."""
    from hardener.options import build_options
    from hardener.policy.stream import collect_workloads

    def deploy(name, kind="Deployment", port=None, claims=False):
        c = {"name": "c", "image": "x", **({"ports": [{"containerPort": port, "hostPort": port}]} if port else {})}
        spec = {"selector": {}, "template": {"metadata": {}, "spec": {"containers": [c]}}}
        if claims:
            spec["volumeClaimTemplates"] = [{"metadata": {"name": "d"}}]
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}

    text = helpers.dump(deploy("a"), deploy("b"), deploy("c", port=8080), deploy("d", "StatefulSet", claims=True))
    out = helpers.harden(text, emit="none")
    by_name = {w.result.name: w.usage for w in collect_workloads(out.results, build_options())}
    assert by_name["a"] is by_name["b"]
    assert by_name["c"] is not by_name["a"] and by_name["c"].host_ports == {8080}
    assert "persistentVolumeClaim" in by_name["d"].volumes and "persistentVolumeClaim" not in by_name["a"].volumes
