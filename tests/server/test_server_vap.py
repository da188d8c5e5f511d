"""The emitted ValidatingAdmissionPolicy on a real API server (1.30 and newer): its Pod Security
checks give `audit`'s verdict, the hardened output of the same profile is admitted by it
(down to the pods the controllers create), and its exemptions let nothing else in.

The policies are the CLI's own output (`--emit vap`), installed for real; only the name is
made unique per test (a replaced policy takes a moment to reach the server's policy cache)
and, for the verdict comparison, the binding's action is Warn so every failing validation
comes back as a warning instead of the first one as a denial.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from functools import lru_cache

import pytest

from helpers import harden, invoke, load_all
from kube_server import ADMIN_TOKEN, DEPLOYER, KUBE_VERSIONS, ApiError, KubeServer, count
from test_server_admission import STREAMS, TABLE, _items, _minor, _name, pod_of, referenced

from hardener.kube.workloads import find_pod_templates

VAP_VERSIONS = [v for v in KUBE_VERSIONS if int(v.split(".")[1]) >= 30]
PSS_CHECK = re.compile(r"PSS (?:baseline|restricted) check (\w+):")
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
PRIVILEGED_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                  "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
_installed: dict[str, list[dict]] = {}


def policy_objects(text: str) -> tuple[list[dict], list[dict]]:
    """(the stream's documents, the VAP and its binding) of a CLI output."""
    docs = _items(load_all(text))
    policy = [d for d in docs if d.get("kind", "").startswith("ValidatingAdmissionPolicy")]
    return [d for d in docs if d not in policy], policy


def install(server: KubeServer, policy: list[dict], probe_namespace: str, action: str = "Deny") -> str:
    """Install the policy objects under a fresh name (replacing the previous test's) and wait
    until the server enforces them; returns the name."""
    name = f"{policy[0]['metadata']['name']}-{uuid.uuid4().hex[:6]}"
    objs = copy.deepcopy(policy)
    for o in objs:
        o["metadata"]["name"] = name
        if o["kind"].endswith("Binding"):
            o["spec"]["policyName"] = name
            o["spec"]["validationActions"] = [action]
    for old in _installed.pop(server.version, []):
        path = server.path_of(old, None)
        try:
            server.request("DELETE", f"{path}/{old['metadata']['name']}")
        except ApiError as e:
            assert e.status == 404, e
    for o in objs:
        server.create(o, dry_run=False)
    _installed[server.version] = objs
    server.namespace(probe_namespace) if not _exists(server, probe_namespace) else None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        said = " ".join(_verdict(server, PRIVILEGED_POD, probe_namespace))
        if "violates PodSecurity" in said:
            # PodSecurity runs before the policy: a namespace left labelled by another test
            pytest.fail(f"namespace {probe_namespace} enforces Pod Security labels: {said}", pytrace=False)
        if f"'{name}'" in said and not any(f"'{o['metadata']['name']}'" in said for o in policy):
            return name
        time.sleep(0.2)
    pytest.fail(f"policy {name} not enforced after 30 s", pytrace=False)


def _exists(server: KubeServer, namespace: str) -> bool:
    try:
        server.request("GET", f"/api/v1/namespaces/{namespace}")
        return True
    except ApiError:
        return False


def _pod_security_labels_as_in(server: KubeServer, namespace: str, docs: list[dict]) -> None:
    """The namespace's Pod Security labels as the stream's own Namespace sets them, none if
    the stream has no such Namespace: an earlier test's labels (restricted, say) would judge a
    baseline profile's output by another level than its own policy's."""
    mine = next(((d.get("metadata") or {}).get("labels") or {} for d in docs
                 if d.get("kind") == "Namespace" and (d.get("metadata") or {}).get("name") == namespace), {})
    have = server.request("GET", f"/api/v1/namespaces/{namespace}")["metadata"].get("labels") or {}
    labels = {k: None for k in have if k.startswith("pod-security.kubernetes.io/")}
    labels.update({k: v for k, v in mine.items() if k.startswith("pod-security.kubernetes.io/")})
    if labels:
        server.request("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": labels}},
                       content_type="application/merge-patch+json")


