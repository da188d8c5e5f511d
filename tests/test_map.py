"""The MutatingAdmissionPolicy (`--emit map`), evaluated without a cluster.

Its CEL runs with cel-python: `JSONPatch` is declared as a custom message type (the fields
of k8s.io/apiserver pkg/cel/mutation/jsonpatch.go: op, path, from, value), and the few
cel-go extension functions the policy uses (`lists.range`, `flatten`, `upperAscii`,
`substring`, `split`, `replace`, `trim`, `lowerAscii`) are provided in Python with cel-go's meaning.
The patches are applied by :func:`apply_patch`, a small RFC 6902 applier with the semantics
of the library the API server uses (gopkg.in/evanphx/json-patch.v4, called from apiserver
pkg/admission/plugin/policy/mutating/patch/json_patch.go): `add` needs an existing parent,
`add` of an existing key replaces it, a failed `test` skips the whole mutation, any other
error fails it (failurePolicy decides). Mutations run in order, each against the object
the previous left (mutating/dispatcher.go: "Mutations for a single invocation of a
MutatingAdmissionPolicy are evaluated in order"), and variables are evaluated again for
each (cel/composition.go: `Variables(activation)` builds a fresh lazy map per activation).
"""

from __future__ import annotations

import copy
import json
import sys

import celpy
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml
from celpy import celtypes

from hardener.kube.workloads import BUILTIN_WORKLOADS
from hardener.kube.pointer import resolve
from tests import helpers
from tests.helpers import CORPUS, CORPUS_FILES, REPO, harden, load_all, without_nulls

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")


# --------------------------------------------------------------------------- CEL runtime
class JSONPatch(celtypes.MessageType):
    """`JSONPatch{op, path, from, value}` (apiserver pkg/cel/mutation/jsonpatch.go,
    JSONPatchType.Field: op/path/from strings, value dyn; any other field is an error)."""

    FIELDS = {"op", "path", "from", "value"}

    def __init__(self, *args, **fields):
        super().__init__(*args, **fields)
        for k in list(self.keys()):
            if k not in self.FIELDS:
                raise ValueError(f"unexpected JSONPatchType field: {k}")
        for k in ("op", "path", "from"):
            if k in self:
                if not isinstance(self[k], str):
                    raise TypeError(f"unexpected type for JSONPatchType '{k}' field")
                self[celtypes.StringType(k)] = celtypes.StringType(self[k])


def _range(*args):  # lists.range(n): a method call on the `lists` namespace variable
    return celtypes.ListType([celtypes.IntType(i) for i in range(int(args[-1]))])


def _flatten(lst):
    out = []
    for x in lst:
        out.extend(x if isinstance(x, list) else [x])  # celpy's `+` of lists gives a plain list
    return celtypes.ListType(out)


def _ascii(fn):
    return lambda s: celtypes.StringType("".join(fn(c) if c.isascii() else c for c in s))


FUNCTIONS = {
    "range": _range, "flatten": _flatten,
    "upperAscii": _ascii(str.upper), "lowerAscii": _ascii(str.lower),
    "substring": lambda s, start, end=None: celtypes.StringType(str(s)[int(start):None if end is None else int(end)]),
    "split": lambda s, sep: celtypes.ListType([celtypes.StringType(x) for x in str(s).split(str(sep))]),
    "trim": lambda s: celtypes.StringType(str(s).strip()),
    "replace": lambda s, old, new: celtypes.StringType(str(s).replace(str(old), str(new))),
}
ENV = celpy.Environment(annotations={"JSONPatch": JSONPatch})


def to_json(v):
    if isinstance(v, celtypes.MapType):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, celtypes.BoolType):
        return bool(v)
    if isinstance(v, (celtypes.IntType, celtypes.UintType)):
        return int(v)
    if isinstance(v, celtypes.DoubleType):
        return float(v)
    if isinstance(v, str):
        return str(v)
    return v


# --------------------------------------------------------------------------- JSON patch (evanphx v4)
class PatchError(Exception):
    pass


