"""YAML 1.1 keys that are not strings: `on:`, `yes:`, `1:`, `0x1F:`, `null:`, `~:`, `1.5:`,
`.inf:` ... anywhere in a manifest.

kubectl accepts them (sigs.k8s.io/yaml turns every key into a string, and the API server
drops the unknown field), so k8s-harden must too: every document passes through or is
hardened, never an internal error. The fuzz test builds pod templates (every workload kind,
`List`, `ResourceList`), Namespaces and ConfigMaps, inserts non-string keys into any mapping
the hardener, the policy emitters, the report and the audit read, and runs the CLI in-process
on the stream twice: as generated, and with the extra keys left out. Since such a key is no
Kubernetes field, both runs must decide the same: the same exit code, the same change report,
the same audit findings, and the same output once the non-string keys are taken out of it;
and every inserted key comes out with its value (unless a change replaced what held it).

CI runs a fixed sequence of examples; `K8S_HARDEN_FUZZ_EXAMPLES=2000` runs random ones.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import invoke

_LONG = "K8S_HARDEN_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("K8S_HARDEN_FUZZ_EXAMPLES", "0")) or None
SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())
SARIF = jsonschema.Draft4Validator(SCHEMA)


def fuzz(ci_examples: int):
    return settings(max_examples=EXAMPLES or ci_examples, deadline=None, database=None,
                    derandomize=not _LONG, suppress_health_check=list(HealthCheck), print_blob=True)


# --------------------------------------------------------------------------- the keys
#: Plain scalars that YAML 1.1 (PyYAML, and go-yaml v2 under sigs.k8s.io/yaml) resolves to
#: something other than a string, valid as block and as flow mapping keys.
SPELLINGS = ["on", "off", "yes", "no", "On", "YES", "true", "False", "TRUE",
             "0", "1", "-1", "42", "0x1F", "017", "0b101", "1_000", "+7",
             "null", "~", "Null", "NULL",
             "1.5", "-0.0", "1.0e+3", ".inf", "-.inf", ".NaN", ".nan", "!!binary aGk="]


def _resolved(spelling: str):
    """The key a spelling loads as, compared as a Python dict compares keys (`1`, `true` and
    `1.0` are one key there)."""
    key = next(iter(yaml.safe_load(f"{spelling}: 0")))
    assert not isinstance(key, str), spelling
    return "nan" if isinstance(key, float) and math.isnan(key) else key


#: Spellings grouped by the key they load as: one mapping gets at most one of each group.
_GROUPS: dict = {}
for _s in SPELLINGS:
    _GROUPS.setdefault(_resolved(_s), []).append(_s)
KEY_GROUPS = list(_GROUPS.values())


def _is_junk(k) -> bool:
    return not isinstance(k, str)


def strip_junk(obj):
    """The data with every non-string key taken out (what the clean run must give)."""
    if isinstance(obj, dict):
        return {k: strip_junk(v) for k, v in obj.items() if not _is_junk(k)}
    if isinstance(obj, list):
        return [strip_junk(v) for v in obj]
    return obj


def same(a, b) -> bool:
    """Equality that counts NaN equal to NaN (a `.nan` key's value may be NaN too)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------- the manifests
name = st.sampled_from(["a", "b", "app", "init"])
caps = st.lists(st.sampled_from(["ALL", "NET_ADMIN", "NET_BIND_SERVICE", "CHOWN", "cap_sys_admin"]),
                max_size=2, unique=True)
profile = st.one_of(st.fixed_dictionaries({"type": st.sampled_from(["RuntimeDefault", "Unconfined"])}),
                    st.just({"type": "Localhost", "localhostProfile": "p.json"}))
se_linux = st.fixed_dictionaries({}, optional={"type": st.sampled_from(["container_t", "spc_t"]),
                                               "level": st.just("s0:c1")})
windows_options = st.fixed_dictionaries({}, optional={"hostProcess": st.booleans(),
                                                      "runAsUserName": st.just("ContainerUser")})
container_sc = st.fixed_dictionaries({}, optional={
    "privileged": st.booleans(), "allowPrivilegeEscalation": st.booleans(),
    "runAsUser": st.sampled_from([0, 1000]), "runAsGroup": st.sampled_from([0, 3000]),
    "runAsNonRoot": st.booleans(), "readOnlyRootFilesystem": st.booleans(),
    "capabilities": st.fixed_dictionaries({}, optional={"add": caps, "drop": caps}),
    "seccompProfile": profile, "appArmorProfile": profile, "seLinuxOptions": se_linux,
    "windowsOptions": windows_options, "procMount": st.sampled_from(["Default", "Unmasked"])})
handler = st.fixed_dictionaries({"httpGet": st.fixed_dictionaries(
    {"port": st.just(80)}, optional={"host": st.just("10.0.0.1"), "path": st.just("/")})})
container = st.fixed_dictionaries({"name": name, "image": st.sampled_from(["nginx", "busybox"])}, optional={
    "securityContext": container_sc,
    "ports": st.lists(st.fixed_dictionaries({"containerPort": st.sampled_from([80, 8080])},
                                            optional={"hostPort": st.just(80)}), max_size=2),
    "volumeMounts": st.lists(st.fixed_dictionaries({"name": st.just("v"), "mountPath": st.just("/data")},
                                                   optional={"readOnly": st.booleans()}), max_size=1),
    "env": st.lists(st.fixed_dictionaries({"name": st.just("E"), "value": st.just("1")}), max_size=1),
    "command": st.sampled_from([["sh", "-c", "chown -R 1000 /data"], ["app"]]),
    "livenessProbe": handler, "lifecycle": st.fixed_dictionaries({}, optional={"postStart": handler})})
volume = st.one_of(
    st.fixed_dictionaries({"name": st.just("v"), "emptyDir": st.just({})}),
    st.fixed_dictionaries({"name": st.just("v"), "hostPath": st.fixed_dictionaries({"path": st.just("/var")})}),
    st.fixed_dictionaries({"name": st.just("c"), "csi": st.fixed_dictionaries({"driver": st.just("d.io")})}),
    st.fixed_dictionaries({"name": st.just("f"), "flexVolume": st.fixed_dictionaries({"driver": st.just("x/y")})}),
    st.fixed_dictionaries({"name": st.just("m"), "configMap": st.fixed_dictionaries({"name": st.just("m")})}))
pod_sc = st.fixed_dictionaries({}, optional={
    "runAsUser": st.sampled_from([0, 1000]), "runAsNonRoot": st.booleans(), "fsGroup": st.sampled_from([0, 2000]),
    "supplementalGroups": st.lists(st.sampled_from([0, 5]), max_size=2),
    "sysctls": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["net.ipv4.ip_unprivileged_port_start",
                                                                        "kernel.shm_rmid_forced", "net.core.somaxconn"]),
                                               "value": st.just("0")}), max_size=2),
    "seccompProfile": profile, "appArmorProfile": profile, "seLinuxOptions": se_linux,
    "windowsOptions": windows_options})
