"""k8s-harden as a KRM function: a `config.kubernetes.io/v1` ResourceList in, a
ResourceList out, checked against the KRM Functions Specification (and its reference
implementation's Result type, kyaml fn/framework), then through the real kpt when the
machine has it (`kpt fn eval --exec`, `kpt fn render --allow-exec`)."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from e2e_support import (WORKLOAD_KINDS, annotations, copy_corpus, key, kpt, load_all,
                         restricted_gaps, run)

SEVERITIES = {"error", "warning", "info"}
RESULT_FIELDS = {"message", "severity", "resourceRef", "field", "file", "tags"}
REF_FIELDS = {"apiVersion", "kind", "name", "namespace"}
FIELD_FIELDS = {"path", "currentValue", "proposedValue"}
FILE_FIELDS = {"path", "index"}
#: A kpt package whose pipeline runs k8s-harden with the Hardener config in hardener.yaml.
KPTFILE = textwrap.dedent("""\
    apiVersion: kpt.dev/v1
    kind: Kptfile
    metadata:
      name: app
    pipeline:
      mutators:
        - exec: k8s-harden
          configPath: hardener.yaml
    """)


def assert_results_schema(results, items):
    """`results` as the KRM Functions Specification (v1) defines a Result."""
    assert isinstance(results, list)
    refs = {key(i) for i in items}
    for r in results:
        assert isinstance(r, dict) and set(r) <= RESULT_FIELDS, r
        assert isinstance(r["message"], str) and r["message"], r
        assert r.get("severity", "error") in SEVERITIES, r
        if "resourceRef" in r:
            ref = r["resourceRef"]
            assert set(ref) <= REF_FIELDS and {"apiVersion", "kind", "name"} <= set(ref), ref
            assert all(isinstance(v, str) and v for v in ref.values()), ref
            assert (ref["apiVersion"], ref["kind"], ref.get("namespace"), ref["name"]) in refs, ref
        if "field" in r:
            assert set(r["field"]) <= FIELD_FIELDS and isinstance(r["field"]["path"], str), r
            assert r["field"]["path"] and not r["field"]["path"].startswith(("/", ".")), r
        if "file" in r:
            assert set(r["file"]) <= FILE_FIELDS and isinstance(r["file"]["path"], str), r
            assert isinstance(r["file"].get("index", 0), int), r
        if "tags" in r:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in r["tags"].items()), r


def _item(doc: dict, path: str, index: int) -> dict:
    """A resource as kpt/kustomize put it into a ResourceList (path/index annotations)."""
    doc = json.loads(json.dumps(doc))
    ann = doc.setdefault("metadata", {}).setdefault("annotations", {}) or {}
    doc["metadata"]["annotations"] = ann
    ann.update({"config.kubernetes.io/path": path, "config.kubernetes.io/index": str(index),
                "internal.config.kubernetes.io/path": path,
                "internal.config.kubernetes.io/index": str(index),
                "internal.config.kubernetes.io/seqindent": "compact",
                "config.k8s.io/id": str(index + 1)})
    return doc


def _resource_list(items, function_config=None) -> str:
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    if function_config is not None:
        rl["functionConfig"] = function_config
    return yaml.safe_dump(rl, sort_keys=False)


def _call(cli, text, **kw):
    proc = run([cli], input=text, **kw)
    [out] = load_all(proc.stdout)
    assert (out["apiVersion"], out["kind"]) == ("config.kubernetes.io/v1", "ResourceList")
    return out, proc


WEB = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx",
                                 "ports": [{"containerPort": 80}]}]}}},
}
AGENT = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "shop"},
    "spec": {"template": {"spec": {"hostNetwork": True,
                                   "containers": [{"name": "a", "image": "busybox"}]}}},
}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
       "spec": {"ports": [{"port": 80}]}}


def test_hardener_function_config(e2e_cli):
    items = [_item(d, "app.yaml", i) for i, d in enumerate([WEB, AGENT, SVC])]
    config = {"apiVersion": "k8s-harden.io/v1", "kind": "Hardener",
              "metadata": {"name": "harden",
                           "annotations": {"config.kubernetes.io/local-config": "true"}},
              "profile": "restricted", "kubeVersion": "1.33", "emit": "none",
              "controls": {"runAsUser": {"value": 4242}}}
    out, _ = _call(e2e_cli, _resource_list(items, config))
    assert out["functionConfig"] == config
    got = out["items"]
    assert [key(i) for i in got] == [key(i) for i in items], "order kept, nothing dropped"
    for before, after in zip(items, got):
        assert annotations(after) == annotations(before), "annotations untouched"
    web, agent, svc = got
    assert not restricted_gaps(web) and not restricted_gaps(agent)
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 4242
    assert svc == items[2]
    assert_results_schema(out["results"], got)
    changes = [r for r in out["results"] if r["severity"] == "info"]
    skips = [r for r in out["results"] if r["severity"] == "warning"]
    assert {r["resourceRef"]["kind"] for r in changes} == {"Deployment", "DaemonSet"}
    assert all("field" in r for r in changes)
    assert all(r["file"] == {"path": "app.yaml", "index": items.index(
        next(i for i in items if i["kind"] == r["resourceRef"]["kind"]))} for r in changes)
    # the kept hostNetwork is reported as a skip on the DaemonSet
    assert any(r["resourceRef"]["kind"] == "DaemonSet" and "hostNetwork" in r["message"]
               for r in skips), skips


def test_configmap_function_config_as_kpt_passes_it(e2e_cli):
    """kpt turns `fn eval -- key=value` / a Kptfile `configMap:` into a ConfigMap."""
    items = [_item(WEB, "web.yaml", 0)]
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "function-input",
                           "annotations": {"config.kubernetes.io/local-config": "true"}},
              "data": {"profile": "baseline", "kube-version": "1.29", "emit": "none"}}
    out, _ = _call(e2e_cli, _resource_list(items, config))
    [web] = out["items"]
    sc = web["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert sc["privileged"] is False
    assert "runAsNonRoot" not in (web["spec"]["template"]["spec"].get("securityContext") or {}), \
        "baseline does not force non-root"
    assert_results_schema(out["results"], out["items"])


def test_no_function_config_uses_defaults(e2e_cli):
    out, _ = _call(e2e_cli, _resource_list([_item(WEB, "web.yaml", 0)]))
    assert not restricted_gaps(out["items"][0])
    assert_results_schema(out["results"], out["items"])


def test_json_resource_list(e2e_cli):
    """YAML is a superset of JSON: a JSON ResourceList is accepted too."""
    text = json.dumps({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                       "items": [_item(WEB, "web.yaml", 0)]})
    out, _ = _call(e2e_cli, text)
    assert not restricted_gaps(out["items"][0])


def test_bad_function_config_fails_with_message(e2e_cli):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
              "data": {"profil": "restricted"}}
    proc = run([e2e_cli], input=_resource_list([_item(WEB, "web.yaml", 0)], config), check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "profil" in proc.stderr


def test_conflict_fails_the_function(e2e_cli):
    priv = json.loads(json.dumps(AGENT))
    priv["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    config = {"apiVersion": "k8s-harden.io/v1", "kind": "Hardener",
              "metadata": {"name": "h"}, "profile": "strict"}
    proc = run([e2e_cli], input=_resource_list([_item(priv, "a.yaml", 0)], config), check=False)
    assert proc.returncode != 0 and "privileged" in proc.stderr


@pytest.mark.parametrize("stream", ["vault.yaml", "argo-rollouts-examples.yaml"])
def test_corpus_resource_list_matches_stream_mode(stream, tmp_path, e2e_cli):
    """A corpus stream as ResourceList items is hardened exactly like the plain stream."""
    docs = load_all(copy_corpus(stream, tmp_path).read_text())
    items = [_item(d, stream, i) for i, d in enumerate(docs)]
    out, _ = _call(e2e_cli, _resource_list(items, {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"emit": "none"}}))
    streamed = load_all(run([e2e_cli, "--emit=none", "--report=none"],
                            input=(tmp_path / stream).read_text()).stdout)
    assert len(out["items"]) == len(streamed)
    for item, before, plain in zip(out["items"], items, streamed):
        assert annotations(item) == annotations(before)
        meta = dict(item["metadata"])
        meta_plain = dict(plain["metadata"])
        meta.pop("annotations", None), meta_plain.pop("annotations", None)
        assert {**item, "metadata": meta} == {**plain, "metadata": meta_plain}
    assert_results_schema(out["results"], out["items"])
    assert any(r["severity"] == "info" for r in out["results"])


# --------------------------------------------------------------------------- kpt

def test_kpt_fn_eval_exec(tmp_path, e2e_bin_path):
    kpt_bin = kpt()
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    copy_corpus("microservices-demo.yaml", pkg)
    proc = run([kpt_bin, "fn", "eval", pkg, "--exec", "k8s-harden", "--",
                "profile=restricted", "kube-version=1.33", "emit=none"], env={"PATH": e2e_bin_path})
    assert "[PASS]" in proc.stderr + proc.stdout
    docs = load_all((pkg / "microservices-demo.yaml").read_text())
    workloads = [d for d in docs if d.get("kind") in WORKLOAD_KINDS]
    assert workloads and all(not restricted_gaps(d) for d in workloads)
    assert not any(k.startswith("internal.config.kubernetes.io/")
                   for d in docs for k in annotations(d)), "kpt strips its own annotations"


def test_kpt_fn_render_allow_exec(tmp_path, e2e_bin_path):
    kpt_bin = kpt()
    pkg = tmp_path / "app"
    pkg.mkdir()
    copy_corpus("microservices-demo.yaml", pkg)
    (pkg / "Kptfile").write_text(KPTFILE)
    (pkg / "hardener.yaml").write_text(textwrap.dedent("""\
        apiVersion: k8s-harden.io/v1
        kind: Hardener
        metadata:
          name: harden
          annotations:
            config.kubernetes.io/local-config: "true"
        profile: restricted
        emit: none
        controls:
          runAsUser:
            value: 10001
        """))
    (pkg / "web.yaml").write_text(yaml.safe_dump(WEB, sort_keys=False))
    run([kpt_bin, "fn", "render", "--allow-exec", pkg], env={"PATH": e2e_bin_path})
    docs = load_all((pkg / "microservices-demo.yaml").read_text())
    workloads = [d for d in docs if d.get("kind") in WORKLOAD_KINDS]
    assert workloads and all(not restricted_gaps(d) for d in workloads)
    # the inline override applies where the manifest sets no uid of its own
    [web] = load_all((pkg / "web.yaml").read_text())
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001


def _tree(root) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kube, kinds", [
    ("1.24", {"PodSecurityPolicy", "ClusterRole", "RoleBinding"}),
    ("1.33", {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}),
])
def test_kpt_fn_render_again_and_again_changes_nothing(tmp_path, e2e_bin_path, kube, kinds):
    """Issue 11 item 2: `kpt fn render` three times used to give 1, 2, 3 copies of the policy
    objects. Each pass recognises what the last one generated and puts the new object in its
    place, with kpt's bookkeeping annotations, so the package is byte-identical after the
    first render; every `# Source:` comment stays with its own resource."""
    kpt_bin = kpt()
    pkg = tmp_path / "app"
    pkg.mkdir()
    copy_corpus("podinfo.yaml", pkg)
    (pkg / "Kptfile").write_text(KPTFILE)
    (pkg / "hardener.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: k8s-harden.io/v1
        kind: Hardener
        metadata:
          name: harden
          annotations:
            config.kubernetes.io/local-config: "true"
        kubeVersion: "{kube}"
        emit: {"psp,rbac" if kube == "1.24" else "vap"}
        """))
    render = [kpt_bin, "fn", "render", "--allow-exec", pkg]
    run(render, env={"PATH": e2e_bin_path})
    first = _tree(pkg)
    docs = [d for text in first.values() for d in load_all(text.decode()) if isinstance(d, dict)]
    found = [d["kind"] for d in docs if d.get("kind") in kinds]
    assert sorted(found) == sorted(kinds), found
    sources = {name: [line for line in text.decode().splitlines() if line.startswith("# Source:")]
               for name, text in first.items()}
    for _ in range(2):
        run(render, env={"PATH": e2e_bin_path})
        assert _tree(pkg) == first
    assert not any(sources[n] for n in sources if n != "podinfo.yaml")  # no comment moved away
