"""Helm 3.17 (`--post-renderer k8s-harden`: a command on PATH, or a path) and Helm 4.1
(`--post-renderer k8s-harden`: the postrenderer/v1 plugin installed from plugins/helm) with
the real binaries, on the test chart (tests/e2e/chart) and on corpus streams."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from e2e_support import (CHART, FILENAME_ANNOTATION, PLUGINS, WORKLOAD_KINDS, annotations,
                         blocks_by_key, by_key, copy_corpus, is_hook, key, load_all,
                         restricted_gaps, run, shell, source_of, split_blocks, tool)

# the chart's workloads, by kind and name (release "demo")
CHART_WORKLOADS = {("Deployment", "demo-web"), ("CronJob", "demo-report"),
                   ("DaemonSet", "demo-node-agent"), ("Job", "demo-migrate")}
CHART_HOOK = ("Job", "demo-migrate")


def _workloads(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs if d.get("kind") in WORKLOAD_KINDS}


def _assert_chart_hardened(docs, *, hooks_hardened: bool):
    work = _workloads(docs)
    assert set(work) == CHART_WORKLOADS
    for name, doc in work.items():
        gaps = restricted_gaps(doc)
        if name == CHART_HOOK and not hooks_hardened:
            assert gaps, "Helm 3.17 does not pass hooks to post-renderers: expected unhardened"
            continue
        assert not gaps, f"{name} not hardened: {gaps}"
    web = work[("Deployment", "demo-web")]["spec"]["template"]["spec"]
    # the port-80 container may bind its port as non-root
    assert "NET_BIND_SERVICE" in web["containers"][0]["securityContext"]["capabilities"]["add"]
    # host access is never removed: the DaemonSet keeps hostNetwork (reported as kept)
    assert work[("DaemonSet", "demo-node-agent")]["spec"]["template"]["spec"]["hostNetwork"] is True


def _assert_untouched_identical(hardened: str, baseline: str):
    """Documents the tool did not change are byte-identical (comments and `# Source:`
    included) to the same Helm run with an identity post-renderer."""
    got, want = blocks_by_key(hardened), blocks_by_key(baseline)
    assert set(want) <= set(got), set(want) - set(got)
    untouched = 0
    for k, block in want.items():
        if k[1] in WORKLOAD_KINDS:
            continue
        assert got[k] == block, f"untouched document {k} changed:\n{got[k]}\n--- vs ---\n{block}"
        untouched += 1
    assert untouched, "expected documents without pod templates"


# --------------------------------------------------------------------------- Helm 3.17

def test_helm3_post_renderer_hardens_chart(e2e_helm3):
    """`--post-renderer k8s-harden`: Helm 3 finds the command on PATH."""
    helm3, env = e2e_helm3
    proc = run([helm3, "template", "demo", CHART, "--post-renderer", "k8s-harden",
                "--post-renderer-args=--profile=restricted"], env=env)
    baseline = run([helm3, "template", "demo", CHART, "--post-renderer", shutil.which("cat")],
                   env=env).stdout
    docs = load_all(proc.stdout)
    _assert_chart_hardened(docs, hooks_hardened=False)
    _assert_untouched_identical(proc.stdout, baseline)
    # every document still sits under its template file; the leading comment is kept
    sources = {key(yaml.safe_load(b))[1:]: source_of(b) for b in split_blocks(proc.stdout)}
    assert sources[("ServiceAccount", None, "demo-web")] == \
        "harden-demo/templates/serviceaccount.yaml"
    assert "# The identity the workloads run as." in proc.stdout
    assert run([helm3, "version", "--template", "{{.Version}}"], env=env).stdout == "v3.17.3"


def test_helm3_hook_is_printed_unhardened(e2e_helm3):
    """The documented caveat: Helm 3.17 prints hooks after the post-rendered part."""
    helm3, env = e2e_helm3
    out = run([helm3, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env).stdout
    hook = _workloads(load_all(out))[CHART_HOOK]
    assert is_hook(hook) and restricted_gaps(hook)
    # the documented guard catches it: exit 1, as the hook would still change
    guard = shell(f"'{helm3}' template demo '{CHART}' --post-renderer k8s-harden "
                  "| k8s-harden --check --emit none", env=env, check=False)
    assert guard.returncode == 1, guard.stderr
    assert "Job demo-migrate" in guard.stderr


def test_helm3_post_renderer_failure_shows_our_message(e2e_helm3, e2e_cli):
    """With the CLI's full path (`--post-renderer "$(command -v k8s-harden)"`)."""
    helm3, env = e2e_helm3
    proc = run([helm3, "template", "demo", CHART, "--set", "agent.privileged=true",
                "--post-renderer", e2e_cli, "--post-renderer-args=--profile=strict"],
               env=env, check=False)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "k8s-harden: error:" in proc.stderr
    assert "DaemonSet demo-node-agent" in proc.stderr and "privileged" in proc.stderr