affinity = st.just({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}})
pod_spec = st.fixed_dictionaries({"containers": st.lists(container, min_size=1, max_size=2)}, optional={
    "initContainers": st.lists(container, max_size=1), "ephemeralContainers": st.lists(container, max_size=1),
    "securityContext": pod_sc,
    "volumes": st.lists(volume, max_size=2), "hostNetwork": st.booleans(), "hostPID": st.booleans(),
    "hostIPC": st.booleans(), "hostUsers": st.booleans(), "serviceAccountName": st.just("sa"),
    "automountServiceAccountToken": st.booleans(),
    "nodeSelector": st.fixed_dictionaries({"kubernetes.io/os": st.sampled_from(["linux", "windows"])}),
    "os": st.fixed_dictionaries({"name": st.sampled_from(["linux", "windows"])}), "affinity": affinity})
annotations = st.dictionaries(st.sampled_from([
    "seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security.alpha.kubernetes.io/a",
    "container.apparmor.security.beta.kubernetes.io/a", "k8s-harden.io/skip-containers",
    "k8s-harden.io/skip-controls", "helm.sh/hook", "postrenderer.helm.sh/postrender-filename", "note"]),
    st.sampled_from(["runtime/default", "unconfined", "localhost/p", "a", "runAsUser", "chart/templates/x.yaml"]),
    max_size=3)
labels = st.dictionaries(st.sampled_from(["app", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
                                          "pod-security.kubernetes.io/enforce"]),
                         st.sampled_from(["web", "k8s-harden", "restricted", "privileged"]), max_size=2)


