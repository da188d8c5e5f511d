"""`k8s-harden audit`: formats, exit codes, line numbers, kinds, the profile group, and the
corpus — audit reports what the hardener then fixes, and the hardened output passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hardener import pss
from hardener.audit import audit_sources
from hardener.audit.formats import as_sarif
from hardener.controls import CONTROLS
from hardener.errors import ConflictError
from hardener.inputs import Source
from helpers import CORPUS_FILES, REPO, harden, invoke

SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())
SEED = (REPO / "examples" / "seed-pods.yaml").read_text()

PASSING_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: ok
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"""

# A hand-written stream: comments, a non-workload, a Deployment, a CronJob, a List, a
# flow-style Pod. Every line a finding must point at carries a `# <-` marker.
STREAM = """\
# rendered by hand
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
# a Deployment with host access and a privileged container
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    metadata:
      labels: {app: web}
    spec:                                    # <- web spec
      hostNetwork: true                      # <- hostNetwork
      containers:
        - name: app                          # <- app container
          image: nginx
          ports:
            - containerPort: 80
              hostPort: 8080                 # <- hostPort
          securityContext:                   # <- app sc
            privileged: true                 # <- privileged
            capabilities:
              add: [NET_ADMIN]               # <- NET_ADMIN
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: jobs
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:                                # <- cron spec
          restartPolicy: OnFailure
          securityContext:
            runAsUser: 0                     # <- cron runAsUser
          containers:
          - name: job                        # <- job container
            image: busybox
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: first
  spec:
    containers:
    - name: c
      image: x
      securityContext:
        allowPrivilegeEscalation: true       # <- first ape
- apiVersion: apps/v1
  kind: DaemonSet
  metadata:
    name: agent
    namespace: kube-system
  spec:
    template:
      spec:
        volumes:
        - name: root
          hostPath: {path: /}                # <- agent hostPath
        containers:
        - name: agent
          image: x
--- {apiVersion: v1, kind: Pod, metadata: {name: flow}, spec: {containers: [{name: f, image: x}]}}  # <- flow
"""