class PatchTestFailed(PatchError):
    pass


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _container(doc, path: str):
    """evanphx findObject: the parent of `path` and the last key, or PatchError (ErrMissing)."""
    parts = [_unescape(p) for p in path.split("/")[1:]]
    obj = doc
    for p in parts[:-1]:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and p.isdigit() and int(p) < len(obj):
            obj = obj[int(p)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return obj, parts[-1]


def apply_patch(doc, ops: list[dict]):
    """Apply RFC 6902 ops the way evanphx/json-patch v4 (patch.go) does; returns a new doc."""
    doc = copy.deepcopy(doc)
    for o in ops:
        kind, path = o["op"], o["path"]
        parent, key = _container(doc, path)
        value = copy.deepcopy(o.get("value"))
        if kind == "add":
            if isinstance(parent, dict):
                parent[key] = value  # an existing key is replaced
            elif key == "-":
                parent.append(value)
            elif key.isdigit() and int(key) <= len(parent):
                parent.insert(int(key), value)
            else:
                raise PatchError(f"add: bad index {path}")
        elif kind == "replace":
            if isinstance(parent, dict):
                parent[key] = value  # v4: replace of a missing map key adds it
            elif key.isdigit() and int(key) < len(parent):
                parent[int(key)] = value
            else:
                raise PatchError(f"replace operation does not apply: doc is missing key: {path}")
        elif kind == "remove":
            if isinstance(parent, dict) and key in parent:
                del parent[key]
            elif isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
                del parent[int(key)]
            else:
                raise PatchError(f"Unable to remove nonexistent key: {path}")
        elif kind == "test":
            present = key in parent if isinstance(parent, dict) else (key.isdigit() and int(key) < len(parent))
            current = (parent[key] if isinstance(parent, dict) else parent[int(key)]) if present else None
            if ("value" in o and current != o["value"]) or ("value" not in o and present):
                raise PatchTestFailed(path)
        else:
            raise PatchError(f"unsupported op {kind}")
    return doc


# --------------------------------------------------------------------------- the policy, run
class MapPolicy:
    """A MutatingAdmissionPolicy run as the API server runs it (failurePolicy Ignore: an
    erroring mutation leaves the object as it was, and is recorded in `errors`)."""

    def __init__(self, policy: dict):
        spec = policy["spec"]
        self.spec = spec
        self.conditions = [self._compile(c["expression"]) for c in spec.get("matchConditions", [])]
        self.variables = [(v["name"], self._compile(v["expression"])) for v in spec.get("variables", [])]
        self.mutations = [self._compile(m["jsonPatch"]["expression"]) for m in spec["mutations"]]
        self.errors: list[str] = []

    @staticmethod
    def _compile(expr: str):
        return ENV.program(ENV.compile(expr), functions=FUNCTIONS)

    @staticmethod
    def _activation(obj: dict) -> dict:
        return {"object": celpy.json_to_cel(obj), "oldObject": None,
                "request": celpy.json_to_cel({"operation": "CREATE", "namespace": "ns"}),
                "lists": celtypes.MapType({})}

    def matches(self, obj: dict) -> bool:
        act = self._activation(obj)
        return all(bool(p.evaluate(act)) for p in self.conditions)

    def patches(self, obj: dict, index: int) -> list[dict]:
        act = self._activation(obj)
        variables = celtypes.MapType()
        act["variables"] = variables
        for name, prog in self.variables:
            variables[celtypes.StringType(name)] = prog.evaluate(act)
        return to_json(self.mutations[index].evaluate(act))

    def admit(self, pod: dict) -> dict:
        if not self.matches(pod):
            return pod
        for i in range(len(self.mutations)):
            try:
                ops = self.patches(pod, i)
                pod = apply_patch(pod, ops)
            except PatchTestFailed:
                continue
            except (celpy.CELEvalError, PatchError, TypeError) as exc:
                self.errors.append(f"mutation {i}: {exc}")
        return pod


def emitted(text: str, profile: str = "restricted", kube: str = "1.37", **options) -> list[dict]:
    out = harden(text, profile, kube=kube, emit="map", namespace="ns", **options).output
    return [d for d in load_all(out) if isinstance(d, dict) and d.get("kind", "").startswith("MutatingAdmission")]


def map_of(profile: str = "restricted", **options) -> MapPolicy:
    [policy, _] = emitted(POD_TEXT, profile, **options)
    return MapPolicy(policy)


POD_TEXT = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: nginx}]\n"