@pytest.mark.parametrize("stream", ["podinfo.yaml", "node-exporter.yaml"])
def test_helm3_post_renderer_corpus(stream, tmp_path, e2e_helm3, e2e_cli):
    """A real chart's rendered stream, served by a one-template chart, comes out the way
    the CLI hardens it, with every untouched document byte for byte as Helm printed it."""
    helm3, env = e2e_helm3
    chart = _corpus_chart(stream, tmp_path)
    plain = run([helm3, "template", "corpus", chart], env=env).stdout
    proc = run([helm3, "template", "corpus", chart, "--post-renderer", "k8s-harden",
                "--post-renderer-args=--profile=restricted",
                "--post-renderer-args=--emit=none"], env=env)
    baseline = run([helm3, "template", "corpus", chart, "--post-renderer", shutil.which("cat")],
                   env=env).stdout
    _assert_untouched_identical(proc.stdout, baseline)
    # the non-hook part went through the CLI: same objects as running it by hand
    non_hooks = "".join(f"---\n{b}" for b in split_blocks(plain) if not is_hook(yaml.safe_load(b)))
    direct = by_key(load_all(run([e2e_cli, "--profile=restricted", "--emit=none",
                                  "--report=none"], input=non_hooks).stdout))
    got, before = by_key(load_all(proc.stdout)), by_key(load_all(plain))
    changed = 0
    for k, doc in direct.items():
        assert got[k] == doc, f"{k} differs from the CLI's own output"
        changed += doc != before[k]
    assert changed, "expected the corpus stream to need hardening"


def _corpus_chart(stream: str, tmp_path):
    """A chart whose only template is a corpus stream (its `{{` escaped for Go templates)."""
    chart = tmp_path / "corpus"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: corpus\nversion: 0.1.0\n")
    text = copy_corpus(stream, tmp_path).read_text()
    (chart / "templates" / "stream.yaml").write_text(text.replace("{{", '{{ "{{" }}'))
    return chart


# --------------------------------------------------------------------------- Helm 4.1

def test_helm4_plugin_hardens_chart_and_hooks(e2e_helm4, e2e_tee):
    helm4, env = e2e_helm4
    recorder, recorded = e2e_tee
    proc = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden",
                "--post-renderer-args=--profile=restricted"],
               env={**env, "K8S_HARDEN_COMMAND": recorder})
    docs = load_all(proc.stdout)
    _assert_chart_hardened(docs, hooks_hardened=True)
    baseline = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"],
                   env={**env, "K8S_HARDEN_COMMAND": "cat"}).stdout
    _assert_untouched_identical(proc.stdout, baseline)
    # Helm placed every document back under its template: the annotation survived
    for block in split_blocks(proc.stdout):
        doc = yaml.safe_load(block)
        if key(doc)[1] in {k for k, _ in CHART_WORKLOADS} | {"ServiceAccount", "Service"}:
            assert source_of(block).startswith("harden-demo/templates/"), block
    # ... and the plugin's own output kept it on every document it was given
    [(given, returned)] = recorded()
    want = {key(d): annotations(d)[FILENAME_ANNOTATION] for d in load_all(given)}
    assert (("batch/v1", "Job", None, "demo-migrate") in want), "Helm 4 passes hooks"
    got = by_key(load_all(returned))
    for k, filename in want.items():
        assert annotations(got[k]).get(FILENAME_ANNOTATION) == filename
    assert run([helm4, "version", "--template", "{{.Version}}"], env=env).stdout == "v4.1.4"