@st.composite
def metadata(draw, namespaced=True):
    meta = {"name": draw(st.sampled_from(["w", "x", "y"]))}
    if namespaced and draw(st.booleans()):
        meta["namespace"] = draw(st.sampled_from(["x", "shop"]))
    meta.update(draw(st.fixed_dictionaries({}, optional={"labels": labels, "annotations": annotations})))
    return meta


@st.composite
def pod_template(draw):
    return {"metadata": draw(metadata(namespaced=False)), "spec": draw(pod_spec)}


WORKLOAD_KINDS = [("Pod", "v1"), ("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"),
                  ("DaemonSet", "apps/v1"), ("ReplicaSet", "apps/v1"), ("Job", "batch/v1"),
                  ("CronJob", "batch/v1"), ("PodTemplate", "v1"), ("ReplicationController", "v1"),
                  ("Rollout", "argoproj.io/v1alpha1")]  # a CRD of the built-in profiles


@st.composite
def workload(draw):
    kind, api = draw(st.sampled_from(WORKLOAD_KINDS))
    obj = {"apiVersion": api, "kind": kind, "metadata": draw(metadata())}
    tpl = draw(pod_template())
    if kind == "Pod":
        obj["spec"] = tpl["spec"]
        obj["metadata"].update({k: v for k, v in tpl["metadata"].items() if k != "name"})
    elif kind == "PodTemplate":
        obj["template"] = tpl
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "@daily", "jobTemplate": {"spec": {"template": tpl}}}
    else:
        obj["spec"] = {"selector": {"matchLabels": {"app": "web"}}, "template": tpl}
    return obj


@st.composite
def resource(draw):
    which = draw(st.integers(0, 9))
    if which <= 5:
        return draw(workload())
    if which <= 7:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": draw(metadata(namespaced=False))}
    if which == 8:
        return {"apiVersion": "v1", "kind": "List", "items": draw(st.lists(workload(), min_size=1, max_size=2))}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": draw(metadata()), "data": {"k": "v"}}


class Junk:
    """Inserts placeholder keys into mappings; `spell` turns them into YAML 1.1 keys."""

    def __init__(self):
        self.spellings: dict[str, str] = {}  # placeholder -> spelling

    def add(self, draw, obj, rate: float):
        if isinstance(obj, list):
            for v in obj:
                self.add(draw, v, rate)
            return
        if not isinstance(obj, dict):
            return
        for v in list(obj.values()):
            self.add(draw, v, rate)
        if draw(st.floats(0, 1)) >= rate:
            return
        groups = draw(st.lists(st.sampled_from(range(len(KEY_GROUPS))), min_size=1, max_size=2, unique=True))
        for g in groups:
            placeholder = f"kzqjunk{len(self.spellings)}"
            self.spellings[placeholder] = draw(st.sampled_from(KEY_GROUPS[g]))
            obj[placeholder] = copy.deepcopy(draw(st.sampled_from(
                ["v", "", "true", 0, 1, True, None, ["ALL"], {"name": "z"}, {"type": "Unconfined"},
                 {1: "nested", False: {None: 0}}])))

    def spell(self, text: str) -> str:
        return re.sub(r"kzqjunk[0-9]+", lambda m: self.spellings[m.group(0)], text)