def as_pod(template: dict, name: str = "p") -> dict:
    """The pod a controller creates from a template (its metadata, its spec), as admitted."""
    meta = copy.deepcopy(template.get("metadata") or {})
    meta["name"] = meta.get("name") or name
    return without_nulls({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template["spec"])})


def hardened(pod: dict, profile: str = "restricted", kube: str = "1.37") -> dict | None:
    """k8s-harden's result for the pod (None when the profile fails the run on it)."""
    from hardener.errors import ConflictError

    try:
        out = harden(yaml.safe_dump(pod), profile, kube=kube).output
    except ConflictError:
        return None
    return load_all(out)[0]


def security(pod: dict) -> dict:
    """The fields the comparison is about: the pod's securityContext, each container's, the
    volumes and mounts the read-only root adds ({} and absent are the same)."""
    spec = pod["spec"]
    out = {"pod": spec.get("securityContext") or {}, "volumes": spec.get("volumes") or []}
    for lname in ("initContainers", "containers"):
        for c in spec.get(lname) or []:
            out[f"{lname}/{c.get('name')}"] = {"sc": c.get("securityContext") or {},
                                               "mounts": c.get("volumeMounts") or []}
    return out


def diff(a, b, prefix=""):
    """The JSON pointers where a and b differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from diff(a.get(k), b.get(k), f"{prefix}/{k}")
    elif a != b:
        yield prefix


def pod_templates(text: str):
    """(name, pod) for the pod template of every built-in workload of a stream."""
    for doc in load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") not in BUILTIN_WORKLOADS:
            continue
        pointer = BUILTIN_WORKLOADS[doc["kind"]][1]
        template = resolve(doc, pointer) if pointer else doc
        if isinstance(template, dict) and isinstance(template.get("spec"), dict) \
                and isinstance(template["spec"].get("containers"), list):
            name = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name')}"
            yield name, as_pod(template, (doc.get("metadata") or {}).get("name") or "p")


# --------------------------------------------------------------------------- objects and gates
def test_objects_shape_and_version_gates():
    [policy, binding] = emitted(POD_TEXT)
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    spec = policy["spec"]
    assert spec["reinvocationPolicy"] == "IfNeeded" and spec["failurePolicy"] == "Ignore"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]
    assert all(m["patchType"] == "JSONPatch" for m in spec["mutations"])
    assert binding["spec"]["policyName"] == policy["metadata"]["name"] == "k8s-harden-restricted-mutate"
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ns"]}]
    [beta, _] = emitted(POD_TEXT, kube="1.34", force=True)
    assert beta["apiVersion"] == "admissionregistration.k8s.io/v1beta1"
    # auto keeps today's behaviour: no MAP
    out = harden(POD_TEXT, kube="1.37", emit="auto", namespace="ns").output
    assert "MutatingAdmissionPolicy" not in out


@pytest.mark.parametrize("kube,force,needle", [
    ("1.35", False, "--feature-gates=MutatingAdmissionPolicy=true"),
    ("1.34", False, "--runtime-config=admissionregistration.k8s.io/v1beta1=true"),
    ("1.33", False, "not served by Kubernetes 1.33"),
    ("1.33", True, "not even with --force"),
])
def test_unsupported_versions_exit_2(kube, force, needle):
    args = ["--emit", "map", "--namespace", "ns", "--kube-version", kube] + (["--force"] if force else [])
    res = helpers.invoke(*args, input=POD_TEXT)
    assert res.exit_code == 2 and needle in res.output + (res.stderr if hasattr(res, "stderr") else "")


def test_profile_emit_list_takes_map(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("name: mine\nextends: restricted\nemit: [map]\n")
    out = harden(POD_TEXT, str(prof), kube="1.37", emit=None, namespace="ns").output
    assert "kind: MutatingAdmissionPolicy\n" in out and "kind: MutatingAdmissionPolicyBinding" in out


@pytest.mark.parametrize("kube,profile", [("1.36", "restricted"), ("1.37", "strict"), ("1.34", "baseline"),
                                          ("1.35", "restricted")])
def test_objects_validate_against_the_schema_of_their_version(kube, profile):
    objs = emitted(POD_TEXT, profile, kube=kube, force=True)
    for obj in objs:
        kubernetes_validate.utils.validate(obj, kube, strict=True)


# --------------------------------------------------------------------------- semantics
def run_both(pod: dict, profile: str = "restricted", **options):
    policy = map_of(profile, **options)
    mutated = policy.admit(pod)
    return policy, mutated, hardened(pod, profile)


SIMPLE = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
          "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
                                  {"name": "side", "image": "busybox"}],
                   "initContainers": [{"name": "init", "image": "busybox"}]}}


@pytest.mark.parametrize("profile", ["restricted", "strict", "baseline"])
def test_simple_pod_matches_the_hardener_and_is_idempotent(profile):
    policy, mutated, expected = run_both(SIMPLE, profile)
    assert policy.errors == []
    assert security(mutated) == security(expected)
    assert policy.admit(mutated) == mutated  # reinvocation adds nothing
    assert all(policy.patches(mutated, i) == [] for i in range(len(policy.mutations)))


def test_opt_outs():
    policy = map_of()
    skipped = copy.deepcopy(SIMPLE)
    skipped["metadata"]["annotations"] = {"k8s-harden.io/skip": "True"}
    assert policy.admit(skipped) == skipped
    some = copy.deepcopy(SIMPLE)
    some["metadata"]["annotations"] = {"k8s-harden.io/skip-containers": " side , istio-proxy",
                                       "k8s-harden.io/skip-controls": "capabilities"}
    mutated = policy.admit(some)
    assert policy.errors == []
    side = mutated["spec"]["containers"][1]
    assert "securityContext" not in side  # opted out: untouched
    web = mutated["spec"]["containers"][0]["securityContext"]
    init = mutated["spec"]["initContainers"][0]["securityContext"]
    assert "capabilities" not in web and "capabilities" not in init
    assert init["runAsNonRoot"] is True  # per container: a sidecar is named
    # port 80 with the sysctl blocked (pod level would reach `side`): the container needs root
    assert "runAsNonRoot" not in web
    assert "runAsNonRoot" not in mutated["spec"]["securityContext"]
    assert "fsGroup" not in mutated["spec"]["securityContext"]  # would reach the opted-out container
    assert security(mutated) == security(hardened(some))


def test_explicit_settings_are_kept():
    pod = copy.deepcopy(SIMPLE)
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    pod["spec"]["containers"][1]["securityContext"] = {"runAsUser": 0, "allowPrivilegeEscalation": True,
                                                       "capabilities": {"add": ["NET_ADMIN"]}}
    pod["spec"]["securityContext"] = {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
                                      "fsGroup": 5}
    policy, mutated, expected = run_both(pod)
    assert policy.errors == []
    web, side = (c["securityContext"] for c in mutated["spec"]["containers"])
    assert web["privileged"] is True and "allowPrivilegeEscalation" not in web and "runAsNonRoot" not in web
    assert side["runAsUser"] == 0 and "runAsNonRoot" not in side and side["allowPrivilegeEscalation"] is True
    assert side["capabilities"]["add"][0] == "NET_ADMIN"
    assert mutated["spec"]["securityContext"]["seccompProfile"]["type"] == "Localhost"
    assert mutated["spec"]["securityContext"]["fsGroup"] == 5
    assert security(mutated) == security(expected)
    assert policy.admit(mutated) == mutated


def test_reinvocation_hardens_an_injected_sidecar_and_nothing_else():
    """reinvocationPolicy IfNeeded: after a webhook adds a container the policy runs again
    (mutating/dispatcher.go reinvokes when the object changed); only the new one changes."""
    policy = map_of()
    first = policy.admit(SIMPLE)
    injected = copy.deepcopy(first)
    injected["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})
    second = policy.admit(injected)
    assert second["spec"]["containers"][:2] == first["spec"]["containers"]
    assert second["spec"]["securityContext"] == first["spec"]["securityContext"]
    proxy = second["spec"]["containers"][2]["securityContext"]
    assert proxy["capabilities"] == {"drop": ["ALL"]} and proxy["allowPrivilegeEscalation"] is False
    opted = copy.deepcopy(injected)
    opted["metadata"]["annotations"] = {"k8s-harden.io/skip-containers": "istio-proxy"}
    assert "securityContext" not in policy.admit(opted)["spec"]["containers"][2]


def test_windows_pod_gets_only_what_windows_takes():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"},
           "spec": {"os": {"name": "windows"},
                    "containers": [{"name": "a", "image": "x",
                                    "securityContext": {"windowsOptions": {"runAsUserName": "app"}}},
                                   {"name": "b", "image": "x"}]}}
    policy, mutated, expected = run_both(pod)
    assert mutated["spec"]["containers"][0]["securityContext"] == {"windowsOptions": {"runAsUserName": "app"},
                                                                   "runAsNonRoot": True}
    assert security(mutated) == security(expected)


def test_a_broken_mutation_is_caught():
    """The checker is not vacuous: a policy whose runAsNonRoot op is dropped disagrees."""
    [policy, _] = emitted(POD_TEXT)
    broken = copy.deepcopy(policy)
    expr = broken["spec"]["mutations"][1]["jsonPatch"]["expression"]
    broken["spec"]["mutations"][1]["jsonPatch"]["expression"] = expr.replace(
        "path: '/spec/securityContext/runAsNonRoot', value: true", "path: '/spec/securityContext/x', value: true", 1)
    assert broken != policy
    mutated = MapPolicy(broken).admit(SIMPLE)
    assert security(mutated) != security(hardened(SIMPLE))
    assert "/pod/runAsNonRoot" in list(diff(security(mutated), security(hardened(SIMPLE))))


def test_patch_applier_mirrors_evanphx_v4():
    doc = {"spec": {"containers": [{"name": "a"}]}}
    with pytest.raises(PatchError):  # add with a missing parent fails the whole patch
        apply_patch(doc, [{"op": "add", "path": "/spec/securityContext/runAsNonRoot", "value": True}])
    assert apply_patch(doc, [{"op": "add", "path": "/spec/securityContext", "value": {}},
                             {"op": "add", "path": "/spec/securityContext/x", "value": 1}])["spec"]["securityContext"] == {"x": 1}
    with pytest.raises(PatchTestFailed):
        apply_patch({"a": 1}, [{"op": "test", "path": "/a"}])


# --------------------------------------------------------------------------- the corpus
#: Where the policy and the hardener may differ, by design, with the reason (see docs/policy.md).
KNOWN = {}


def corpus_pods():
    out = [(f"examples/seed-pods.yaml:{n}", p) for n, p in pod_templates((REPO / "examples" / "seed-pods.yaml").read_text())]
    for f in CORPUS_FILES:
        out += [(f"{f.stem}:{n}", p) for n, p in pod_templates(f.read_text())]
    return out


def agreement(profile: str = "restricted"):
    policy = map_of(profile)
    same, differ, failed, not_idempotent = [], {}, [], []
    for name, pod in corpus_pods():
        expected = hardened(pod, profile)
        if expected is None:  # the profile fails the run (rule: fail); nothing to compare
            failed.append(name)
            continue
        policy.errors = []
        mutated = policy.admit(pod)
        if policy.errors:
            differ[name] = policy.errors
            continue
        if policy.admit(mutated) != mutated:
            not_idempotent.append(name)
        where = list(diff(security(mutated), security(expected)))
        if where:
            differ[name] = where
        else:
            same.append(name)
    return same, differ, failed, not_idempotent


@needs_corpus
@pytest.mark.parametrize("profile", ["restricted", "strict", "baseline"])
def test_corpus_pods_agree_with_the_hardener(profile):
    same, differ, failed, not_idempotent = agreement(profile)
    assert not_idempotent == []
    unexplained = {n: w for n, w in differ.items() if n not in KNOWN}
    assert unexplained == {}, f"{len(same)} agree; differ: {json.dumps(unexplained, indent=1)[:4000]}"
    assert len(same) > 50


if __name__ == "__main__":  # figures for the report: python -m tests.test_map
    for prof in sys.argv[1:] or ["restricted", "strict", "baseline"]:
        same, differ, failed, ni = agreement(prof)
        print(f"{prof}: {len(same)} agree, {len(differ)} differ, {len(failed)} refused by the profile, "
              f"{len(ni)} not idempotent")
        for n, w in differ.items():
            print("  ", n, w[:6])


def test_aggregate_literals_are_homogeneous_as_the_api_server_requires():
    """The API server type-checks CEL aggregate literals as homogeneous (cel-go
    HomogeneousAggregateLiterals, k8s.io/apiserver/pkg/cel/environment): strict's scratch
    volume `{'name': ..., 'emptyDir': {}}` did not compile there (`expected type 'string'
    but found 'map(dyn, dyn)'`, tests/server/test_server_map.py with strict) though
    cel-python ran it. Mixed items are wrapped in dyn(); uniform ones are left as they are."""
    from hardener.policy.map import val

    assert val({"name": "k8s-harden-tmp", "emptyDir": {}}) == "{'name': dyn('k8s-harden-tmp'), 'emptyDir': dyn({})}"
    assert val({"type": "RuntimeDefault"}) == "{'type': 'RuntimeDefault'}"
    assert val(["a", 1]) == "[dyn('a'), dyn(1)]" and val([True, False]) == "[true, false]"
    out = harden(CORPUS_FILES[0].read_text(), profile="strict", kube="1.37", emit="map").output
    [policy] = [d for d in load_all(out) if d.get("kind") == "MutatingAdmissionPolicy"]
    text = json.dumps(policy)
    assert "'emptyDir': dyn(" in text and "'emptyDir': {}" not in text


@pytest.mark.parametrize("spec, windows", [
    ({"os": {"name": "windows"}}, True),
    ({"nodeSelector": {"kubernetes.io/os": "windows"}}, True),
    ({"os": {"name": "linux"}, "nodeSelector": {"kubernetes.io/os": "windows"}}, False),  # os.name first
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}}}, True),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}, False),  # one open term
    ({"securityContext": {"windowsOptions": {"runAsUserName": "app"}}}, True),
    ({"securityContext": {"windowsOptions": {"runAsUserName": "app"}, "runAsUser": 5}}, False),  # Linux-only field
    ({}, False),
])
def test_the_map_decides_a_pods_os_as_the_cli_does(spec, windows):
    """Issue #21: the MAP gave a pod sent to Windows nodes by node affinity the Linux-only
    fields the CLI leaves out (the real server's comparison listed it). Its `windows`
    variable is now hardener.kube.nodes.node_os in CEL, from the same tables."""
    from hardener.kube import nodes

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {**spec, "containers": [{"name": "a", "image": "x"}]}}
    assert nodes.targets_windows(pod["spec"]) is windows
    policy = map_of()
    act = policy._activation(pod)
    variables = celtypes.MapType()
    act["variables"] = variables
    for name, prog in policy.variables:
        variables[celtypes.StringType(name)] = prog.evaluate(act)
    assert bool(variables[celtypes.StringType("windows")]) is windows
    assert security(policy.admit(copy.deepcopy(pod))) == security(hardened(pod))


@pytest.mark.parametrize("value", ["docker/default", "runtime/default", "localhost/profiles/audit.json",
                                   "localhost/../escape.json", "localhost/", "unconfined", "something-else"])
def test_a_kept_seccomp_annotation_is_mirrored_in_the_field_as_the_cli_does(value):
    """Issue #21: the MAP set no seccompProfile on a pod with a legacy pod annotation, where
    the CLI mirrors it (kernel.py _field_for_annotation; validation.go
    validateSeccompAnnotationsAndFieldsMatch rejects a field that says otherwise), so the
    VAP then denied the pod the MAP made. Same answer now, for values it cannot mirror too."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "annotations": {"seccomp.security.alpha.kubernetes.io/pod": value}},
           "spec": {"containers": [{"name": "a", "image": "x"}]}}
    policy = map_of()
    mutated = policy.admit(copy.deepcopy(pod))
    assert policy.errors == []
    assert security(mutated) == security(hardened(pod))
    if value == "docker/default":
        assert mutated["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