def test_helm4_install_dry_run(e2e_helm4):
    """`helm install --post-renderer k8s-harden` (client dry run: no cluster here)."""
    helm4, env = e2e_helm4
    out = run([helm4, "install", "demo", CHART, "--dry-run=client", "--post-renderer",
               "k8s-harden", "--post-renderer-args=--profile=restricted"],
              env={**env, "KUBECONFIG": "/nonexistent"}).stdout
    assert "STATUS: pending-install" in out
    hooks, manifest = out.split("\nHOOKS:\n", 1)[1].split("\nMANIFEST:\n", 1)
    _assert_chart_hardened(load_all(hooks) + load_all(manifest), hooks_hardened=True)
    assert [is_hook(d) for d in load_all(hooks)] == [True]


def test_helm4_plugin_args_reach_cli(e2e_helm4):
    helm4, env = e2e_helm4
    out = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden",
               "--post-renderer-args=--profile=baseline"], env=env).stdout
    web = _workloads(load_all(out))[("Deployment", "demo-web")]
    assert restricted_gaps(web), "baseline does not make the pod non-root"
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["privileged"] is False


def test_helm4_plugin_corpus_stream_as_helm_sends_it(e2e_helm4, e2e_cli, tmp_path):
    """The stream Helm 4 hands a post-renderer (corpus helm4-ingress-nginx.yaml) through the
    installed plugin's command: the filename annotation stays on every document."""
    helm4, env = e2e_helm4
    stream = copy_corpus("helm4-ingress-nginx.yaml", tmp_path).read_text()
    plugin_dir = run([helm4, "env", "HELM_PLUGINS"], env=env).stdout.strip()
    [run_sh] = list(Path(plugin_dir).glob("*/run.sh"))
    out = run([run_sh, "--profile=restricted", "--emit=none"], input=stream, env=env).stdout
    before, after = load_all(stream), load_all(out)
    assert [key(d) for d in after] == [key(d) for d in before]
    for b, a in zip(before, after):
        assert annotations(a) == annotations(b)
        assert FILENAME_ANNOTATION in annotations(a)
    hooks = [a for a in after if is_hook(a) and a.get("kind") in WORKLOAD_KINDS]
    assert hooks and all(not restricted_gaps(h) for h in hooks), "hook Jobs hardened"


def test_helm4_plugin_failure_shows_our_message(e2e_helm4):
    helm4, env = e2e_helm4
    proc = run([helm4, "template", "demo", CHART, "--set", "agent.privileged=true",
                "--post-renderer", "k8s-harden", "--post-renderer-args=--profile=strict"],
               env=env, check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "k8s-harden: error:" in proc.stderr and "DaemonSet demo-node-agent" in proc.stderr


def test_helm4_plugin_without_cli_says_so(e2e_helm4):
    helm4, env = e2e_helm4
    proc = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"],
               env={**env, "K8S_HARDEN_COMMAND": "/nonexistent/k8s-harden"}, check=False)
    assert proc.returncode != 0
    assert "command '/nonexistent/k8s-harden' not found" in proc.stderr
    assert "K8S_HARDEN_COMMAND" in proc.stderr
    # issue #23: the package is not on PyPI, so `pip install k8s-harden` is no advice
    assert "not on PyPI" in proc.stderr and "pip install k8s-harden" not in proc.stderr


