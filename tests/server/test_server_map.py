"""The emitted MutatingAdmissionPolicy on a real API server (1.36 and newer): a raw pod created
through it comes out with the security settings the CLI gives the same pod template, the
server accepts its CEL (types and cost budget are checked when the policy is created),
applying it again changes nothing, and with the VAP of the same profile bound too every pod
the CLI hardens is admitted.

The pods are made of the pod templates of every corpus stream and golden input; the CLI's
answer is the hardened template created the same way (dryRun=All, in a namespace no policy
is bound to) so both carry the server's defaults.
"""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

from hardener.kube.workloads import find_pod_templates
from helpers import harden, load_all
from kube_server import KUBE_VERSIONS, ApiError, KubeServer, count
from test_server_admission import STREAMS, TABLE, _items, _minor, _name, pod_of, referenced
from test_server_vap import CONFIGMAP, install, policy_objects

#: the kinds whose pods are made of the template as it is (a custom resource's operator adds
#: its own containers and settings, so its pod is compared for the figures only)
BUILTIN = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job",
           "CronJob", "PodTemplate"}
MAP_VERSIONS = [v for v in KUBE_VERSIONS if int(v.split(".")[1]) >= 36]
RAW = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def map_objects(text: str) -> list[dict]:
    return [d for d in _items(load_all(text)) if d.get("kind", "").startswith("MutatingAdmissionPolicy")]


def install_map(server: KubeServer, objs: list[dict], namespace: str) -> None:
    """Install the CLI's MAP under a fresh name, with failurePolicy Fail: the CLI's Ignore
    would let a mutation that errors on the server (cel-python may not) pass silently."""
    name = f"{objs[0]['metadata']['name']}-{uuid.uuid4().hex[:6]}"
    for o in copy.deepcopy(objs):
        o["metadata"]["name"] = name
        if o["kind"].endswith("Binding"):
            o["spec"]["policyName"] = name
        else:
            o["spec"]["failurePolicy"] = "Fail"
        server.create(o, dry_run=False)  # the server compiles the CEL and checks its cost here
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = server.create(RAW, namespace)
        if out["spec"]["containers"][0].get("securityContext"):
            return
        time.sleep(0.2)
    pytest.fail("the MutatingAdmissionPolicy did not mutate a raw pod within 30 s", pytrace=False)


def security(pod: dict) -> dict:
    """The security settings of a pod as the server returns it."""
    spec = pod.get("spec") or {}
    out = {"pod": spec.get("securityContext") or {}}
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            out[f"{key}/{c.get('name')}"] = c.get("securityContext") or {}
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    out["annotations"] = {k: v for k, v in ann.items() if "seccomp" in k or "apparmor" in k}
    return out


def _created(server: KubeServer, pod: dict, namespace: str) -> dict | str | None:
    """The pod as the server would store it; the policy's denial (a str); None if the API
    rejects it before the policies (the input's own problem, judged in test_server_admission)."""
    try:
        return server.create(pod, namespace, field_validation="Ignore")
    except ApiError as e:
        if "resulted in error" in e.message and "-mutate-" in e.message:
            pytest.fail(f"the MAP errors on the server for pod {pod['metadata']['name']}: {e.message[-400:]}",
                        pytrace=False)
        return e.message if "ValidatingAdmissionPolicy" in e.message else None


#: Built-in pod templates where the MAP and the CLI still disagree: a ratchet — a new
#: difference fails, and so does a listed one that no longer differs. Empty since issue #21
#: (a pod sent to Windows by affinity, a kept seccomp annotation, an opted-out container).
KNOWN_DIFFERENT: dict[tuple, str] = {}


class Setup:
    """One profile's policies on one server: its MAP bound to `mutated`, its VAP alone in
    `validated`, and `plain` with no policy (the CLI's pods, created as they are)."""

    def __init__(self, server: KubeServer, profile: str) -> None:
        self.server, self.profile = server, profile
        suffix = "" if profile == "restricted" else f"-{profile}"
        self.mutated, self.plain, self.validated = (f"{n}{suffix}" for n in ("mutated", "plain", "validated"))


#: Every built-in profile (issue #21: one profile, one verdict): restricted on every minor
#: that serves the MAP, the others on the newest.
SETUPS = [(v, "restricted") for v in MAP_VERSIONS] + [(MAP_VERSIONS[0], p) for p in ("baseline", "strict")]


@pytest.fixture(scope="module", params=SETUPS, ids=[f"{v}-{p}" for v, p in SETUPS])
def map_setup(request, cluster) -> Setup:
    version, profile = request.param
    st = Setup(cluster.server(version), profile)
    s = st.server
    out = harden(CONFIGMAP, profile=profile, kube=_minor(s.version), emit="vap,map", namespace=st.mutated).output
    for ns in (st.mutated, st.plain, st.validated):
        s.namespace(ns)
    # the VAP of the same profile alone in `validated`: what the MAP made in `mutated` is
    # judged there (a VAP bound where the MAP is would deny what the CLI leaves on purpose,
    # a kept identity, before it could be compared)
    _, vap = policy_objects(out)
    for o in vap:
        if o["kind"].endswith("Binding"):
            o["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"] = [st.validated]
    install_map(s, map_objects(out), st.mutated)
    install(s, vap, st.validated)
    return st