def line_of(text: str, marker: str) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if ln.endswith(f"# <- {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def audit(*args, input=None, env=None):
    return invoke("audit", *args, input=input, env=env)


def run_json(*args, input=None):
    r = audit("--format", "json", *args, input=input)
    assert r.exit_code in (0, 1), r.output
    return r.exit_code, json.loads(r.stdout)


def by_rule(findings, rule, **where):
    return [f for f in findings if f["rule"] == rule and all(f.get(k) == v for k, v in where.items())]


def validate_sarif(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)


# --------------------------------------------------------------------------- rules
def test_rule_table_names_every_upstream_check_with_its_level():
    assert all(c.title and c.description for c in pss.CHECKS.values())
    covered = set().union(*(c.pss_checks for c in CONTROLS.values()))
    assert covered <= set(pss.CHECKS), covered - set(pss.CHECKS)


# --------------------------------------------------------------------------- line numbers
def test_line_numbers_of_a_hand_written_stream(tmp_path):
    path = tmp_path / "stream.yaml"
    path.write_text(STREAM)
    code, out = run_json("-f", str(path))
    assert code == 1
    f = out["findings"]
    assert {x["source"] for x in f} == {str(path)}

    def line(rule, **where):
        hits = by_rule(f, rule, **where)
        assert len(hits) == 1, (rule, where, hits)
        return hits[0]["line"], hits[0]["exactLine"]

    L = lambda m: line_of(STREAM, m)  # noqa: E731
    # present fields: their own line
    assert line("pss/hostNamespaces", name="web") == (L("hostNetwork"), True)
    assert line("pss/hostPorts", name="web") == (L("hostPort"), True)
    assert line("pss/privileged", name="web") == (L("privileged"), True)
    assert line("pss/capabilities_restricted", name="web",
                path="/spec/template/spec/containers/0/securityContext/capabilities/add/0") == (L("NET_ADMIN"), True)
    assert line("pss/runAsUser", name="nightly") == (L("cron runAsUser"), True)
    assert line("pss/allowPrivilegeEscalation", name="first") == (L("first ape"), True)
    assert line("pss/restrictedVolumes", name="agent") == (L("agent hostPath"), True)
    # missing fields: the deepest existing parent (container securityContext, container, spec)
    assert line("pss/runAsNonRoot", name="web") == (L("app sc"), False)
    assert line("pss/runAsNonRoot", name="nightly") == (L("job container"), False)
    assert line("pss/seccompProfile_restricted", name="web") == (L("app sc"), False)
    # a flow-style document: everything is on its `---` line
    assert {x["line"] for x in f if x["name"] == "flow"} == {L("flow")}
    # resources and pod templates carry their own lines and document indexes
    res = {r["name"]: r for r in out["resources"]}
    assert [(r["document"], r.get("item")) for r in out["resources"]] == \
        [(1, None), (2, None), (3, "/items/0"), (3, "/items/1"), (4, None)]
    assert res["web"]["line"] == STREAM.splitlines().index("apiVersion: apps/v1") + 1
    assert res["nightly"]["podTemplates"][0]["pointer"] == "/spec/jobTemplate/spec/template"
    assert res["nightly"]["podTemplates"][0]["line"] == L("cron spec") - 1
    assert res["agent"]["podTemplates"][0]["pointer"] == "/items/1/spec/template"


def test_line_numbers_across_files_and_directories(tmp_path):
    (tmp_path / "a.yaml").write_text(PASSING_POD)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.yaml").write_text("# no leading separator\n" + STREAM.split("---\n", 2)[2])
    code, out = run_json("-f", str(tmp_path))
    assert code == 1
    b = str(sub / "b.yaml")
    text = (sub / "b.yaml").read_text()
    web = by_rule(out["findings"], "pss/privileged", name="web")[0]
    assert web["source"] == b and web["line"] == line_of(text, "privileged")
    assert web["document"] == 1  # a.yaml is document 0; b.yaml starts with the Deployment
    assert out["resources"][0]["source"] == str(tmp_path / "a.yaml")
    assert out["resources"][0]["passes"] is True


def test_stdin_is_named_stdin():
    r = audit(input=SEED)
    assert r.exit_code == 1
    assert r.stdout.startswith("<stdin>:")
    r = audit("--format", "sarif", input=SEED)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for res in json.loads(r.stdout)["runs"][0]["results"] for loc in res["locations"]}
    assert uris == {"stdin"}


# --------------------------------------------------------------------------- formats
def test_text_one_line_per_finding_and_a_summary():
    r = audit(input=STREAM)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    _, out = run_json(input=STREAM)
    assert len(lines) == len(out["findings"]) + 1
    priv = next(ln for ln in lines if "pss/privileged" in ln)
    assert priv.startswith(f"<stdin>:{line_of(STREAM, 'privileged')}: Deployment shop/web (document 1) [app] ")
    assert "/spec/template/spec/containers/0/securityContext/privileged = true" in priv
    assert "fix: remove securityContext.privileged or set it to false" in priv
    unset = next(ln for ln in lines if "pss/runAsNonRoot" in ln and "shop/web" in ln)
    assert "= (unset)" in unset
    item = next(ln for ln in lines if "DaemonSet kube-system/agent" in ln)
    assert "(document 3, items/1)" in item
    assert lines[-1].startswith("k8s-harden audit: 5 pod template(s) in 5 resource(s), PSS restricted v1.37: "
                                "0 pass, 5 fail")
    assert r.stderr == ""


