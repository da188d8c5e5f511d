"""Every CLI path keeps its promises: options never silently ignored, environment variables
named after the options, every setting in every config, clear errors instead of internal
ones, --diff and --check usable in CI, a short report by default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hardener.cli import main
from hardener.options import SETTINGS
from helpers import REPO, cli, invoke, load_all

SEED = (REPO / "examples" / "seed-pods.yaml").read_text()
NS_STREAM = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\n" + SEED


# --------------------------------------------------------------------------- options before a subcommand
def test_options_before_audit_are_the_audits(tmp_path):
    """`k8s-harden -f FILE audit` audits FILE (it used to audit stdin: 0 templates, exit 0)."""
    path = tmp_path / "seed.yaml"
    path.write_text(SEED)
    r = invoke("-f", str(path), "--profile", "strict", "audit", "--format", "json", input="")
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["summary"]["podTemplates"] == 2 and out["profile"] == "strict"


def test_options_before_a_subcommand_that_does_not_take_them_are_refused():
    r = invoke("--emit", "vap", "audit", input=SEED)
    assert r.exit_code == 2 and r.stdout == "" and "--emit before 'audit'" in r.stderr
    r = invoke("--kube-version", "1.24", "profiles", input="")
    assert r.exit_code == 2 and "--kube-version before 'profiles'" in r.stderr


# --------------------------------------------------------------------------- environment variables
def _options(command):
    return [p for p in command.params if isinstance(p, __import__("click").Option)
            and p.name not in ("help", "version")]


def test_every_option_reads_the_variable_named_after_it():
    """K8S_HARDEN_<OPTION> (audit: K8S_HARDEN_AUDIT_<OPTION>), from the long flag's name:
    `--config` is K8S_HARDEN_CONFIG, audit's `--format` K8S_HARDEN_AUDIT_FORMAT."""
    import click

    for prefix, command in (("K8S_HARDEN", main), ("K8S_HARDEN_AUDIT", main.commands["audit"])):
        ctx = click.Context(command, auto_envvar_prefix=prefix)
        for opt in _options(command):
            long = max(opt.opts, key=len).lstrip("-").replace("-", "_").upper()
            assert opt.resolve_envvar_value(ctx) is None
            os.environ[f"{prefix}_{long}"] = "x"
            try:
                assert opt.resolve_envvar_value(ctx) == "x", (prefix, opt.name)
            finally:
                del os.environ[f"{prefix}_{long}"]
    assert {s.envvar for s in SETTINGS} <= {f"K8S_HARDEN_{max(o.opts, key=len).lstrip('-').replace('-', '_').upper()}"
                                            for o in _options(main)}


def test_documented_variables_work(tmp_path):
    config = tmp_path / "hardener.yaml"
    config.write_text("apiVersion: k8s-harden.io/v1\nkind: Hardener\nmetadata: {name: h}\n"
                      "controls:\n  runAsUser: {value: 4242}\n")
    r = cli("--report", "none", input=SEED, env={"K8S_HARDEN_CONFIG": str(config)})
    assert r.returncode == 0 and b"runAsUser: 4242" in r.stdout
    r = cli("audit", input=SEED, env={"K8S_HARDEN_AUDIT_FORMAT": "json"})
    assert json.loads(r.stdout)["summary"]["podTemplates"] == 2


def test_a_true_k8s_harden_version_variable_does_not_replace_the_run():
    """--version takes no environment variable: K8S_HARDEN_VERSION=1 in a post-renderer's
    environment must not print a version instead of the manifests."""
    r = cli("--report", "none", input=SEED, env={"K8S_HARDEN_VERSION": "1"})
    assert r.returncode == 0 and load_all(r.stdout.decode())[0]["kind"] == "Pod"


