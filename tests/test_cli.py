"""The CLI contract, through click's runner and through a real subprocess."""

from __future__ import annotations

import json


from helpers import REPO, cli, invoke, load_all

SEED = (REPO / "examples" / "seed-pods.yaml").read_text()
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"


def test_subprocess_stdin_to_stdout_with_text_report_on_stderr():
    r = cli(input=SEED)
    assert r.returncode == 0
    docs = load_all(r.stdout.decode())
    assert [d["metadata"]["name"] for d in docs] == ["security-context-example", "security-context-example-2"]
    assert b"k8s-harden: 2 document(s)" in r.stderr
    assert b"apiVersion" not in r.stderr


def test_json_report_is_exactly_one_object_on_stderr():
    r = cli("--report", "json", input=SEED)
    assert r.returncode == 0
    report = json.loads(r.stderr)
    assert set(report) == {"resources", "summary"}
    first = report["resources"][0]
    assert {"document", "apiVersion", "kind", "namespace", "name", "changes", "skipped"} <= set(first)
    assert first["document"] == 0 and first["kind"] == "Pod"
    change = first["changes"][0]
    assert {"control", "op", "path", "value"} <= set(change)
    assert change["path"].startswith("/spec/")
    assert report["summary"]["changes"] == sum(len(x["changes"]) for x in report["resources"])


def test_report_none_keeps_stderr_empty():
    r = cli("--report", "none", input=SEED)
    assert r.returncode == 0 and r.stderr == b""


def test_check_exit_codes():
    r = cli("--check", input=SEED)
    assert r.returncode == 1 and r.stdout == b""
    hardened = cli("--report", "none", input=SEED).stdout
    r = cli("--check", input=hardened)
    assert r.returncode == 0 and r.stdout == b""


def test_diff_prints_unified_diff():
    r = invoke("--diff", "--report", "none", input=SEED)
    assert r.exit_code == 0
    assert r.stdout.startswith("--- a/<stdin>\n+++ b/<stdin>\n")
    assert "+    runAsNonRoot: true" in r.stdout


def test_files_and_directories(tmp_path):
    (tmp_path / "a.yaml").write_text(CONFIGMAP)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.yml").write_text(SEED)
    (sub / "ignored.txt").write_text("not yaml")
    r = invoke("-f", str(tmp_path), "--report", "none")
    assert r.exit_code == 0, r.stderr
    docs = load_all(r.stdout)
    assert [d["kind"] for d in docs] == ["ConfigMap", "Pod", "Pod"]
    assert r.stdout.startswith(CONFIGMAP + "---\n")


def test_bad_input_exit_2_and_nothing_on_stdout():
    r = cli(input=CONFIGMAP + "---\nkind: Pod\nspec: [\n")
    assert r.returncode == 2
    assert r.stdout == b""
    assert b"document 1" in r.stderr and b"line" in r.stderr
    assert b"Traceback" not in r.stderr


def test_bad_profile_and_bad_version_are_usage_errors():
    r = cli("--profile", "nope", input=SEED)
    assert r.returncode == 2 and r.stdout == b"" and b"no built-in profile 'nope'" in r.stderr
    r = cli("--kube-version", "one.two", input=SEED)
    assert r.returncode == 2 and b"--kube-version" in r.stderr


def test_unknown_option_is_exit_2():
    r = invoke("--no-such-option", input=SEED)
    assert r.exit_code == 2


def test_options_from_environment():
    r = invoke("--report", "none", input=SEED, env={"K8S_HARDEN_KUBE_VERSION": "1.18"})
    assert r.exit_code == 0
    assert "seccomp.security.alpha.kubernetes.io/pod" in r.stdout
    r = invoke("--report", "none", input=SEED, env={"K8S_HARDEN_PROFILE": "strict"})
    assert "readOnlyRootFilesystem: true" in r.stdout


def test_config_file_and_flags_win(tmp_path):
    cfg = tmp_path / "hardener.yaml"
    cfg.write_text("apiVersion: k8s-harden.io/v1\nkind: Hardener\nmetadata: {name: h}\n"
                   "profile: strict\nkubeVersion: '1.18'\n")
    r = invoke("--config", str(cfg), "--report", "none", input=SEED)
    assert "readOnlyRootFilesystem: true" in r.stdout and "seccomp.security.alpha" in r.stdout
    r = invoke("--config", str(cfg), "--profile", "restricted", "--emit", "none", "--report", "none",
               input=SEED)
    assert "readOnlyRootFilesystem" not in r.stdout


def test_config_unknown_field_is_an_error(tmp_path):
    cfg = tmp_path / "hardener.yaml"
    cfg.write_text("apiVersion: k8s-harden.io/v1\nkind: Hardener\nprofil: strict\n")
    r = invoke("--config", str(cfg), input=SEED)
    assert r.exit_code == 2 and "unknown Hardener field(s) profil" in r.stderr


def test_profiles_list_and_show():
    r = invoke("profiles")
    assert r.exit_code == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == ["baseline", "restricted", "strict"]
    # issue #23: a new user typed `profiles list`; both spellings list the same
    listed = invoke("profiles", "list")
    assert listed.exit_code == 0 and listed.stdout == r.stdout
    r = invoke("profiles", "show", "strict")
    shown = load_all(r.stdout)[0]
    assert shown["conflicts"] == "fail"
    assert shown["controls"]["readOnlyRootFilesystem"]["writablePaths"] == ["/tmp"]
    assert shown["controls"]["runAsUser"]["value"] == 1000  # inherited from restricted


