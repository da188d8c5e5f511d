"""The ValidatingAdmissionPolicy's Pod Security Standards checks give PSS's verdict.

Each check of hardener/policy/pss_cel.py is CEL for a check of hardener/pss/ (which mirrors
kubernetes/pod-security-admission policy/check_*.go and is tested against its fixtures in
tests/test_pss.py). Here both run on the same pods — hand-made cases after the upstream
fail fixtures, generated pods, and every corpus pod template before and after hardening —
at several levels and versions: the checks that fail must be the same.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener import pss
from hardener.policy import pss_cel, vap
from helpers import CORPUS_FILES, harden, load_all
from test_accounting import CASES
from test_policy import CelPolicy, vap_of

VERSIONS = ((1, 30), (1, 31), (1, 34), (1, 35), (1, 37))
LEVELS = ("baseline", "restricted")


def pss_only_policy(level: str, version: tuple[int, int]) -> CelPolicy:
    """The PSS part of the policy, with its variables, each validation named by its check."""
    spec = {"variables": [{"name": n, "expression": e} for n, e in vap.CEL_VARIABLES],
            "validations": [{"expression": e, "message": cid}
                            for cid, e, _ in pss_cel.pss_validations(level, version)]}
    return CelPolicy({"spec": spec})


@pytest.fixture(scope="module")
def policies():
    return {(lvl, v): pss_only_policy(lvl, v) for lvl in LEVELS for v in VERSIONS}


def verdicts(policies, metadata, spec):
    """(level, version, CEL's failing checks, PSS's failing checks) for every pair."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata or {"name": "p"}, "spec": spec}
    for (lvl, v), policy in policies.items():
        yield lvl, v, set(policy.failures(pod)), {x.check for x in pss.evaluate(metadata, spec, lvl, v)}


def assert_same(policies, metadata, spec):
    for lvl, v, cel, expected in verdicts(policies, metadata, spec):
        assert cel == expected, (lvl, v, spec)


def test_every_check_of_every_level_and_version_has_cel():
    for lvl in LEVELS:
        for v in VERSIONS:
            assert [c for c, _, _ in pss_cel.pss_validations(lvl, v)] == pss.active_checks(lvl, v)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_like_pods_before_and_after_hardening(policies, name):
    spec, annotations, _ = CASES[name]
    metadata = {"name": "p", **({"annotations": annotations} if annotations else {})}
    assert_same(policies, metadata, spec)
    out = harden(load_dump({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}))
    hardened = load_all(out.output)[0]
    assert_same(policies, hardened["metadata"], hardened["spec"])


def load_dump(obj):
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_templates_before_and_after_hardening(policies, path):
    """(Two of the level/version pairs: cel-python takes ~30 ms a pod and policy.)"""
    policies = {k: policies[k] for k in (("restricted", (1, 37)), ("baseline", (1, 30)))}
    text = path.read_text()
    for source in (text, harden(text, source=str(path)).output):
        for r in harden(source, emit="none").results:
            for pt in r.templates:
                tpl = pt.template
                if pt.problems or not isinstance(tpl.get("spec"), dict):
                    continue
                assert_same(policies, tpl.get("metadata"), tpl["spec"])


# ---------------------------------------------------------------- generated pods
SC_VALUES = {
    "privileged": st.sampled_from([True, False]),
    "allowPrivilegeEscalation": st.sampled_from([True, False]),
    "runAsNonRoot": st.sampled_from([True, False]),
    "runAsUser": st.sampled_from([0, 1000]),
    "procMount": st.sampled_from(["Default", "Unmasked"]),
    "seccompProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"},
                                       {"type": "Localhost", "localhostProfile": "p.json"}]),
    "appArmorProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
    "seLinuxOptions": st.sampled_from([{"type": "container_t"}, {"type": "spc_t"}, {"user": "u"},
                                       {"role": "r"}, {"level": "s0"}, {"type": "container_engine_t"}]),
    "capabilities": st.sampled_from([{"drop": ["ALL"]}, {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                                     {"add": ["CHOWN"]}, {"drop": ["ALL"], "add": ["NET_ADMIN"]}, {}]),
    "windowsOptions": st.sampled_from([{"hostProcess": True}, {"hostProcess": False}]),
}
POD_VALUES = {k: SC_VALUES[k] for k in ("runAsNonRoot", "runAsUser", "seccompProfile", "appArmorProfile",
                                         "seLinuxOptions", "windowsOptions")}