@st.composite
def streams(draw):
    """(stream with non-string keys, the same stream without them)."""
    # a copy that shares no object: st.just() values are shared between draws and documents
    docs = json.loads(json.dumps(draw(st.lists(resource(), min_size=1, max_size=3))))
    if draw(st.integers(0, 7)) == 0:
        docs = [{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": docs}]
    clean = json.loads(json.dumps(docs))  # before the keys go in
    junk = Junk()
    junk.add(draw, docs, draw(st.sampled_from([0.15, 0.4, 1.0])))
    style = dict(sort_keys=False, allow_unicode=True, explicit_start=draw(st.booleans()),
                 default_flow_style=draw(st.sampled_from([False, None, True])))
    return junk.spell(yaml.safe_dump_all(docs, **style)), yaml.safe_dump_all(clean, **style)


# --------------------------------------------------------------------------- the runs
HARDEN_RUNS = [
    ("--report", "json"),
    ("--profile", "strict", "--kube-version", "1.18", "--node-features", "appArmor", "--report", "json"),
    ("--emit", "psp,rbac,pss-labels,vap", "--force", "--kube-version", "1.24", "--namespace", "x",
     "--node-features", "appArmor", "--report", "json"),
    ("--emit", "psp,rbac,pss-labels,vap", "--force", "--kube-version", "1.33", "--namespace", "x",
     "--node-features", "appArmor", "--report", "text"),
]
AUDIT_RUNS = [("--format", "json", "--profile", "strict"), ("--format", "text", "--profile", "strict"),
              ("--format", "sarif", "--profile", "strict"),
              ("--format", "json", "--profile", "strict", "--kube-version", "1.24", "--node-features", "appArmor")]


def run(*args, input):
    r = invoke(*args, input=input)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # an internal error: the CLI would say "internal error"
    return r


def _no_lines(message: str) -> str:
    return re.sub(r"line \d+", "line N", message)


def load(text: str) -> list:
    from hardener.yamlio.load import SafeLoader

    return list(yaml.load_all(text, Loader=SafeLoader))


def junk_paths(obj, path=()):
    """(path, key, value) of every non-string key, outermost first."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if _is_junk(k):
                yield path, k, v
            else:
                yield from junk_paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from junk_paths(v, path + (i,))


def _at(obj, path):
    for p in path:
        if isinstance(obj, dict) and p in obj or isinstance(obj, list) and isinstance(p, int) and p < len(obj):
            obj = obj[p]
        else:
            return KeyError
    return obj


def _replaced(path: tuple, report: dict) -> bool:
    """Did a change replace or remove a value on the way to `path`?"""
    pointer = "".join(f"/{p}" for p in path)
    for r in report["resources"]:
        for c in r["changes"]:
            if c["op"] in ("replace", "remove") and (pointer + "/").startswith(c["path"] + "/"):
                return True
    return False


def check_harden(text: str, clean: str) -> None:
    is_resource_list = any(isinstance(d, dict) and d.get("kind") == "ResourceList" for d in load(clean))
    for args in HARDEN_RUNS:
        got, want = run(*args, input=text), run(*args, input=clean)
        assert got.exit_code == want.exit_code, (args, got.stderr, want.stderr)
        if got.exit_code:
            assert got.exit_code == 2 and _no_lines(got.stderr) == _no_lines(want.stderr), (args, got.stderr)
            continue
        assert got.stderr == want.stderr, args  # the same change report
        out = load(got.stdout)
        assert same(strip_junk(out), load(want.stdout)), args
        report = json.loads(got.stderr) if "json" in args else None
        if report is not None:
            inp = load(text)
            for path, key, value in junk_paths(inp):
                if not _replaced(path, report):
                    holder = _at(out, path)
                    assert isinstance(holder, dict) and key in holder and same(holder[key], value), \
                        (args, path, key)
        if args == HARDEN_RUNS[0] and not is_resource_list:
            # idempotent (a ResourceList is not: its `results` grow on every pass)
            again = run(*args, input=got.stdout)
            assert again.exit_code == 0 and again.stdout == got.stdout, again.stderr


def _finding_keys(out: dict) -> list:
    return [(f["rule"], f["document"], f.get("item"), f["path"], f["container"], f["name"])
            for f in out["findings"]]


def check_audit(text: str, clean: str) -> None:
    for args in AUDIT_RUNS:
        got, want = run("audit", *args, input=text), run("audit", *args, input=clean)
        assert got.exit_code == want.exit_code, (args, got.stderr, want.stderr)
        if got.exit_code == 2:
            assert _no_lines(got.stderr) == _no_lines(want.stderr), (args, got.stderr)
            continue
        if "json" in args:
            a, b = json.loads(got.stdout), json.loads(want.stdout)
            assert _finding_keys(a) == _finding_keys(b), args
            assert a["summary"] == b["summary"], args
        elif "sarif" in args:
            log = json.loads(got.stdout)
            SARIF.validate(log)
            assert len(log["runs"][0]["results"]) == len(json.loads(want.stdout)["runs"][0]["results"])
        else:
            assert got.stdout.splitlines()[-1] == want.stdout.splitlines()[-1], args


@fuzz(60)
@given(streams())
def test_fuzz_yaml11_keys_harden_policy_and_report(stream):
    check_harden(*stream)


@fuzz(40)
@given(streams())
def test_fuzz_yaml11_keys_audit(stream):
    check_audit(*stream)


# --------------------------------------------------------------------------- reported shapes
REPORTED = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {on: a, y: b, 2: c, null: d, 1.5: e}
  labels: {yes: a, 0x1F: b}
spec:
  1: x
  securityContext: {2: a, true: b}
  volumes:
  - name: v
    1: x
    emptyDir: {}
  containers:
  - name: c
    image: x
    1: y
    securityContext: {2: a, on: b, capabilities: {~: x}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: x
  labels: {on: a, 2: b}
"""


@pytest.mark.parametrize("args", [*HARDEN_RUNS, ("--report", "text")])
def test_reported_non_string_keys_are_hardened(args):
    r = run(*args, input=REPORTED)
    assert r.exit_code == 0, r.stderr
    pod, ns = load(r.stdout)[:2]
    ann = pod["metadata"]["annotations"]
    assert {k: v for k, v in ann.items() if "/" not in str(k)} == {True: "a", "y": "b", 2: "c", None: "d", 1.5: "e"}
    assert pod["metadata"]["labels"] == {True: "a", 31: "b"}
    assert pod["spec"][1] == "x" and pod["spec"]["volumes"][0][1] == "x"
    assert pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert ns["metadata"]["labels"][True] == "a"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_reported_non_string_keys_are_audited(fmt):
    r = run("audit", "--format", fmt, "--profile", "strict", input=REPORTED)
    assert r.exit_code == 1, r.stderr
    if fmt == "sarif":
        SARIF.validate(json.loads(r.stdout))


def test_keys_python_cannot_keep_apart_are_an_input_error_naming_file_document_and_line(tmp_path):
    """`1` and `true` are two YAML keys (and two for sigs.k8s.io/yaml: "1", "true"), but one
    key of a Python dict: rather than lose one value silently, the input is refused."""
    path = tmp_path / "k.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    1: a\n    true: b\n"
                    "spec: {containers: [{name: a}]}\n")
    r = run("-f", str(path), input=None)
    assert r.exit_code == 2 and r.stdout == ""
    assert f"{path}, document 1, line 11: invalid YAML: " in r.stderr, r.stderr
    assert "duplicate key 'true' (first at line 10 as '1': both are read as the key 1" in r.stderr, r.stderr


def test_unhashable_key_is_an_input_error_naming_file_document_and_line(tmp_path):
    """A key YAML cannot hash (`? [a, b]`) is refused, as kubectl refuses it."""
    path = tmp_path / "k.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    ? [a, b]\n    : x\n"
                    "spec: {containers: [{name: a}]}\n")
    r = run("-f", str(path), input=None)
    assert r.exit_code == 2
    assert f"{path}, document 1, line 10:" in r.stderr and "unhashable" in r.stderr, r.stderr