def test_python_dash_m_and_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(b"k8s-harden ")


def test_unreadable_file_is_exit_2():
    r = cli("-f", "/nonexistent/file.yaml")
    assert r.returncode == 2 and b"cannot read" in r.stderr


def test_verify_catches_a_profile_that_misses_its_level(tmp_path):
    weak = tmp_path / "weak.yaml"
    weak.write_text("extends: restricted\nlevel: restricted\ncontrols:\n  seccompProfile: {enabled: false}\n")
    r = invoke("--verify", "--profile", str(weak), "--report", "none", input=SEED)
    assert r.exit_code == 2 and r.stdout == ""
    assert "check seccompProfile_restricted" in r.stderr and "document 0: Pod security-context-example" in r.stderr
    r = invoke("--verify", "--report", "none", input=SEED)
    assert r.exit_code == 0


def test_json_report_has_pss_level_before_and_after():
    r = cli("--report", "json", input=SEED)
    levels = [x["pss"] for x in json.loads(r.stderr)["resources"]]
    assert levels == [{"before": "baseline", "after": "restricted"}] * 2


HELM_ERROR = 'Error: chart "foo" not found\n'


def test_error_text_upstream_is_no_manifest_for_the_run_the_check_or_the_audit():
    """Issue #23: `helm template ... | k8s-harden --check` passed when helm failed: its
    error text is a YAML mapping. Every mode refuses it (exit 2, where, nothing on stdout)."""
    for args in ([], ["--check", "--emit", "none"], ["audit"], ["--verify"]):
        r = cli(*args, input=HELM_ERROR)
        assert r.returncode == 2 and r.stdout == b"", (args, r.stderr)
        assert r.stderr.decode().startswith("k8s-harden: error: <stdin>, document 0, line 1: not a Kubernetes "
                                            "object (a mapping without kind)"), r.stderr
    # after a real manifest, the error names the document and its line
    r = cli(input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + HELM_ERROR)
    assert r.returncode == 2 and b"document 1, line 5: not a Kubernetes object" in r.stderr
    # asked for, such documents pass through unchanged (and the audit reads past them)
    r = cli("--allow-non-objects", input=HELM_ERROR)
    assert r.returncode == 0 and r.stdout.decode() == HELM_ERROR
    stream = HELM_ERROR + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: x}]\n"
    assert cli("--allow-non-objects", "audit", input=stream).returncode == 1  # the Pod's findings


def test_small_things_a_new_user_hit():
    """Issue #23 item 7: `--kube-version 1.2` (a typo for 1.2X) was obeyed; empty documents
    (`---` alone, what a false `if` renders) were counted; `--emit` help left out `map`."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    r = invoke("--kube-version", "1.2", input=cm)
    assert r.exit_code == 2 and "older than the oldest target this tool hardens for (1.14)" in r.stderr
    assert invoke("--kube-version", "1.14", input=cm).exit_code == 0
    r = invoke(input="---\n---\n" + cm + "---\n~\n")
    assert r.exit_code == 0 and "k8s-harden: 1 document(s)," in r.stderr, r.stderr
    assert invoke("--check", input="---\n---\n").exit_code == 2  # no manifests, said so
    assert "pss-labels, vap, map" in " ".join(invoke("--help").stdout.split())


def test_vap_without_namespace_reads_it_from_the_stream_or_says_how_to_give_it_under_helm():
    """Issue #23 item 7: Helm gives post-renderers no release namespace."""
    sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\n---\n"
    deploy = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
              "      containers: [{name: a, image: x}]\n")
    r = invoke("--emit", "vap", input=sa + deploy)
    assert r.exit_code == 0, r.stderr
    binding = [d for d in load_all(r.stdout) if d and d["kind"] == "ValidatingAdmissionPolicyBinding"][0]
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["shop"]
    r = invoke("--emit", "vap", input=deploy)
    assert r.exit_code == 2 and "--post-renderer-args=--namespace=NS" in r.stderr


ORIGIN_RL = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s}
- apiVersion: v1
  kind: Pod
  metadata:
    name: a
    annotations:
      config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/path: app/pod.yaml
  spec:
    containers: [{name: c, image: nginx}]
"""


def test_krm_and_helm_reports_name_the_item_and_the_file_it_came_from():
    """A ResourceList item is named as audit names it (items/N) and by the path kpt or
    kustomize gave it; a Helm render (stdin, as Argo CD's plugin hands it over) by the chart
    file of its `# Source:` comment (issue #23 item 7: reports said only "document 0")."""
    res = invoke("--report", "text", input=ORIGIN_RL)
    assert res.exit_code == 0, res.stderr
    head = next(line for line in res.stderr.splitlines() if line.startswith("Pod a"))
    assert "(document 0, items/1, from app/pod.yaml)" in head, head
    res = invoke("--report", "json", input=ORIGIN_RL)
    (entry,) = json.loads(res.stderr)["resources"]
    assert (entry["item"], entry["origin"]) == ("/items/1", "app/pod.yaml")
    helm = ("---\n# Source: demo/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
            "spec:\n  containers: [{name: c, image: nginx}]\n")
    res = invoke("--report", "text", input=helm)
    assert "Pod p (document 0, from demo/templates/pod.yaml)" in res.stderr, res.stderr
    # nothing to name where the input does not say
    res = invoke("--report", "json", input=helm.replace("# Source: demo/templates/pod.yaml\n", ""))
    assert "origin" not in json.loads(res.stderr)["resources"][0]