POD_VALUES["sysctls"] = st.lists(st.sampled_from([
    {"name": "net.ipv4.ip_local_port_range", "value": "1 2"}, {"name": "net.core.somaxconn", "value": "1"},
    {"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}, {"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]),
    max_size=2)


def fields(values):
    return st.fixed_dictionaries({}, optional=values)


handler = st.sampled_from([{"httpGet": {"port": 80}}, {"httpGet": {"host": "h", "port": 80}},
                           {"tcpSocket": {"host": "", "port": 1}}, {"tcpSocket": {"host": "::1", "port": 1}}])
container = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b"]), "image": st.just("x")},
    optional={"securityContext": fields(SC_VALUES), "livenessProbe": handler,
              "lifecycle": st.fixed_dictionaries({}, optional={"preStop": handler}),
              "ports": st.lists(st.fixed_dictionaries({"containerPort": st.just(80)},
                                                      optional={"hostPort": st.sampled_from([0, 80])}),
                                max_size=1)})
volume = st.sampled_from([{"name": "v", "emptyDir": {}}, {"name": "v", "nfs": {"server": "s", "path": "/"}},
                          {"name": "v", "hostPath": {"path": "/"}}, {"name": "v", "secret": {"secretName": "s"}},
                          {"name": "v"}, {"name": "v", "configMap": {"name": "c"}, "nfs": {"server": "s"}}])
pod_spec = st.fixed_dictionaries(
    {"containers": st.lists(container, min_size=1, max_size=2)},
    optional={"initContainers": st.lists(container, max_size=1), "securityContext": fields(POD_VALUES),
              "volumes": st.lists(volume, max_size=2), "hostNetwork": st.booleans(), "hostPID": st.booleans(),
              "hostUsers": st.booleans(), "os": st.sampled_from([{"name": "windows"}, {"name": "linux"}])})
annotations = st.dictionaries(
    st.sampled_from(["container.apparmor.security.beta.kubernetes.io/a",
                     "container.apparmor.security.beta.kubernetes.io/zz"]),
    st.sampled_from(["runtime/default", "unconfined", "localhost/x", ""]), max_size=2)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=pod_spec, ann=annotations)
def test_generated_pods(policies, spec, ann):
    assert_same(policies, {"name": "p", "annotations": ann} if ann else {"name": "p"}, spec)


def test_the_comparison_fails_on_a_broken_check(policies, monkeypatch):
    """The checker can fail: a restrictedVolumes check that forgets nfs is caught."""
    real = pss_cel.check

    def broken(cid, version):
        expr, what = real(cid, version)
        return (expr.replace("has(v.nfs) || ", ""), what) if cid == "restrictedVolumes" else (expr, what)

    monkeypatch.setattr(pss_cel, "check", broken)
    bad = {("restricted", (1, 37)): pss_only_policy("restricted", (1, 37))}
    spec, _, _ = CASES["volume-nfs"]
    with pytest.raises(AssertionError):
        assert_same(bad, {"name": "p"}, copy.deepcopy(spec))


