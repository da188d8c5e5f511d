"""Plain pipes (`kubectl kustomize DIR | k8s-harden`, `helm template … | k8s-harden`) and
the Argo CD Config Management Plugin (plugins/argocd), whose generate command is run
exactly as Argo CD's cmp-server runs it: `sh -c` in the application's source folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest
import yaml

from e2e_support import (CHART, PLUGINS, WORKLOAD_KINDS, blocks_by_key, copy_corpus, is_hook,
                         load_all, restricted_gaps, run, shell, tool)


def _workloads(docs):
    return [d for d in docs if d.get("kind") in WORKLOAD_KINDS]


# --------------------------------------------------------------------------- pipes

def test_kubectl_kustomize_pipe(tmp_path, e2e_bin_path):
    kubectl = tool("kubectl")
    copy_corpus("microservices-demo.yaml", tmp_path)
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - microservices-demo.yaml\n")
    out = shell(f"'{kubectl}' kustomize '{tmp_path}' | k8s-harden",
                env={"PATH": e2e_bin_path}).stdout
    workloads = _workloads(load_all(out))
    assert len(workloads) == 12 and all(not restricted_gaps(d) for d in workloads)


def test_helm_template_pipe_hardens_hooks(e2e_helm3):
    """Piping `helm template` (unlike Helm 3's --post-renderer) hardens hooks too, and
    leaves the untouched documents byte for byte as Helm printed them."""
    helm3, env = e2e_helm3
    plain = run([helm3, "template", "demo", CHART], env=env).stdout
    out = shell(f"'{helm3}' template demo '{CHART}' | k8s-harden --profile restricted",
                env=env).stdout
    workloads = _workloads(load_all(out))
    assert any(is_hook(d) for d in workloads)
    assert all(not restricted_gaps(d) for d in workloads)
    got, want = blocks_by_key(out), blocks_by_key(plain)
    for k, block in want.items():
        if k[1] not in WORKLOAD_KINDS:
            assert got[k] == block


# --------------------------------------------------------------------------- Argo CD

ARGO_PLUGIN = PLUGINS / "argocd" / "plugin.yaml"


def _cmp():
    return yaml.safe_load(ARGO_PLUGIN.read_text())


@pytest.fixture
def argo_env(tmp_path, e2e_cli):
    """The sidecar's tools (helm 3 as Argo CD ships it, kubectl, k8s-harden) on PATH, and
    Argo CD's build environment."""
    bin_ = tmp_path / "sidecar-bin"
    bin_.mkdir()
    for name, target in (("helm", tool("helm3")), ("kubectl", tool("kubectl")),
                         ("k8s-harden", e2e_cli)):
        (bin_ / name).symlink_to(target)
    return {"PATH": f"{bin_}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path),
            "ARGOCD_APP_NAME": "demo", "ARGOCD_APP_NAMESPACE": "apps",
            "KUBE_VERSION": "1.29.0", "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1"}


def _argo(step: str, cwd, env) -> subprocess.CompletedProcess:
    spec = _cmp()["spec"][step]
    return run([*spec["command"], *spec["args"]], cwd=cwd, env=env, check=False)


def test_cmp_manifest_shape():
    cmp = _cmp()
    assert (cmp["apiVersion"], cmp["kind"]) == ("argoproj.io/v1alpha1", "ConfigManagementPlugin")
    assert cmp["metadata"]["name"] == "k8s-harden" and cmp["spec"]["version"] == "v1.0"
    assert '--kube-version "${KUBE_VERSION:-}"' in cmp["spec"]["generate"]["args"][0]


def test_cmp_renders_helm_chart(tmp_path, argo_env):
    app = tmp_path / "app"
    shutil.copytree(CHART, app)
    assert _argo("init", app, argo_env).returncode == 0
    proc = _argo("generate", app, {**argo_env, "ARGOCD_ENV_HELM_ARGS": "--set replicas=3",
                                   "ARGOCD_ENV_K8S_HARDEN_NODE_FEATURES": "appArmor,unprivilegedPortSysctl"})
    assert proc.returncode == 0, proc.stderr
    docs = load_all(proc.stdout)
    workloads = _workloads(docs)
    assert len(workloads) == 4 and all(not restricted_gaps(d) for d in workloads)
    web = next(d for d in docs if d["kind"] == "Deployment")
    assert web["spec"]["replicas"] == 3
    # KUBE_VERSION 1.29 and the node features reached k8s-harden: AppArmor as the pre-1.30
    # annotation
    tpl_meta = web["spec"]["template"]["metadata"]
    assert tpl_meta["annotations"]["container.apparmor.security.beta.kubernetes.io/web"] \
        == "runtime/default"
    assert "appArmorProfile" not in web["spec"]["template"]["spec"]["securityContext"]


def test_cmp_application_env_selects_profile(tmp_path, argo_env):
    app = tmp_path / "app"
    shutil.copytree(CHART, app)
    proc = _argo("generate", app, {**argo_env, "ARGOCD_ENV_K8S_HARDEN_PROFILE": "baseline"})
    assert proc.returncode == 0, proc.stderr
    web = next(d for d in load_all(proc.stdout) if d["kind"] == "Deployment")
    assert restricted_gaps(web), "baseline does not force non-root"


def test_cmp_renders_kustomization_with_kubectl(tmp_path, argo_env):
    app = tmp_path / "app"
    app.mkdir()
    copy_corpus("microservices-demo.yaml", app)
    (app / "kustomization.yaml").write_text("resources:\n  - microservices-demo.yaml\n")
    proc = _argo("generate", app, argo_env)
    assert proc.returncode == 0, proc.stderr
    workloads = _workloads(load_all(proc.stdout))
    assert len(workloads) == 12 and all(not restricted_gaps(d) for d in workloads)


def test_cmp_fails_visibly(tmp_path, argo_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _argo("generate", empty, argo_env)
    assert proc.returncode != 0 and "no Chart.yaml or kustomization.yaml" in proc.stderr
    app = tmp_path / "app"
    shutil.copytree(CHART, app)
    proc = _argo("generate", app, {**argo_env, "ARGOCD_ENV_K8S_HARDEN_PROFILE": "strict",
                                   "ARGOCD_ENV_HELM_ARGS": "--set agent.privileged=true"})
    assert proc.returncode != 0 and "k8s-harden: error:" in proc.stderr
    proc = _argo("generate", app, {**argo_env, "ARGOCD_ENV_HELM_ARGS": "--set image=["})
    assert proc.returncode != 0, "a helm failure is not swallowed by the pipe"


def test_sidecar_component_on_argo_cd_install(tmp_path):
    """plugins/argocd as a kustomize component on Argo CD's install.yaml (corpus)."""
    kubectl = tool("kubectl")
    copy_corpus("argo-cd-install.yaml", tmp_path)
    component = os.path.relpath(PLUGINS / "argocd", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(textwrap.dedent(f"""\
        resources:
          - argo-cd-install.yaml
        components:
          - {component}
        """))
    docs = load_all(run([kubectl, "kustomize", tmp_path]).stdout)
    [cm] = [d for d in docs if d["kind"] == "ConfigMap"
            and d["metadata"]["name"].startswith("k8s-harden-cmp")]
    assert cm["data"]["plugin.yaml"] == ARGO_PLUGIN.read_text()
    [repo] = [d for d in docs if d["kind"] == "Deployment"
              and d["metadata"]["name"] == "argocd-repo-server"]
    spec = repo["spec"]["template"]["spec"]
    [sidecar] = [c for c in spec["containers"] if c["name"] == "k8s-harden-cmp"]
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert mounts["/home/argocd/cmp-server/config/plugin.yaml"]["subPath"] == "plugin.yaml"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["k8s-harden-cmp"]["configMap"]["name"] == cm["metadata"]["name"]
    assert {"var-files", "plugins"} <= set(volumes)
    assert "argocd-repo-server" in {c["name"] for c in spec["containers"]}