# --------------------------------------------------------------------------- configs
# A Hardener config or a ConfigMap (--config, a ResourceList's functionConfig) with a key
# that is not a string: reported as an unknown key, not a crash (hardener/config.py reads
# the keys with str()).
CONFIGS = [
    "apiVersion: k8s-harden.io/v1\nkind: Hardener\nmetadata: {name: c}\nprofile: restricted\n1: x\n",
    "apiVersion: k8s-harden.io/v1\nkind: Hardener\nmetadata: {name: c}\non: x\nkubeVersion: '1.30'\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {profile: restricted, 1: x}\n",
]


@pytest.mark.parametrize("config", CONFIGS)
def test_config_with_non_string_keys_is_an_input_error(tmp_path, config):
    path = tmp_path / "config.yaml"
    path.write_text(config)
    r = run("--config", str(path), input=REPORTED)
    assert r.exit_code == 2 and str(path) in r.stderr and "unknown" in r.stderr, r.stderr


def test_resource_list_function_config_with_non_string_keys():
    stream = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n"
              "  apiVersion: k8s-harden.io/v1\n  kind: Hardener\n  metadata: {name: c}\n  1: x\n"
              "items:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a}]}}\n")
    r = run(input=stream)
    assert r.exit_code == 2 and "functionConfig" in r.stderr, r.stderr