# ---------------------------------------------------------------- the whole policy
SEED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx}
"""


def test_a_windows_node_selector_switches_off_no_check():
    """PSA decides on spec.os.name only (no check looks at node selectors): a privileged root
    pod that only selects Windows nodes is denied."""
    _, policy, _ = vap_of(SEED, namespace="shop")
    pod = {"kind": "Pod", "metadata": {"name": "x"},
           "spec": {"nodeSelector": {"kubernetes.io/os": "windows"},
                    "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]}}
    failures = CelPolicy(policy).failures(pod, "shop")
    assert any("check privileged" in f for f in failures) and any("check runAsNonRoot" in f for f in failures)


def test_updates_that_only_scale_are_not_checked():
    """The deployment controller scales with UPDATEs: a workload that does not comply (made
    before the policy) must still scale; a new pod template is checked."""
    _, policy, _ = vap_of(SEED, namespace="shop")
    cel = CelPolicy(policy)
    old = load_all(SEED)[0]
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert not cel.matches(scaled, "shop", old=old)
    changed = copy.deepcopy(old)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert cel.matches(changed, "shop", old=old) and cel.failures(changed, "shop")
    assert cel.matches(old, "shop")  # CREATE


# ---------------------------------------------------------------- exemptions only the policy grants
MESH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations: {k8s-harden.io/skip-containers: istio-proxy}
spec:
  template:
    spec:
      containers:
      - {name: web, image: nginx:1.27}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - {name: agent, image: agent:1}
"""
RS_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"
DS_CONTROLLER = "system:serviceaccount:kube-system:daemon-set-controller"


def pod_from(hardened: list, kind: str, owner_kind: str, owner: str, extra=()) -> dict:
    tpl = copy.deepcopy(next(d for d in hardened if d["kind"] == kind)["spec"]["template"])
    tpl["spec"]["containers"] += list(extra)
    return {"kind": "Pod", "metadata": {"name": f"{owner}-x1", "ownerReferences": [{"kind": owner_kind, "name": owner}]},
            "spec": tpl["spec"]}


def mesh_policy():
    out, policy, _ = vap_of(MESH, namespace="shop")
    return [d for d in load_all(out) if d], CelPolicy(policy)


SIDECAR = {"name": "istio-proxy", "image": "istio/proxyv2:1.24", "securityContext": {"runAsUser": 1337}}