def test_helm4_packaged_plugin(tmp_path, e2e_bin_path):
    """`helm plugin package` (unsigned) and install of the tarball into a fresh home."""
    helm4 = tool("helm4")
    env = {"PATH": e2e_bin_path}
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        (tmp_path / var).mkdir()
        env[var] = str(tmp_path / var)
    run([helm4, "plugin", "package", "--sign=false", PLUGINS / "helm", "-d", tmp_path], env=env)
    [tarball] = tmp_path.glob("k8s-harden-*.tgz")
    unverified = run([helm4, "plugin", "install", tarball], env=env, check=False)
    assert unverified.returncode != 0, "an unsigned tarball needs --verify=false"
    run([helm4, "plugin", "install", "--verify=false", tarball], env=env)
    out = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env).stdout
    _assert_chart_hardened(load_all(out), hooks_hardened=True)


def test_helm4_hook_only_input_gets_no_policy_objects(e2e_helm4):
    """Policy objects are emitted once per post-render, and never for hooks alone (1.24:
    `auto` would be a PodSecurityPolicy and its RBAC)."""
    helm4, env = e2e_helm4
    out = run([helm4, "template", "demo", CHART, "-s", "templates/hook-job.yaml",
               "--post-renderer", "k8s-harden", "--post-renderer-args=--emit=auto",
               "--post-renderer-args=--kube-version=1.24"], env=env).stdout
    docs = load_all(out)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [CHART_HOOK]
    assert not restricted_gaps(docs[0])


def test_helm4_policy_objects_emitted_once(e2e_helm4, e2e_cli, e2e_tee):
    """One post-render call with every document: the policy objects the CLI emits for
    exactly that input, once each, reach Helm's output."""
    helm4, env = e2e_helm4
    recorder, recorded = e2e_tee
    out = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden",
               "--post-renderer-args=--emit=auto", "--post-renderer-args=--kube-version=1.24"],
              env={**env, "K8S_HARDEN_COMMAND": recorder}).stdout
    docs = load_all(out)
    keys = [key(d) for d in docs]
    assert len(keys) == len(set(keys)), "no object twice"
    assert CHART_WORKLOADS <= {(d["kind"], d["metadata"]["name"]) for d in docs}
    [(given, _)] = recorded()
    given_keys = {key(d) for d in load_all(given)}
    direct = load_all(run([e2e_cli, "--emit=auto", "--kube-version=1.24", "--report=none"],
                          input=given).stdout)
    emitted = sorted(key(d) for d in direct if key(d) not in given_keys)
    assert {k[1] for k in emitted} >= {"PodSecurityPolicy", "ClusterRole", "RoleBinding"}
    assert sorted(k for k in keys if k not in given_keys) == emitted


def test_helm4_post_renderer_keeps_metadata(e2e_helm4):
    """Every object's metadata (labels, annotations, hook settings) comes back unchanged."""
    helm4, env = e2e_helm4
    base = by_key(load_all(run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"],
                               env={**env, "K8S_HARDEN_COMMAND": "cat"}).stdout))
    hard = by_key(load_all(run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"],
                               env=env).stdout))
    for k, doc in base.items():
        assert hard[k]["metadata"] == doc["metadata"]


# --------------------------------------------------------------------------- Helm 4: stderr

# what Helm 4.1 itself prints when a post-renderer plugin fails (its only line about it)
HELM4_PLUGIN_ERROR = ('Error: error while running post render on files: failed to invoke '
                      'post-renderer plugin "k8s-harden": plugin "k8s-harden" exited with error')