# --------------------------------------------------------------------------- every setting in every config
@pytest.mark.parametrize("form", ["hardener", "configmap"])
def test_every_setting_can_be_given_in_a_config(form, tmp_path):
    values = {"profile": "strict", "kube_version": "1.24", "emit": "psp,rbac", "force": True,
              "binding": "cluster", "namespace": "apps", "name_prefix": "team-a",
              "node_features": "appArmor,unprivilegedPortSysctl", "verify": False,
              "images": str(tmp_path), "images_required": True, "images_cache": "/var/cache/images", "images_ttl": "600",
              "insecure_registry": "127.0.0.1:5000,reg.local", "platform": "linux/arm64", "mesh_cni": True}
    (tmp_path / "index.json").write_text("{}")
    assert set(values) == {s.name for s in SETTINGS}, "a new setting needs a value here"
    by_name = {s.name: s for s in SETTINGS}
    if form == "hardener":
        doc = {"apiVersion": "k8s-harden.io/v1", "kind": "Hardener", "metadata": {"name": "h"},
               **{by_name[k].config_field: v for k, v in values.items()}}
    else:
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "h"},
               "data": {by_name[k].configmap_key: str(v).lower() if isinstance(v, bool) else v
                        for k, v in values.items()}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(doc))
    from hardener.config import load_config_file
    from hardener.options import build_options

    opts = build_options(config=load_config_file(str(config)))
    assert (opts.profile.name, opts.kube, opts.emit, opts.force, opts.binding, opts.namespace,
            opts.name_prefix, "appArmor" in opts.profile.controls) == (
        "strict", (1, 24), "psp,rbac", True, "cluster", "apps", "team-a", True)
    assert opts.mesh_cni is True
    assert (opts.images.mode, opts.images.required, opts.images.cache, opts.images.insecure,
            opts.images.platform) == (str(tmp_path), True, "/var/cache/images",
                                      frozenset({"127.0.0.1:5000", "reg.local"}), ("linux", "arm64", None))
    r = cli("--config", str(config), "--profile", "restricted", "--report", "json",
            "--emit", "none", "--kube-version", "1.30", "--images", "off", input=SEED)  # flags win over the config
    assert r.returncode == 0, r.stderr
    assert not [d for d in load_all(r.stdout.decode()) if d["kind"] == "ClusterRoleBinding"]


# --------------------------------------------------------------------------- clear errors
@pytest.mark.parametrize("version", ["0.9", "2.0", "banana"])
def test_kube_version_outside_kubernetes_is_refused_with_the_range(version):
    r = cli("--kube-version", version, input=SEED)
    assert r.returncode == 2 and r.stdout == b""
    assert b"internal error" not in r.stderr and b"--kube-version" in r.stderr


def test_kube_version_newer_than_known_is_treated_as_the_newest_with_a_note():
    r = cli("--kube-version", "1.99", "--emit", "none", input=SEED)
    assert r.returncode == 0 and b"treated as 1.37" in r.stderr
    assert r.stdout == cli("--kube-version", "1.37", "--emit", "none", input=SEED).stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_full_disk_says_so():
    with open("/dev/full", "wb") as full:
        p = subprocess.run([sys.executable, "-m", "hardener"], input=SEED.encode(), stdout=full,
                           stderr=subprocess.PIPE, cwd=REPO, timeout=60)
    assert p.returncode == 2 and b"cannot write output: no space left on device" in p.stderr
    assert b"internal error" not in p.stderr


def test_closed_stdout_says_so():
    p = subprocess.run(f"{sys.executable} -m hardener >&-", shell=True, input=SEED.encode(),
                       stderr=subprocess.PIPE, cwd=REPO, timeout=60)
    assert p.returncode == 2 and b"cannot write output" in p.stderr and b"internal error" not in p.stderr


# --------------------------------------------------------------------------- empty input
def test_empty_input_is_said_and_fails_check_and_audit():
    r = cli(input="")
    assert r.returncode == 0 and r.stdout == b"" and b"no manifests in input" in r.stderr
    r = cli("--check", input="# Source: chart/templates/x.yaml\n")
    assert r.returncode == 2 and b"no manifests in input" in r.stderr
    r = cli("audit", input="")
    assert r.returncode == 2 and r.stdout == b"" and b"no manifests in input" in r.stderr


