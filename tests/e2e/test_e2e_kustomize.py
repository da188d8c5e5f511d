"""The Kustomize legacy exec plugin (plugins/kustomize/k8s-harden.io/v1/hardener/Hardener)
through the real `kubectl kustomize --enable-alpha-plugins` (kustomize v5.7)."""

from __future__ import annotations

import textwrap

import pytest

from e2e_support import (KUSTOMIZE_ID, PLUGINS, WORKLOAD_KINDS, annotations, by_key,
                         copy_corpus, load_all, restricted_gaps, run, shell, tool)

PLUGIN_HOME = PLUGINS / "kustomize"
EXAMPLE = PLUGIN_HOME / "example"


def _kustomize(kubectl, path, env, check=True):
    return run([kubectl, "kustomize", "--enable-alpha-plugins", path],
               env={"KUSTOMIZE_PLUGIN_HOME": PLUGIN_HOME, **env}, check=check)


def test_example_kustomization(e2e_bin_path):
    """The README's command on plugins/kustomize/example."""
    kubectl = tool("kubectl")
    out = _kustomize(kubectl, EXAMPLE, {"PATH": e2e_bin_path}).stdout
    [web] = [d for d in load_all(out) if d["kind"] == "Deployment"]
    assert (web["kind"], web["metadata"]["namespace"]) == ("Deployment", "web")
    assert not restricted_gaps(web)
    # the Hardener's inline control override wins over the profile's uid 1000
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    assert "Kustomize Version: v5.7.1" in run([kubectl, "version", "--client"]).stdout


def _kustomization(dir_, stream, hardener: str, extra=()):
    resources = "".join(f"  - {r}\n" for r in (stream, *extra))
    (dir_ / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\n"
        f"resources:\n{resources}transformers:\n  - hardener.yaml\n")
    (dir_ / "hardener.yaml").write_text(hardener)


HARDENER = textwrap.dedent("""\
    apiVersion: k8s-harden.io/v1
    kind: Hardener
    metadata:
      name: harden
    profile: restricted
    kubeVersion: "1.33"
    emit: auto
    """)
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"


@pytest.mark.parametrize("stream, kube", [
    ("microservices-demo.yaml", "1.24"),  # auto = PodSecurityPolicy + RBAC, appended
    ("fluent-bit.yaml", "1.33"),          # auto = Pod Security Admission labels
])
def test_corpus_through_legacy_plugin(stream, kube, tmp_path, e2e_bin_path, e2e_cli, e2e_tee):
    kubectl = tool("kubectl")
    recorder, recorded = e2e_tee
    copy_corpus(stream, tmp_path)
    (tmp_path / "namespace.yaml").write_text(NAMESPACE)
    _kustomization(tmp_path, stream, HARDENER.replace('"1.33"', f'"{kube}"'), ["namespace.yaml"])
    out = _kustomize(kubectl, tmp_path, {"PATH": e2e_bin_path,
                                         "K8S_HARDEN_COMMAND": recorder}).stdout
    got = by_key(load_all(out))

    # the plugin kept kustomize's id (and every other annotation) on every resource
    [(given, returned)] = recorded()
    given_docs, returned_docs = by_key(load_all(given)), by_key(load_all(returned))
    assert given_docs and all(KUSTOMIZE_ID in annotations(d) for d in given_docs.values())
    for k, doc in given_docs.items():
        assert annotations(returned_docs[k]) == annotations(doc), k

    # same objects as the CLI makes of the plain build, policy objects appended included
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "kustomization.yaml").write_text(
        f"namespace: shop\nresources:\n  - ../{stream}\n  - ../namespace.yaml\n")
    plain = run([kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone",
                 tmp_path / "plain"]).stdout
    direct = by_key(load_all(run([e2e_cli, "--profile=restricted", f"--kube-version={kube}",
                                  "--emit=auto", "--report=none"], input=plain).stdout))
    assert got == direct
    appended = set(direct) - set(by_key(load_all(plain)))
    assert appended <= set(returned_docs), "kustomize kept the appended policy objects"
    namespace = got[("v1", "Namespace", None, "shop")]
    if kube == "1.24":
        assert {k[1] for k in appended} >= {"PodSecurityPolicy", "ClusterRole", "RoleBinding"}
    else:
        assert not appended
        labels = namespace["metadata"].get("labels") or {}
        # (fluent-bit's hostPath DaemonSet decides the level; the policy tests own that)
        assert labels.get("pod-security.kubernetes.io/enforce") in {
            "privileged", "baseline", "restricted"}, labels
    workloads = [d for d in got.values() if d.get("kind") in WORKLOAD_KINDS]
    assert workloads and sum(not restricted_gaps(d) for d in workloads) >= 1