@pytest.mark.parametrize("redirect, ours_kept", [
    ("2>>'{log}'", True),        # O_APPEND: the plugin appends, Helm appends after it
    (">>'{log}' 2>&1", True),
    ("2>'{log}'", False),        # no O_APPEND: Helm would write over us; we stay out
    (">'{log}' 2>&1", False),
])
def test_helm4_plugin_failure_message_in_stderr_file(redirect, ours_kept, e2e_helm4, tmp_path):
    """Helm's stderr redirected to a regular file, as documented in integrations.md: with
    `2>>` (append) our message is in the file, whole, before Helm's own line; with `2>`
    the file holds Helm's message alone (never a clobbered mix of the two)."""
    helm4, env = e2e_helm4
    log = tmp_path / "helm.log"
    log.write_text("")
    cmd = (f"'{helm4}' template demo '{CHART}' --set agent.privileged=true "
           f"--post-renderer k8s-harden --post-renderer-args=--profile=strict "
           + redirect.format(log=log))
    proc = shell(cmd, env=env, check=False)
    assert proc.returncode == 1 and proc.stdout == "" and proc.stderr == ""
    text = log.read_text()
    assert "\0" not in text
    lines = text.splitlines()
    assert HELM4_PLUGIN_ERROR in lines, text
    ours = [line for line in lines if line.startswith("k8s-harden: error:")]
    if ours_kept:
        assert len(ours) == 1 and "DaemonSet demo-node-agent" in ours[0], text
        assert "privileged: true conflicts with control privileged" in ours[0]
        assert lines.index(ours[0]) < lines.index(HELM4_PLUGIN_ERROR)
    else:
        assert lines[0] == HELM4_PLUGIN_ERROR and "k8s-harden:" not in text, text