def _verdict(server: KubeServer, body: dict, namespace: str, token: str = ADMIN_TOKEN) -> list[str]:
    """The policy's say on a dry-run create: its warnings, or its denial."""
    try:
        server.create(body, namespace, token=token, field_validation="Ignore")
        return [w for w in server.warnings if "ValidatingAdmissionPolicy" in w]
    except ApiError as e:
        return [e.message]


# --------------------------------------------------------------------------- the verdict

def audit_checks(text: str, level: str, version: str) -> dict[tuple, set]:
    """(kind, namespace, name, template pointer) -> the PSS checks `audit` says fail."""
    result = invoke("audit", "--format", "json", "--level", level, "--kube-version", _minor(version), input=text)
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    out: dict[tuple, set] = {}
    for r in report["resources"]:
        for t in r["podTemplates"]:
            out[(r["kind"], r["namespace"] or "", r["name"], t["pointer"])] = set()
    for f in report["findings"]:
        if f["group"] == "pss":
            out.setdefault((f["kind"], f["namespace"] or "", f["name"], f["podTemplate"]), set()).add(f["check"])
    return out


@lru_cache(maxsize=None)
def hardened(name: str, version: str, profile: str = "restricted") -> str:
    path = next(p for p in STREAMS if _name(p) == name)
    return harden(path.read_text(), profile=profile, kube=_minor(version)).output


def disagreements(server: KubeServer, text: str, level: str, namespace: str) -> list:
    """Templates where the policy's failing PSS checks differ from audit's."""
    expected = audit_checks(text, level, server.version)
    seen: dict[tuple, int] = {}
    found = []
    for i, doc in enumerate(_items(load_all(text))):
        meta = doc.get("metadata") or {}
        for j, pt in enumerate(find_pod_templates(doc, TABLE)):
            key = (doc.get("kind"), meta.get("namespace") or "", meta.get("name"), pt.pointer)
            seen[key] = seen.get(key, 0) + 1
            said = _verdict(server, pod_of(pt.resource, pt.template, f"pod-{i}-{j}"), namespace)
            if any("ValidatingAdmissionPolicy" not in s for s in said):
                count("VAP verdict", server.version, "pods the API rejects before admission")
                continue
            got = {m.group(1) for s in said for m in PSS_CHECK.finditer(s)}
            if key in expected and seen[key] == 1:
                count("VAP verdict", server.version, "pods compared")
                if got != expected[key]:
                    found.append((key, {"server": sorted(got), "audit": sorted(expected[key])}))
                else:
                    count("VAP verdict", server.version, "pods agreeing")
    return found


@pytest.fixture(scope="module", params=VAP_VERSIONS)
def server(request, cluster) -> KubeServer:
    return cluster.server(request.param)


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_the_policys_pss_verdict_is_audits_on_the_corpus_before_and_after_hardening(server, level):
    _, policy = policy_objects(harden(CONFIGMAP, profile=level, kube=_minor(server.version), emit="vap",
                                      namespace=f"verdict-{level}").output)
    ns = f"verdict-{level}"
    server.namespace(ns, service_accounts=["default"])
    install(server, policy, ns, action="Warn")
    found = []
    for path in STREAMS:
        for text in (path.read_text(), hardened(_name(path), server.version)):
            for sa in referenced(server, _items(load_all(text))):
                server.service_account(ns, sa)
            found += [(_name(path), *d) for d in disagreements(server, text, level, ns)]
    assert found == []


def test_the_verdict_comparison_fails_when_a_check_is_flipped(newest):
    """Flip one check of the emitted policy (hostPorts accepts any port): a pod with a hostPort
    now passes on the server where audit fails it, and the comparison reports it."""
    if int(newest.version.split(".")[1]) < 30:
        pytest.skip("no VAP before 1.30")
    _, policy = policy_objects(harden(CONFIGMAP, kube=_minor(newest.version), emit="vap",
                                      namespace="verdict-flipped").output)
    flipped = copy.deepcopy(policy)
    for v in flipped[0]["spec"]["validations"]:
        if "check hostPorts" in v["message"]:
            v["expression"] = "true"
    newest.namespace("verdict-flipped")
    install(newest, flipped, "verdict-flipped", action="Warn")
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n"
            "    image: nginx\n    ports: [{containerPort: 80, hostPort: 80}]\n")
    found = disagreements(newest, text, "baseline", "verdict-flipped")
    assert found and "hostPorts" in found[0][1]["audit"] and "hostPorts" not in found[0][1]["server"]