def test_json_is_one_object_with_findings_and_resource_summaries():
    code, out = run_json(input=STREAM)
    assert code == 1
    assert set(out) == {"level", "kubeVersion", "profile", "findings", "resources", "summary"}
    assert (out["level"], out["kubeVersion"], out["profile"]) == ("restricted", "1.37", None)
    f = by_rule(out["findings"], "pss/hostPorts")[0]
    assert {"rule", "group", "check", "level", "source", "line", "document", "apiVersion", "kind",
            "namespace", "name", "podTemplate", "container", "path", "value", "message", "fix"} <= set(f)
    assert (f["group"], f["check"], f["level"], f["container"], f["value"]) == \
        ("pss", "hostPorts", "baseline", "app", 8080)
    meets = {r["name"]: r["meets"] for r in out["resources"]}
    assert meets == {"web": "privileged", "nightly": "baseline", "first": "baseline",
                     "agent": "privileged", "flow": "baseline"}
    s = out["summary"]
    assert s["podTemplates"] == 5 and s["failing"] == 5 and s["passing"] == 0
    assert s["meets"] == {"restricted": 0, "baseline": 3, "privileged": 2}
    assert s["findings"] == len(out["findings"]) == sum(r["findings"] for r in out["resources"])


def test_sarif_validates_and_has_stable_rule_ids(tmp_path):
    path = tmp_path / "stream.yaml"
    path.write_text(STREAM)
    r = audit("--format", "sarif", "-f", str(path), "--profile", "strict")
    assert r.exit_code == 1
    log = json.loads(r.stdout)
    validate_sarif(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "k8s-harden"
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids[:len(pss.CHECKS)] == [f"pss/{c}" for c in pss.CHECKS]
    assert "pss/runAsNonRoot" in ids and "profile/readOnlyRootFilesystem" in ids
    assert all(rule["help"]["text"] and rule["shortDescription"]["text"] for rule in driver["rules"])
    _, js = run_json("-f", str(path), "--profile", "strict")
    assert len(run["results"]) == len(js["findings"])
    for res, f in zip(run["results"], js["findings"]):
        assert res["ruleId"] == f["rule"] and ids[res["ruleIndex"]] == f["rule"]
        assert res["level"] == "error"
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == path.as_uri()
        assert loc["region"]["startLine"] == f["line"]
    priv = next(x for x in run["results"] if x["ruleId"] == "pss/privileged")
    assert priv["locations"][0]["physicalLocation"]["region"]["startLine"] == line_of(STREAM, "privileged")
    # fingerprints are stable across runs and unique per finding
    again = json.loads(audit("--format", "sarif", "-f", str(path), "--profile", "strict").stdout)
    fps = [x["partialFingerprints"] for x in run["results"]]
    assert fps == [x["partialFingerprints"] for x in again["runs"][0]["results"]]
    assert len({json.dumps(x) for x in fps}) == len(fps)


def test_sarif_of_a_passing_stream_validates_with_no_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ok.yaml").write_text(PASSING_POD)
    r = audit("--format", "sarif", "-f", "ok.yaml", "--level", "baseline")
    assert r.exit_code == 0
    log = json.loads(r.stdout)
    validate_sarif(log)
    # no error; the one warning: runAsNonRoot with no runAsUser leaves the verdict to the image
    assert [(x["ruleId"], x["level"]) for x in log["runs"][0]["results"]] == [
        ("kubelet/runAsNonRootImageUser", "warning")]
    assert not any(rule["id"] in ("pss/runAsNonRoot", "pss/capabilities_restricted")
                   for rule in log["runs"][0]["tool"]["driver"]["rules"])  # baseline rules only


def test_relative_paths_are_relative_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("my dir").mkdir()
    Path("my dir/seed.yaml").write_text(SEED)
    log = json.loads(audit("--format", "sarif", "-f", "my dir").stdout)
    validate_sarif(log)
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for res in log["runs"][0]["results"] for loc in res["locations"]}
    assert uris == {"my%20dir/seed.yaml"}


# --------------------------------------------------------------------------- exit codes
def test_exit_0_when_everything_passes():
    r = audit(input=PASSING_POD)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1].endswith(
        "1 pass, 0 fail, 1 finding(s) (1 warning(s)); meet restricted 1, baseline 0, privileged 0")