def _again(pod: dict, name: str) -> dict:
    """A pod the server returned, as a new request (its name, labels, annotations and spec)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name,
            **{k: v for k, v in pod["metadata"].items() if k in ("labels", "annotations")}},
            "spec": pod["spec"]}


@pytest.mark.parametrize("name", [_name(p) for p in STREAMS])
def test_the_map_hardens_a_raw_pod_as_the_cli_does_and_once(map_setup, name):
    from hardener.errors import ConflictError

    server = map_setup.server
    path = next(p for p in STREAMS if _name(p) == name)
    raw_docs = _items(load_all(path.read_text()))
    try:
        hardened_docs = _items(load_all(harden(path.read_text(), profile=map_setup.profile,
                                               kube=_minor(server.version)).output))
    except ConflictError as e:  # strict: a conflict fails the run; the CLI gives no answer to compare
        assert map_setup.profile == "strict", e
        pytest.skip(f"{map_setup.profile} refuses the stream: {str(e)[:120]}")
    for ns in (map_setup.mutated, map_setup.plain, map_setup.validated):
        for sa in referenced(server, raw_docs):
            server.service_account(ns, sa)
    different, again, denied = {}, [], []
    for i, (raw, done) in enumerate(zip(raw_docs, hardened_docs)):
        raws, dones = list(find_pod_templates(raw, TABLE)), list(find_pod_templates(done, TABLE))
        for j, (rt, ht) in enumerate(zip(raws, dones)):
            key = (name, raw.get("kind"), (raw.get("metadata") or {}).get("name"), rt.pointer)
            mutated = _created(server, pod_of(rt.resource, rt.template, f"pod-{i}-{j}"), map_setup.mutated)
            cli = _created(server, pod_of(ht.resource, ht.template, f"pod-{i}-{j}"), map_setup.plain)
            cli_valid = _created(server, pod_of(ht.resource, ht.template, f"pod-{i}-{j}"), map_setup.validated)
            if isinstance(mutated, dict):
                judged = _created(server, _again(mutated, f"judged-{i}-{j}"), map_setup.validated)
                if isinstance(judged, str) and isinstance(cli_valid, dict):
                    denied.append((key, judged))  # the CLI's pod passes the VAP, the MAP's does not
            if not isinstance(mutated, dict) or not isinstance(cli, dict):
                count("MAP", server.version, "pods the API or the VAP rejects")
                continue
            builtin = raw.get("kind") in BUILTIN
            if security(mutated) != security(cli):
                count("MAP", server.version, "pods different from the CLI" + ("" if builtin else " (custom resources)"))
                if builtin:
                    different[key] = {"map": security(mutated), "cli": security(cli)}
            else:
                count("MAP", server.version, "pods equal to the CLI" + ("" if builtin else " (custom resources)"))
            twice = _created(server, _again(mutated, f"again-{i}-{j}"), map_setup.mutated)
            if not isinstance(twice, dict) or security(twice) != security(mutated):
                again.append(key)
    assert again == [], "applying the policy a second time changed the pod"
    assert [d for d in denied if d[0] not in KNOWN_DIFFERENT] == [], \
        "the VAP denied what the MAP made of a pod whose CLI hardening it admits"
    known = {k for k in KNOWN_DIFFERENT if k[0] == name}
    assert {k: v for k, v in different.items() if k not in known} == {}, json.dumps(
        {str(k): v for k, v in different.items()})
    still = set(different) | {d[0] for d in denied}
    if map_setup.profile == "restricted":  # the ratchet is restricted's (the others set less)
        assert known <= still, f"no longer different (remove from KNOWN_DIFFERENT): {known - still}"


def test_the_comparison_fails_when_a_patch_is_dropped(map_setup):
    """Drop the MAP's second JSONPatch (every control's fields): a raw pod created through it
    no longer matches the CLI's hardening, and the comparison sees it."""
    if map_setup.profile != "restricted":
        pytest.skip("the checker's own proof: once per minor")
    server = map_setup.server
    out = harden(CONFIGMAP, kube=_minor(server.version), emit="map", namespace="broken").output
    objs = map_objects(out)
    objs[0]["spec"]["mutations"] = objs[0]["spec"]["mutations"][:1]
    server.namespace("broken")
    name = f"broken-{uuid.uuid4().hex[:6]}"
    for o in objs:
        o["metadata"]["name"] = name
        if o["kind"].endswith("Binding"):
            o["spec"]["policyName"] = name
        server.create(o, dry_run=False)
    template = {"metadata": {}, "spec": RAW["spec"]}
    hardened_text = harden("apiVersion: v1\nkind: Pod\nmetadata: {name: probe}\nspec:\n  containers:\n"
                           "  - {name: c, image: busybox}\n", kube=_minor(server.version)).output
    cli = server.create(_items(load_all(hardened_text))[0], "plain")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mutated = server.create(pod_of({}, template, "probe"), "broken")
        if "securityContext" in mutated["spec"]["containers"][0]:  # the parents patch ran: live
            break
        time.sleep(0.2)
    else:
        pytest.fail("the broken MutatingAdmissionPolicy never ran", pytrace=False)
    assert mutated["spec"]["containers"][0]["securityContext"] == {}
    assert security(mutated) != security(cli)