# --------------------------------------------------------------------------- own output

#: kind -> (the child kind its controller creates, that controller's service account, the
#: child's name suffix); then the pod, created by the child's controller
#: (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go names them)
CHILDREN = {"Deployment": ("ReplicaSet", "deployment-controller", "-5d4f8c7b9"),
            "CronJob": ("Job", "cronjob-controller", "-29012345")}
POD_CREATORS = {"ReplicaSet": "replicaset-controller", "Job": "job-controller", "DaemonSet": "daemon-set-controller",
                "StatefulSet": "statefulset-controller", "ReplicationController": "replication-controller"}


def _owner(kind: str, name: str) -> dict:
    api = {"ReplicaSet": "apps/v1", "Deployment": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1",
           "Job": "batch/v1", "CronJob": "batch/v1", "ReplicationController": "v1"}.get(kind, "example.com/v1")
    return {"apiVersion": api, "kind": kind, "name": name, "uid": str(uuid.uuid4()), "controller": True}


def controller_requests(server: KubeServer, doc: dict) -> list[tuple[str, dict, str]]:
    """(who, body, token) for the object and what its controllers create from it: the
    ReplicaSet of a Deployment, the Job of a CronJob, then each pod with its owner reference,
    each created by the controller's own service account."""
    kind, meta = doc.get("kind"), doc.get("metadata") or {}
    # a generateName is completed by the API server: 5 random characters (SimpleNameGenerator)
    name = meta.get("name") or f"{meta.get('generateName') or 'x-'}a1b2c"
    out = [("admin", doc, ADMIN_TOKEN)]
    owner_kind, owner_name = kind, name
    if kind in CHILDREN:
        child_kind, creator, suffix = CHILDREN[kind]
        template = doc["spec"]["jobTemplate"] if kind == "CronJob" else None
        child = {"apiVersion": "batch/v1" if child_kind == "Job" else "apps/v1", "kind": child_kind,
                 "metadata": {"name": name + suffix, "ownerReferences": [_owner(kind, name)]},
                 "spec": copy.deepcopy(template["spec"] if template else doc["spec"])}
        if child_kind == "ReplicaSet":
            child["spec"].pop("strategy", None)
            child["spec"].pop("revisionHistoryLimit", None)
            child["spec"].pop("progressDeadlineSeconds", None)
        out.append((creator, child, server.token_for("kube-system", creator)))
        owner_kind, owner_name = child_kind, name + suffix
    for j, pt in enumerate(find_pod_templates(doc, TABLE)):
        pod = pod_of(pt.resource, pt.template, f"{owner_name}-p{j}")
        pod["metadata"]["ownerReferences"] = [_owner(owner_kind, owner_name)]
        creator = POD_CREATORS.get(owner_kind)
        if kind == "Pod":
            continue
        out.append((creator or "an operator", pod,
                    server.token_for("kube-system", creator) if creator else ADMIN_TOKEN))
    return out


def denials(server: KubeServer, docs: list[dict], default_ns: str) -> list:
    """Every denial by the policy of the stream's objects and of what their controllers create."""
    found = []
    for doc in docs:
        ns = (doc.get("metadata") or {}).get("namespace") or default_ns
        if server.path_of(doc, ns) is None and doc.get("kind") not in ("Pod",) and not list(
                find_pod_templates(doc, TABLE)):
            continue
        for who, body, token in controller_requests(server, doc):
            if server.path_of(body, ns) is None:
                continue
            said = _verdict(server, body, ns, token)
            count("VAP own output", server.version, "requests")
            if any("denied request" in s or "violates PodSecurity" in s for s in said):
                found.append((who, body["kind"], body["metadata"].get("name"), said))
    return found