def test_failure_shows_our_message(tmp_path, e2e_bin_path):
    kubectl = tool("kubectl")
    (tmp_path / "pod.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Pod
        metadata:
          name: priv
        spec:
          containers:
            - name: c
              image: busybox
              securityContext:
                privileged: true
        """))
    _kustomization(tmp_path, "pod.yaml", HARDENER.replace("profile: restricted", "profile: strict"))
    proc = _kustomize(kubectl, tmp_path, {"PATH": e2e_bin_path}, check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "k8s-harden: error:" in proc.stderr and "Pod shop/priv" in proc.stderr
    assert "privileged" in proc.stderr


def test_plugin_without_cli_says_so(tmp_path):
    kubectl = tool("kubectl")
    proc = _kustomize(kubectl, EXAMPLE, {"K8S_HARDEN_COMMAND": "/nonexistent/k8s-harden"},
                      check=False)
    assert proc.returncode != 0
    assert "command '/nonexistent/k8s-harden' not found" in proc.stderr


def test_bad_config_is_reported(tmp_path, e2e_bin_path):
    kubectl = tool("kubectl")
    copy_corpus("microservices-demo.yaml", tmp_path)
    _kustomization(tmp_path, "microservices-demo.yaml", HARDENER + "colour: blue\n")
    proc = _kustomize(kubectl, tmp_path, {"PATH": e2e_bin_path}, check=False)
    assert proc.returncode != 0
    assert "colour" in proc.stderr


def test_kubectl_kustomize_ignores_exec_krm_functions(tmp_path, e2e_cli, e2e_bin_path):
    """The documented trap: `kubectl kustomize` silently skips an exec KRM function; the
    CI guard `k8s-harden --check --emit none` exits 1 on the unhardened result."""
    kubectl = tool("kubectl")
    copy_corpus("microservices-demo.yaml", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(textwrap.dedent("""\
        resources:
          - microservices-demo.yaml
        transformers:
          - hardener.yaml
        """))
    (tmp_path / "hardener.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: k8s-harden.io/v1
        kind: Hardener
        metadata:
          name: harden
          annotations:
            config.kubernetes.io/function: |
              exec:
                path: {e2e_cli}
        profile: restricted
        """))
    out = run([kubectl, "kustomize", "--enable-alpha-plugins", tmp_path]).stdout
    workloads = [d for d in load_all(out) if d.get("kind") in WORKLOAD_KINDS]
    assert workloads and all(restricted_gaps(d) for d in workloads), "nothing was hardened"
    env = {"PATH": e2e_bin_path}
    guard = shell(f"'{kubectl}' kustomize --enable-alpha-plugins '{tmp_path}' "
                  "| k8s-harden --check --emit none", env=env, check=False)
    assert guard.returncode == 1 and guard.stdout == ""
    # the guard passes once the stream is hardened
    hardened = tmp_path / "hardened.yaml"
    shell(f"'{kubectl}' kustomize --enable-alpha-plugins '{tmp_path}' | k8s-harden > '{hardened}'",
          env=env)
    assert shell(f"k8s-harden --check --emit none < '{hardened}'", env=env,
                 check=False).returncode == 0