def test_exit_0_for_a_stream_without_pod_templates():
    r = audit("--format", "json", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert r.exit_code == 0 and json.loads(r.stdout)["summary"]["podTemplates"] == 0


def test_exit_1_on_violations_and_baseline_is_more_lenient():
    assert audit(input=SEED).exit_code == 1
    assert audit("--level", "baseline", input=SEED).exit_code == 0


@pytest.mark.parametrize("args,stdin,message", [
    ((), "a: [1\n", "<stdin>, document 0, line 2: invalid YAML"),
    (("--profile", "no-such-profile"), SEED, "no built-in profile 'no-such-profile'"),
    (("--kube-version", "banana"), SEED, "--kube-version"),
    (("--kube-version", "2.1"), SEED, "Kubernetes versions are 1.x"),
    (("-f", "/nonexistent/x.yaml"), None, "/nonexistent/x.yaml: cannot read"),
], ids=["invalid-yaml", "unknown-profile", "bad-version", "major-2", "missing-file"])
def test_exit_2_on_bad_input_with_message_on_stderr_only(args, stdin, message):
    r = audit(*args, input=stdin)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert message in r.stderr and r.stderr.startswith("k8s-harden: error: ")


def test_exit_2_on_bad_level():
    r = audit("--level", "privileged", input=SEED)
    assert r.exit_code == 2 and r.stdout == ""


def test_real_process_keeps_stdout_empty_on_error():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    p = subprocess.run([sys.executable, "-m", "hardener", "audit", "--format", "sarif"], input=b"a: [1\n",
                       capture_output=True, env=env, cwd=REPO, timeout=60)
    assert p.returncode == 2 and p.stdout == b"" and b"invalid YAML" in p.stderr
    p = subprocess.run([sys.executable, "-m", "hardener", "audit", "--format", "sarif"], input=SEED.encode(),
                       capture_output=True, env=env, cwd=REPO, timeout=60)
    assert p.returncode == 1
    validate_sarif(json.loads(p.stdout))


def test_audit_reads_its_own_prefixed_env_only():
    r = audit("--format", "json", input=SEED, env={"K8S_HARDEN_PROFILE": "strict"})
    assert r.exit_code == 1 and json.loads(r.stdout)["profile"] is None
    r = audit("--format", "json", input=SEED,
          env={"K8S_HARDEN_AUDIT_PROFILE": "strict", "K8S_HARDEN_AUDIT_LEVEL": "baseline"})
    out = json.loads(r.stdout)
    assert (out["profile"], out["level"]) == ("strict", "baseline")


# --------------------------------------------------------------------------- versions
def test_kube_version_selects_the_rules():
    pod = PASSING_POD.replace("    seccompProfile: {type: RuntimeDefault}\n", "").replace(
        "      capabilities: {drop: [ALL]}\n", "")
    _, latest = run_json(input=pod)
    assert {f["rule"] for f in latest["findings"] if f["group"] == "pss"} == {
        "pss/seccompProfile_restricted", "pss/capabilities_restricted"}
    code, old = run_json("--kube-version", "1.18", input=pod)
    assert code == 0 and old["kubeVersion"] == "1.18"
    _, mid = run_json("--kube-version", "v1.21", input=pod)
    assert {f["rule"] for f in mid["findings"] if f["group"] == "pss"} == {"pss/seccompProfile_restricted"}
    _, future = run_json("--kube-version", "1.99", input=pod)
    assert future["findings"] == latest["findings"]


# --------------------------------------------------------------------------- kinds
def test_cronjob_and_list_items():
    _, out = run_json(input=STREAM)
    kinds = {(r["kind"], r.get("item"), r["podTemplates"][0]["pointer"]) for r in out["resources"]}
    assert ("CronJob", None, "/spec/jobTemplate/spec/template") in kinds
    assert ("Pod", "/items/0", "/items/0") in kinds
    assert ("DaemonSet", "/items/1", "/items/1/spec/template") in kinds
    cron = by_rule(out["findings"], "pss/runAsUser", kind="CronJob")[0]
    assert cron["path"] == "/spec/jobTemplate/spec/template/spec/securityContext/runAsUser"
    assert cron["value"] == 0


ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec:
  template:
    spec:
      containers: [{name: app, image: x}]
---
apiVersion: example.com/v1
kind: Worker
metadata: {name: w}
spec:
  pod:
    spec:
      containers: [{name: app, image: x}]
"""


def test_configured_crds(tmp_path):
    _, out = run_json(input=ROLLOUT)
    assert [r["kind"] for r in out["resources"]] == ["Rollout"]  # restricted's workloads
    prof = tmp_path / "workers.yaml"
    prof.write_text("extends: restricted\nname: workers\nworkloads:\n"
                    "  - {kind: Worker, apiVersion: example.com/v1, podTemplate: /spec/pod}\n")
    _, out = run_json("--profile", str(prof), input=ROLLOUT)
    assert [r["kind"] for r in out["resources"]] == ["Rollout", "Worker"]  # workloads extend the base's
    assert by_rule(out["findings"], "pss/runAsNonRoot", kind="Worker")
    assert by_rule(out["findings"], "profile/runAsGroup", kind="Worker")


def test_resource_list_items():
    rl = ("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
          "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n"
          "- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers:\n"
          "    - name: app\n      image: x\n      securityContext:\n        privileged: true\n")
    _, out = run_json(input=rl)
    assert [(r["document"], r["item"], r["name"]) for r in out["resources"]] == [(0, "/items/1", "p")]
    priv = by_rule(out["findings"], "pss/privileged")[0]
    assert priv["path"] == "/items/1/spec/containers/0/securityContext/privileged"
    assert priv["line"] == rl.splitlines().index("        privileged: true") + 1


# --------------------------------------------------------------------------- the profile group
def test_profile_group_on_a_restricted_hardened_stream():
    hardened = harden(SEED, "restricted").output
    code, out = run_json(input=hardened)
    assert code == 0  # restricted hardening passes PSS restricted
    code, out = run_json("--profile", "strict", input=hardened)
    assert code == 1 and out["profile"] == "strict"
    assert {f["rule"] for f in out["findings"]} == {"profile/readOnlyRootFilesystem"}
    ro = by_rule(out["findings"], "profile/readOnlyRootFilesystem", op="add",
                 path="/spec/containers/0/securityContext/readOnlyRootFilesystem")
    assert ro and ro[0]["proposedValue"] is True and ro[0]["value"] is None
    # ... and nothing once `k8s-harden --profile strict` has run
    strict = harden(hardened, "strict").output
    code, out = run_json("--profile", "strict", input=strict)
    assert code == 0 and out["findings"] == []


def test_profile_changes_covered_by_pss_findings_are_left_out():
    _, out = run_json("--profile", "restricted", input=SEED)
    rules = {(f["name"], f["rule"]) for f in out["findings"]}
    second = "security-context-example-2"
    assert (second, "pss/runAsNonRoot") in rules and (second, "profile/runAsNonRoot") not in rules
    assert (second, "pss/seccompProfile_restricted") in rules and (second, "profile/seccompProfile") not in rules
    assert (second, "profile/runAsGroup") in rules  # PSS has no opinion on it
    # at baseline the restricted concerns are the profile's to report
    _, out = run_json("--profile", "restricted", "--level", "baseline", input=SEED)
    rules = {(f["name"], f["rule"]) for f in out["findings"]}
    assert (second, "profile/runAsNonRoot") in rules and (second, "pss/runAsNonRoot") not in rules


def test_host_access_skips_are_not_profile_findings():
    text = PASSING_POD.replace("spec:\n  securityContext:", "spec:\n  hostPID: true\n  securityContext:")
    _, out = run_json("--profile", "restricted", "--level", "baseline", input=text)
    rules = {f["rule"] for f in out["findings"]}
    assert "pss/hostNamespaces" in rules and "profile/hostAccess" not in rules
    assert harden(text).results[0].skipped[0].control == "hostAccess"  # the hardener's exception
    rest = {f["rule"] for f in run_json("--profile", "restricted", input=PASSING_POD)[1]["findings"]}
    # passes PSS; the profile still adds identity (and the image's user is still unknown)
    assert all(r.startswith("profile/") for r in rest - {"kubelet/runAsNonRootImageUser"})


def test_conflicts_under_a_fail_profile_are_findings():
    text = PASSING_POD.replace("      allowPrivilegeEscalation: false\n",
                               "      allowPrivilegeEscalation: false\n      readOnlyRootFilesystem: false\n")
    with pytest.raises(ConflictError):
        harden(text, "strict")
    code, out = run_json("--profile", "strict", input=text)
    assert code == 1
    conflict = by_rule(out["findings"], "profile/readOnlyRootFilesystem", op="conflict")
    assert len(conflict) == 1 and conflict[0]["container"] == "app"
    assert "would stop with an error" in conflict[0]["message"]
    assert conflict[0]["path"] == "/spec/containers/0"
    # the other changes are still reported
    assert by_rule(out["findings"], "profile/privileged")


# --------------------------------------------------------------------------- the corpus
def _key(document, pointer):
    return (document, pointer)


@pytest.fixture(scope="module", params=CORPUS_FILES, ids=lambda p: p.name)
def corpus(request):
    text = request.param.read_text()
    out = harden(text, "restricted")
    return request.param, text, out


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus not present")
def test_corpus_audit_reports_what_the_hardener_fixes(corpus):
    path, text, out = corpus
    report = audit_sources([Source(str(path), text)], "restricted", pss.LATEST, "restricted")
    findings = report.findings
    changed = {_key(r.document, r.pointer) for r in out.results if r.changes}
    exceptions = {_key(r.document, r.pointer) for r in out.results if r.skipped}
    flagged = {_key(f.resource.document, f.resource.pointer) for f in findings}
    # every resource the hardener changes is flagged; every flagged one is changed or an exception
    assert changed <= flagged
    assert flagged <= changed | exceptions
    # change by change: a profile finding with the same path, or a PSS finding it answers
    profile = {(f.resource.document, f.path, f.check) for f in findings if f.group == "profile"}
    pss_checks = {}
    for f in findings:
        if f.group == "pss":
            pss_checks.setdefault((f.resource.document, f.template), set()).add(f.check)
    planned = set()
    for r in out.results:
        for c in r.changes:
            planned.add((r.document, c.path, c.control))
            tpl = max((t.pointer for t in r.templates if t.owns(c.path)), key=len)
            assert ((r.document, c.path, c.control) in profile
                    or CONTROLS[c.control].pss_checks & pss_checks.get((r.document, tpl), set())), c
    assert profile <= planned
    # SARIF of a real stream validates
    validate_sarif(json.loads(as_sarif(report)))


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus not present")
def test_corpus_hardened_output_passes_except_reported_exceptions(corpus):
    path, text, out = corpus
    exceptions = {_key(r.document, r.pointer) for r in out.results if r.skipped}
    before = audit_sources([Source(str(path), text)], "restricted")
    after = audit_sources([Source("hardened", out.output)], "restricted", pss.LATEST, "restricted")
    assert len(after.templates) == len(before.templates)
    failing = {_key(r.document, r.pointer) for r in after.resources if not r.passes}
    assert failing <= exceptions
    # the exceptions keep failing only for what they were reported for: never worse than before
    rank = {"privileged": 0, "baseline": 1, "restricted": 2}
    for b, a in zip(before.resources, after.resources):
        assert (b.document, b.pointer) == (a.document, a.pointer)
        assert rank[a.meets] >= rank[b.meets], (a.ref, b.meets, a.meets)