#: Every built-in profile (issue #21: one profile, one verdict): restricted on every minor
#: that serves the policy, the others on the newest.
PROFILES = ("restricted", "baseline", "strict")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_the_hardened_output_is_admitted_by_its_own_policy(server, name, profile):
    """Whatever the CLI leaves on purpose (a kept setting, a chart-chosen uid, a reported
    exception) the policy of the same profile admits, down to the pods the controllers make."""
    from hardener.errors import ConflictError

    if profile != "restricted" and server.version != VAP_VERSIONS[0]:
        pytest.skip("the other profiles on the newest minor only")
    path = next(p for p in STREAMS if _name(p) == name)
    try:
        out = harden(path.read_text(), profile=profile, kube=_minor(server.version), emit="vap",
                     namespace="apps").output
    except ConflictError as e:  # strict: conflicts fail the run, so there is nothing to deploy
        assert profile == "strict", e
        pytest.skip(f"{profile} refuses the stream: {str(e)[:120]}")
    docs, policy = policy_objects(out)
    if not policy:
        pytest.skip("no pod template: no policy emitted")
    namespaces = {"apps"} | {(d.get("metadata") or {}).get("namespace") for d in docs} - {None, ""}
    accounts = referenced(server, docs)
    for ns in sorted(namespaces):
        if not _exists(server, ns):
            server.namespace(ns)
        _pod_security_labels_as_in(server, ns, docs)
        for sa in accounts:
            server.service_account(ns, sa)
    install(server, policy, "apps")
    assert denials(server, docs, "apps") == []


# --------------------------------------------------------------------------- bypass attempts

EXEMPT_STREAM = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      hostPID: true
      containers:
      - name: agent
        image: quay.io/prometheus/node-exporter:v1.8.2
        securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""
AGENT_IMAGE = "quay.io/prometheus/node-exporter:v1.8.2"
DEPLOYER_ROLE = [
    {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets", "replicasets"],
     "verbs": ["get", "create", "update", "patch"]},
    {"apiGroups": [""], "resources": ["pods", "pods/ephemeralcontainers"], "verbs": ["get", "create", "update", "patch"]},
]


def _privileged_pod(name: str, **meta) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"hostNetwork": True, "hostPID": True,
                     "containers": [{"name": "agent", "image": AGENT_IMAGE, "securityContext": {"privileged": True}}]}}


@pytest.fixture(scope="module")
def exempt_setup(server):
    """The exempt DaemonSet and the hardened Deployment with their pods, created for real (the
    pods by their controllers), the stream's policy enforced, and a deployer who may create
    and update workloads and pods in the namespace (RBAC)."""
    out = harden(EXEMPT_STREAM, kube=_minor(server.version), emit="vap").output
    docs, policy = policy_objects(out)
    assert any(v["name"] == "exempt0" for v in policy[0]["spec"]["variables"]), "the DaemonSet must be exempt"
    server.namespace("apps")
    server.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/roles",
                   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer"},
                    "rules": DEPLOYER_ROLE})
    server.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings",
                   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "deployer"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                    "subjects": [{"kind": "User", "name": DEPLOYER[0]}]})
    install(server, policy, "apps")
    pods = {}
    for doc in docs:
        for who, body, token in controller_requests(server, doc):
            created = server.create(body, "apps", dry_run=False, token=token)
            pods[doc["metadata"]["name"]] = created
    return server, pods


def _attempt(server: KubeServer, method: str, path: str, body: dict) -> str:
    """A request as the RBAC-limited deployer: '' if admitted, else the server's answer."""
    try:
        server.request(method, path, body, token=DEPLOYER[1])
        return ""
    except ApiError as e:
        return e.message