# --------------------------------------------------------------------------- --diff in CI
def test_diff_per_file_with_real_names_and_exit_1_with_check(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "seed.yaml").write_text(SEED)
    (tmp_path / "apps" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    r = cli("-f", str(tmp_path / "apps"), "--diff", "--check", "--kube-version", "1.24", "--report", "none")
    out = r.stdout.decode()
    assert r.returncode == 1
    assert f"--- a/{tmp_path}/apps/seed.yaml\n+++ b/{tmp_path}/apps/seed.yaml\n" in out
    assert "cm.yaml" not in out  # unchanged: no hunk
    assert "--- /dev/null\n+++ b/generated\n" in out and "+kind: PodSecurityPolicy" in out
    hardened = cli("-f", str(tmp_path / "apps"), "--emit", "none", "--report", "none").stdout
    (tmp_path / "apps" / "seed.yaml").write_text(hardened.decode())
    (tmp_path / "apps" / "cm.yaml").unlink()
    r = cli("-f", str(tmp_path / "apps"), "--diff", "--check", "--emit", "none", "--report", "none")
    assert r.returncode == 0 and r.stdout == b""


# --------------------------------------------------------------------------- notes
def test_pss_labels_without_a_namespace_is_said():
    r = cli("--emit", "pss-labels", input=SEED)
    assert r.returncode == 0 and b"no Namespace object to label" in r.stderr
    r = cli("--emit", "pss-labels", input=NS_STREAM)
    assert b"no Namespace object" not in r.stderr


# --------------------------------------------------------------------------- the report
def test_the_default_report_is_one_short_line_per_resource():
    r = cli(input=SEED)
    lines = r.stderr.decode().splitlines()
    assert lines[0].startswith("Pod security-context-example (document 0): ")
    assert len(lines) == 4 and all(len(line) <= 120 for line in lines), lines
    full = cli("--report", "text", input=SEED).stderr.decode().splitlines()
    assert len(full) > len(lines) and any(line.startswith("  add ") for line in full)


def test_reports_name_the_file_and_the_document_in_it(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    b.write_text(SEED)
    r = cli("-f", str(a), "-f", str(b), "--report", "json", "--emit", "none")
    resources = json.loads(r.stderr)["resources"]
    assert [(x["source"], x["sourceDocument"], x["document"]) for x in resources] == [
        (str(b), 0, 1), (str(b), 1, 2)]
    r = cli("-f", str(a), "-f", str(b), "--emit", "none")
    assert f"({b}, document 1)".encode() in r.stderr


# --------------------------------------------------------------------------- KRM: generated objects replaced in place
def test_a_generated_item_keeps_its_place_and_its_file_in_a_resource_list():
    """The policy objects of an earlier run, where kpt put them (first, in policy/psp.yaml),
    come back in the same place with kpt's annotations: the list is byte-identical."""
    rl = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
          "items": [d for d in load_all(SEED) if d]}
    first = invoke("--kube-version", "1.24", "--report", "none", input=yaml.safe_dump(rl, sort_keys=False))
    assert first.exit_code == 0, first.stderr
    rl = yaml.safe_load(first.stdout)
    generated = [i for i in rl["items"] if i["kind"] in ("PodSecurityPolicy", "ClusterRole", "RoleBinding")]
    assert len(generated) == 3
    for n, item in enumerate(generated):  # what kpt adds when it reads the files back
        item["metadata"].setdefault("annotations", {}).update({
            "config.kubernetes.io/path": f"policy/{n}.yaml", "internal.config.kubernetes.io/index": "0"})
    rl["items"] = generated + [i for i in rl["items"] if i not in generated]
    text = yaml.safe_dump(rl, sort_keys=False)
    again = invoke("--kube-version", "1.24", "--report", "none", input=text)
    assert again.exit_code == 0 and again.stdout == text