def test_an_injected_opted_out_sidecar_is_admitted_in_the_workloads_pods_only():
    """The VAP runs after the mutating webhooks: the mesh's sidecar, which the workload opts
    out, must not get its pods denied — but only in pods its ReplicaSet controller creates."""
    hardened, cel = mesh_policy()
    pod = pod_from(hardened, "Deployment", "ReplicaSet", "web-5d4f8c7b9", [SIDECAR])
    assert cel.matches(pod, "shop", user=RS_CONTROLLER)
    assert cel.failures(pod, "shop", user=RS_CONTROLLER) == []
    # the same pod created by a person: the container is checked, whatever its name
    assert cel.failures(pod, "shop", user="alice")
    # the workload's own template gets no such exemption
    deployment = next(d for d in hardened if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"].append(SIDECAR)
    assert cel.failures(deployment, "shop", user="alice")
    # another workload's pods are checked
    other = pod_from(hardened, "Deployment", "ReplicaSet", "shop-5d4f8c7b9", [SIDECAR])
    assert cel.failures(other, "shop", user=RS_CONTROLLER)


def test_an_exceptions_exemption_cannot_be_claimed_by_a_pods_author():
    hardened, cel = mesh_policy()
    agent = pod_from(hardened, "DaemonSet", "DaemonSet", "agent")
    assert cel.failures(agent, "shop", user=DS_CONTROLLER) == []  # the exception's own pods: admitted
    # the owner reference written by someone else, or a pod running another image: checked
    assert cel.matches(agent, "shop", user="alice") and cel.failures(agent, "shop", user="alice")
    other_image = copy.deepcopy(agent)
    other_image["spec"]["containers"][0]["image"] = "attacker/tool:1"
    assert cel.matches(other_image, "shop", user=DS_CONTROLLER)
    assert cel.failures(other_image, "shop", user=DS_CONTROLLER)
    # the exemption is hostNetwork's alone: the agent's own pod made privileged is denied
    privileged = copy.deepcopy(agent)
    privileged["spec"]["containers"][0]["securityContext"]["privileged"] = True
    assert cel.failures(privileged, "shop", user=DS_CONTROLLER)


# ---------------------------------------------------------------- service meshes (issue #23 item 2)
MESHED = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {istio-injection: enabled}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - {name: web, image: nginx:1.27}
"""
ISTIO_INIT = {"name": "istio-init", "image": "istio/proxyv2:1.24",
              "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                                  "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}}}


def test_a_meshed_namespaces_injected_containers_are_left_to_the_mesh_in_its_workloads_pods_only():
    out, policy, _ = vap_of(MESHED, namespace="shop")
    cel = CelPolicy(policy)
    hardened = [d for d in load_all(out) if d]
    pod = pod_from(hardened, "Deployment", "ReplicaSet", "web-5d4f8c7b9")
    pod["spec"]["initContainers"] = [ISTIO_INIT]
    assert cel.failures(pod, "shop", user=RS_CONTROLLER) == []
    assert cel.failures(pod, "shop", user="alice")  # by anyone else: checked
    pod["spec"]["containers"][0]["securityContext"]["privileged"] = True  # the app's own: checked
    assert cel.failures(pod, "shop", user=RS_CONTROLLER)
    # without the label, the same pod is checked in full
    out, policy, _ = vap_of(MESHED.replace("istio-injection: enabled", "team: shop"), namespace="shop")
    pod = pod_from([d for d in load_all(out) if d], "Deployment", "ReplicaSet", "web-5d4f8c7b9")
    pod["spec"]["initContainers"] = [ISTIO_INIT]
    assert CelPolicy(policy).failures(pod, "shop", user=RS_CONTROLLER)


@pytest.mark.parametrize("meta, mesh", [
    ({"labels": {"istio-injection": "enabled"}}, "istio"),
    ({"labels": {"istio.io/rev": "canary"}}, "istio"),
    ({"labels": {"istio.io/rev": "canary", "istio-injection": "disabled"}}, None),
    ({"labels": {"istio-injection": "enabled", "istio.io/dataplane-mode": "ambient"}}, None),
    ({"annotations": {"linkerd.io/inject": "enabled"}}, "linkerd"),
    ({"annotations": {"linkerd.io/inject": "disabled"}}, None),
    ({}, None),
])
def test_namespace_injection_is_detected_from_the_meshes_own_keys(meta, mesh):
    from hardener.kube.mesh import namespace_mesh

    found = namespace_mesh(meta)
    assert (found[0] if found else None) == mesh


def test_meshed_namespaces_enforce_what_the_injected_pods_pass_and_say_so():
    from helpers import invoke

    r = invoke("--emit", "pss-labels", input=MESHED)
    ns = load_all(r.stdout)[0]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns["pod-security.kubernetes.io/warn"] == ns["pod-security.kubernetes.io/audit"] == "restricted"
    assert "Istio injects containers into every new pod (label istio-injection=enabled)" in r.stderr
    assert "--mesh-cni" in r.stderr
    r = invoke("--emit", "pss-labels", "--mesh-cni", input=MESHED)
    assert load_all(r.stdout)[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    # a template that asks for Linkerd itself, in a Namespace that says nothing
    linkerd = MESHED.replace("  labels: {istio-injection: enabled}\n", "").replace(
        "    spec:\n      containers:", "    metadata: {annotations: {linkerd.io/inject: enabled}}\n"
                                      "    spec:\n      containers:")
    r = invoke("--emit", "pss-labels", input=linkerd)
    assert load_all(r.stdout)[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "Linkerd injects" in r.stderr
    plain = MESHED.replace("  labels: {istio-injection: enabled}\n", "")
    assert load_all(invoke("--emit", "pss-labels", input=plain).stdout)[0]["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