def bypass_attempts(server: KubeServer, pods: dict) -> dict[str, tuple[str, str, dict]]:
    """Ways to get a privileged pod in through the exempt DaemonSet `agent`."""
    ds = server.request("GET", "/apis/apps/v1/namespaces/apps/daemonsets/agent")
    ds_evil = copy.deepcopy(ds)
    ds_evil["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example/miner:1"
    ds_root = copy.deepcopy(ds)  # its own image, but more than it is exempt for
    ds_root["spec"]["template"]["spec"]["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    ds_root["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "root", "mountPath": "/host"}]
    agent_pod, web_pod = pods["agent"], pods["web"]
    ephemeral = {"name": "debug", "image": AGENT_IMAGE, "targetContainerName": agent_pod["spec"]["containers"][0]["name"],
                 "securityContext": {"privileged": True}}
    on_agent = copy.deepcopy(agent_pod)
    on_agent["spec"]["ephemeralContainers"] = [ephemeral]
    on_web = copy.deepcopy(web_pod)
    on_web["spec"]["ephemeralContainers"] = [{**ephemeral, "targetContainerName": "web"}]
    evil_image = copy.deepcopy(agent_pod)
    evil_image["spec"]["containers"][0]["image"] = "evil.example/miner:1"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "agent"},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                           "template": {"metadata": {"labels": {"app": "agent"}},
                                        "spec": _privileged_pod("x")["spec"]}}}
    dry = "?dryRun=All"
    pods_path = "/api/v1/namespaces/apps/pods"
    return {
        "image: the DaemonSet updated to another image": (
            "PUT", "/apis/apps/v1/namespaces/apps/daemonsets/agent" + dry, ds_evil),
        "narrow: the DaemonSet updated to mount the host's root, which it is not exempt for": (
            "PUT", "/apis/apps/v1/namespaces/apps/daemonsets/agent" + dry, ds_root),
        "image: a Deployment of the same name and image": (
            "POST", "/apis/apps/v1/namespaces/apps/deployments" + dry, deployment),
        "labels: a pod with the exempt pods' labels and image": (
            "POST", pods_path + dry, _privileged_pod("agent-x", labels={"app": "agent"})),
        "names: a pod named like the DaemonSet's pods": (
            "POST", pods_path + dry, _privileged_pod("agent-abcde")),
        "names: a pod named as the DaemonSet": (
            "POST", pods_path + dry, _privileged_pod("agent")),
        "owner references: a pod claiming the DaemonSet as its controller": (
            "POST", pods_path + dry, _privileged_pod("agent-owned", ownerReferences=[_owner("DaemonSet", "agent")])),
        "ephemeralcontainers: a privileged debug container in the exempt pod": (
            "PUT", f"{pods_path}/{agent_pod['metadata']['name']}/ephemeralcontainers" + dry, on_agent),
        "ephemeralcontainers: a privileged debug container in a hardened pod": (
            "PUT", f"{pods_path}/{web_pod['metadata']['name']}/ephemeralcontainers" + dry, on_web),
        "pod UPDATE: the exempt pod's image replaced": (
            "PUT", f"{pods_path}/{agent_pod['metadata']['name']}" + dry, evil_image),
    }


def test_the_exemptions_let_no_privileged_pod_in_by_another_way(exempt_setup):
    server, pods = exempt_setup
    admitted = {}
    for what, (method, path, body) in bypass_attempts(server, pods).items():
        answer = _attempt(server, method, path, body)
        count("VAP bypass", server.version, "attempts")
        if "ValidatingAdmissionPolicy" in answer and "denied request" in answer:
            count("VAP bypass", server.version, "denied by the policy")
        else:
            admitted[what] = answer or "admitted"
    assert admitted == {}


def test_the_deployer_may_deploy_what_the_policy_admits(exempt_setup):
    """The denials above are the policy's, not RBAC's: the same user creates a hardened pod
    and a debug container that is hardened too."""
    server, pods = exempt_setup
    web = copy.deepcopy(pods["web"])
    hardened_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-by-hand"},
                    "spec": {k: v for k, v in web["spec"].items() if k not in ("nodeName",)}}
    assert _attempt(server, "POST", "/api/v1/namespaces/apps/pods?dryRun=All", hardened_pod) == ""
    sc = copy.deepcopy(web["spec"]["containers"][0]["securityContext"])
    web["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "targetContainerName": "web",
                                           "securityContext": sc}]
    path = f"/api/v1/namespaces/apps/pods/{web['metadata']['name']}/ephemeralcontainers?dryRun=All"
    assert _attempt(server, "PUT", path, web) == ""