def test_helm4_plugin_failure_message_reaches_stderr_pipe(e2e_helm4):
    """Helm's stderr a pipe (`2>&1 | cat`): the message reaches it, then Helm's line. The
    documented way to see it on its own: `helm template … | K8S_HARDEN_PROFILE=strict
    k8s-harden`."""
    helm4, env = e2e_helm4
    proc = shell(f"'{helm4}' template demo '{CHART}' --set agent.privileged=true "
                 "--post-renderer k8s-harden --post-renderer-args=--profile=strict 2>&1 | cat",
                 env=env, check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1
    assert lines[0].startswith("k8s-harden: error:") and HELM4_PLUGIN_ERROR in lines
    piped = shell(f"'{helm4}' template demo '{CHART}' --set agent.privileged=true "
                  "| K8S_HARDEN_PROFILE=strict k8s-harden --emit none > /dev/null",
                  env=env, check=False)
    assert piped.returncode == 2 and piped.stderr.startswith("k8s-harden: error:")
    assert "DaemonSet demo-node-agent" in piped.stderr


# --------------------------------------------------------------------------- Helm 3 vs the plugin

def test_helm3_plugin_install_fails_and_rm_recovers(e2e_helm_home):
    """`helm plugin install plugins/helm` with Helm 3 (documented in integrations.md):
    exit 1, a link named after the folder is left behind, `helm plugin list` and
    `uninstall` fail, every command warns; `rm "$(helm env HELM_PLUGINS)/helm"` recovers."""
    helm3 = tool("helm3")
    env = e2e_helm_home
    proc = run([helm3, "plugin", "install", PLUGINS / "helm"], env=env, check=False)
    assert proc.returncode == 1
    assert "plugin is installed but unusable" in proc.stderr
    assert 'unknown field "apiVersion"' in proc.stderr
    plugins_dir = Path(run([helm3, "env", "HELM_PLUGINS"], env=env).stdout.strip())
    link = plugins_dir / "helm"
    assert link.is_symlink() and link.resolve() == (PLUGINS / "helm").resolve()
    assert [p.name for p in plugins_dir.iterdir()] == ["helm"]
    # the link breaks plugin management ...
    for cmd in (["plugin", "list"], ["plugin", "uninstall", "k8s-harden"],
                ["plugin", "uninstall", "helm"]):
        broken = run([helm3, *cmd], env=env, check=False)
        assert broken.returncode == 1 and "failed to load plugin" in broken.stderr, cmd
    again = run([helm3, "plugin", "install", PLUGINS / "helm"], env=env, check=False)
    assert again.returncode == 1 and "plugin already exists" in again.stderr
    # ... and every other command warns, though the post-renderer still works
    warned = run([helm3, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env)
    assert "failed to load plugins" in warned.stderr
    _assert_chart_hardened(load_all(warned.stdout), hooks_hardened=False)
    # the documented recovery, as typed
    shell(f"rm \"$('{helm3}' env HELM_PLUGINS)/helm\"", env=env)
    assert not link.exists() and not link.is_symlink()
    listed = run([helm3, "plugin", "list"], env=env)
    assert listed.stderr == "" and listed.stdout.split() == ["NAME", "VERSION", "DESCRIPTION"]
    clean = run([helm3, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env)
    assert clean.stderr == ""


def test_helm3_plugins_folder_of_its_own(e2e_helm_home, tmp_path):
    """Helm 3 honours HELM_PLUGINS for `plugin install`: a Helm 3 pointed at a folder of
    its own keeps working when Helm 4's plugin is installed in the shared data home."""
    helm3, helm4 = tool("helm3"), tool("helm4")
    env = e2e_helm_home
    run([helm4, "plugin", "install", PLUGINS / "helm"], env=env)
    own = tmp_path / "helm3-plugins"
    own.mkdir()
    env3 = {**env, "HELM_PLUGINS": own}
    listed = run([helm3, "plugin", "list"], env=env3)
    assert listed.stderr == ""
    out = run([helm3, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env3)
    assert out.stderr == ""
    # without it, Helm 3 trips over Helm 4's plugin.yaml
    shared = run([helm3, "plugin", "list"], env=env, check=False)
    assert shared.returncode == 1 and 'unknown field "apiVersion"' in shared.stderr


def test_helm4_plugin_install_run_uninstall(e2e_helm_home):
    """Helm 4 installs plugins/helm (the link is named after the folder, the plugin after
    plugin.yaml), runs it, and `helm plugin uninstall k8s-harden` removes it cleanly."""
    helm4 = tool("helm4")
    env = e2e_helm_home
    run([helm4, "plugin", "install", PLUGINS / "helm"], env=env)
    plugins_dir = Path(run([helm4, "env", "HELM_PLUGINS"], env=env).stdout.strip())
    assert (plugins_dir / "helm").is_symlink()
    out = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env)
    _assert_chart_hardened(load_all(out.stdout), hooks_hardened=True)
    run([helm4, "plugin", "uninstall", "k8s-harden"], env=env)
    assert list(plugins_dir.iterdir()) == []
    gone = run([helm4, "template", "demo", CHART, "--post-renderer", "k8s-harden"], env=env,
               check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_a_release_that_renders_nothing_installs_through_both_helms(e2e_helm4, e2e_helm3, tmp_path):
    """Issue #23: every template behind a false `if` — Helm 4 refused the post-renderer's
    empty output ("produced empty output"), where Helm 3 succeeded. The plugin hands Helm 4 a
    comment (an empty YAML stream), and both install nothing."""
    chart = tmp_path / "empty"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: empty\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n{{- end }}\n")
    for helm, env in (e2e_helm4, e2e_helm3):
        out = run([helm, "template", "demo", chart, "--post-renderer", "k8s-harden"], env=env).stdout
        assert load_all(out) == [], out
    # helm 3.17's client dry run still asks a cluster for its version: helm 4 only
    installed = run([e2e_helm4[0], "install", "demo", chart, "--dry-run=client", "--post-renderer", "k8s-harden"],
                    env={**e2e_helm4[1], "KUBECONFIG": "/nonexistent"}).stdout
    assert "STATUS: pending-install" in installed
    # and a chart that renders something still comes back whole, not as the comment
    (chart / "values.yaml").write_text("enabled: true\n")
    out = run([e2e_helm4[0], "template", "demo", chart, "--post-renderer", "k8s-harden"], env=e2e_helm4[1]).stdout
    assert [d["kind"] for d in load_all(out)] == ["ConfigMap"]
