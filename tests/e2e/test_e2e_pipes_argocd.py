"""Plain pipes (`kubectl kustomize DIR | k8s-harden`, `helm template … | k8s-harden`) and
the Argo CD Config Management Plugin (plugins/argocd), whose generate command is run
exactly as Argo CD's cmp-server runs it: `sh -c` in the application's source folder."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import textwrap
import threading
from pathlib import Path

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


def _sidecar_tools(bin_: Path, cli: Path, helm: str = "helm3") -> str:
    """A PATH with the sidecar's tools: helm (3, as Argo CD ships it, unless told),
    kubectl, k8s-harden."""
    bin_.mkdir()
    for name, target in (("helm", tool(helm)), ("kubectl", tool("kubectl")),
                         ("k8s-harden", cli)):
        (bin_ / name).symlink_to(target)
    return f"{bin_}{os.pathsep}/usr/bin{os.pathsep}/bin"


# Argo CD's build environment
ARGO_BUILD_ENV = {"ARGOCD_APP_NAME": "demo", "ARGOCD_APP_NAMESPACE": "apps",
                  "KUBE_VERSION": "1.29.0", "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1"}


@pytest.fixture
def argo_env(tmp_path, e2e_cli):
    """The sidecar's tools on PATH, and Argo CD's build environment."""
    return {"PATH": _sidecar_tools(tmp_path / "sidecar-bin", e2e_cli), "HOME": str(tmp_path),
            **ARGO_BUILD_ENV}


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
    proc = _argo("generate", app, {**argo_env, "ARGOCD_ENV_K8S_HARDEN_PROFILE": "baseline",
                                   "ARGOCD_ENV_K8S_HARDEN_REPORT": "text"})
    assert proc.returncode == 0, proc.stderr
    web = next(d for d in load_all(proc.stdout) if d["kind"] == "Deployment")
    assert restricted_gaps(web), "baseline does not force non-root"
    # the report names the chart's file each resource was rendered from, never the
    # plugin's temporary file (issue #23 item 7)
    heads = [line for line in proc.stderr.splitlines() if line.startswith("Deployment ")]
    assert heads and all("from harden-demo/templates/" in h and "/tmp" not in h for h in heads), proc.stderr


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


def _argo_cd_with_sidecar(tmp_path) -> list[dict]:
    """plugins/argocd as a kustomize component on Argo CD's install.yaml (corpus), built
    with the real `kubectl kustomize`."""
    kubectl = tool("kubectl")
    work = tmp_path / "argo-cd-install"
    work.mkdir()
    copy_corpus("argo-cd-install.yaml", work)
    component = os.path.relpath(PLUGINS / "argocd", work)
    (work / "kustomization.yaml").write_text(textwrap.dedent(f"""\
        resources:
          - argo-cd-install.yaml
        components:
          - {component}
        """))
    return load_all(run([kubectl, "kustomize", work]).stdout)


def _repo_server_spec(docs) -> dict:
    [repo] = [d for d in docs if d["kind"] == "Deployment"
              and d["metadata"]["name"] == "argocd-repo-server"]
    return repo["spec"]["template"]["spec"]


def _sidecar(docs) -> tuple[dict, dict]:
    """The k8s-harden-cmp container and {mountPath: volume} of its emptyDir mounts."""
    spec = _repo_server_spec(docs)
    [sidecar] = [c for c in spec["containers"] if c["name"] == "k8s-harden-cmp"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    empty_dirs = {m["mountPath"]: volumes[m["name"]] for m in sidecar["volumeMounts"]
                  if "emptyDir" in volumes[m["name"]]}
    return sidecar, empty_dirs


def test_sidecar_component_on_argo_cd_install(tmp_path):
    """plugins/argocd as a kustomize component on Argo CD's install.yaml (corpus)."""
    docs = _argo_cd_with_sidecar(tmp_path)
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


# --------------------------------------------------------------------------- Argo CD: homes, deps

# where the sidecar's tools write: helm's homes, every XDG-aware tool's (kustomize), mktemp
HOME_VARS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
             "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "TMPDIR")
SKIPPED_BUILD = "not running helm dependency build"


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")


def test_sidecar_gives_helm_and_kustomize_writable_homes(tmp_path):
    """The sidecar's root filesystem is read-only; every home its tools write to is on an
    emptyDir of its own, as the built manifest (real `kubectl kustomize`) says."""
    docs = _argo_cd_with_sidecar(tmp_path)
    sidecar, empty_dirs = _sidecar(docs)
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    for var in HOME_VARS:
        assert any(_under(env[var], mount) for mount in empty_dirs), (var, env.get(var))
    assert "/tmp" in empty_dirs and env["TMPDIR"] == "/tmp"
    # helm's homes are where helm would put them below the XDG ones
    for kind in ("CACHE", "CONFIG", "DATA"):
        assert env[f"HELM_{kind}_HOME"] == env[f"XDG_{kind}_HOME"] + "/helm"
    # those emptyDirs are the sidecar's own: no other container of the pod mounts them
    homes = {empty_dirs[mount]["name"] for mount in empty_dirs
             if any(_under(env[var], mount) for var in HOME_VARS)}
    assert homes == {"k8s-harden-cmp-home", "k8s-harden-cmp-tmp"}
    spec = _repo_server_spec(docs)
    others = {m["name"] for c in spec["containers"] + spec.get("initContainers", [])
              if c["name"] != "k8s-harden-cmp" for m in c.get("volumeMounts") or []}
    assert not homes & others


def _local_sidecar_env(docs, root: Path) -> tuple[dict, dict]:
    """The sidecar's env from the built manifest, with every path on one of its emptyDirs
    moved to root/VOLUME (that emptyDir's stand-in). Returns (env, {volume: stand-in})."""
    sidecar, empty_dirs = _sidecar(docs)
    local = {}
    for mount, volume in empty_dirs.items():
        local[mount] = root / volume["name"]
        local[mount].mkdir(parents=True)
    env = {}
    for entry in sidecar.get("env") or []:
        value = entry["value"]
        for mount, stand_in in local.items():
            if _under(value, mount):
                value = str(stand_in) + value[len(mount.rstrip("/")):]
                break
        env[entry["name"]] = value
    return env, {empty_dirs[m]["name"]: d for m, d in local.items()}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _chart_repository(directory: Path):
    """A real HTTP chart repository serving directory on 127.0.0.1, closed on exit (then
    nothing answers there: offline)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


DEP_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-dep
spec:
  containers:
    - name: dep
      image: busybox:1.36
"""


@contextlib.contextmanager
def _app_with_dependency(root: Path, helm_env: dict):
    """tests/e2e/chart plus a dependency `dep` 0.1.0 from an HTTP chart repository, locked
    and vendored by `helm dependency update` (charts/dep-0.1.0.tgz, Chart.lock). Yields
    (app, repository URL) while the repository runs; it is gone after the block."""
    helm = tool("helm3")
    src, repo, app = root / "dep-src", root / "repo", root / "app"
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text("apiVersion: v2\nname: dep\nversion: 0.1.0\n")
    (src / "templates" / "pod.yaml").write_text(DEP_POD)
    run([helm, "package", src, "-d", repo], env=helm_env)
    shutil.copytree(CHART, app)
    with _chart_repository(repo) as url:
        run([helm, "repo", "index", repo, "--url", url], env=helm_env)
        with (app / "Chart.yaml").open("a") as f:
            f.write(f"dependencies:\n  - name: dep\n    version: 0.1.0\n    repository: {url}\n")
        run([helm, "dependency", "update", app], env=helm_env)
        assert sorted(p.name for p in (app / "charts").iterdir()) == ["dep-0.1.0.tgz"]
        assert (app / "Chart.lock").is_file()
        yield app, url


def _dep_pod(stdout: str) -> dict:
    [pod] = [d for d in load_all(stdout) if d["kind"] == "Pod" and d["metadata"]["name"] == "demo-dep"]
    return pod


def _unpack_vendored(app: Path) -> None:
    """charts/dep-0.1.0.tgz -> charts/dep/ (as `helm pull --untar` vendors a chart)."""
    tgz = app / "charts" / "dep-0.1.0.tgz"
    run(["tar", "-xzf", tgz, "-C", app / "charts"])
    tgz.unlink()


@pytest.mark.parametrize("vendored", ["tgz", "unpacked"])
def test_cmp_init_offline_with_vendored_dependency(vendored, tmp_path, argo_env, e2e_helm_home):
    """A chart with a Chart.lock and its dependency vendored in charts/ (a .tgz, or an
    unpacked chart) inits and generates with the repository unreachable: init does not
    run `helm dependency build`."""
    with _app_with_dependency(tmp_path, e2e_helm_home) as (app, _):
        pass
    if vendored == "unpacked":
        _unpack_vendored(app)
    charts_before = sorted(p.name for p in (app / "charts").iterdir())
    init = _argo("init", app, argo_env)
    assert init.returncode == 0, init.stderr
    assert SKIPPED_BUILD in init.stderr
    assert sorted(p.name for p in (app / "charts").iterdir()) == charts_before
    gen = _argo("generate", app, argo_env)
    assert gen.returncode == 0, gen.stderr
    assert not restricted_gaps(_dep_pod(gen.stdout)), "the vendored dependency's Pod hardened"
    assert len(_workloads(load_all(gen.stdout))) == 5


@pytest.mark.parametrize("case", ["missing", "other version", "not in Chart.lock"])
def test_cmp_init_builds_what_is_not_vendored(case, tmp_path, argo_env, e2e_helm_home):
    """Anything short of every dependency vendored still runs `helm dependency build`
    (which, with the repository unreachable, fails visibly)."""
    with _app_with_dependency(tmp_path, e2e_helm_home) as (app, _):
        pass
    if case == "missing":
        shutil.rmtree(app / "charts")
    elif case == "other version":
        _unpack_vendored(app)
        chart_yaml = app / "charts" / "dep" / "Chart.yaml"
        chart_yaml.write_text(chart_yaml.read_text().replace("version: 0.1.0", "version: 0.0.9"))
    else:
        with (app / "Chart.yaml").open("a") as f:
            f.write("  - name: other\n    version: 1.0.0\n    repository: file://../other\n")
    init = _argo("init", app, argo_env)
    assert init.returncode != 0
    assert SKIPPED_BUILD not in init.stderr and "Error:" in init.stderr, init.stderr


def _snapshot(root: Path) -> dict:
    """{file: (size, mtime)} of every file below root."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
@pytest.mark.parametrize("home", ["unset", "not a directory"])
def test_cmp_writes_only_where_the_sidecar_manifest_says(helm, home, tmp_path, e2e_cli,
                                                         e2e_helm_home):
    """init (a real `helm dependency build` from an HTTP repository) and generate (a chart
    and a kustomization), with the sidecar's env from the built manifest, its emptyDirs
    stood in for by folders, and HOME unset or unusable: everything works, and every file
    written lands in the source folder or on the emptyDirs."""
    docs = _argo_cd_with_sidecar(tmp_path)
    sidecar_env, volumes = _local_sidecar_env(docs, tmp_path / "volumes")
    not_a_dir = tmp_path / "not-a-directory"
    not_a_dir.write_text("")
    env = {"PATH": _sidecar_tools(tmp_path / "sidecar-bin", e2e_cli, helm), **ARGO_BUILD_ENV,
           "HOME": None if home == "unset" else not_a_dir / "home"}
    kustomized = tmp_path / "kustomized"
    kustomized.mkdir()
    copy_corpus("microservices-demo.yaml", kustomized)
    (kustomized / "kustomization.yaml").write_text("resources:\n  - microservices-demo.yaml\n")
    with _app_with_dependency(tmp_path, e2e_helm_home) as (app, url):
        shutil.rmtree(app / "charts")
        # the repository as the operator declares it to the sidecar's helm
        run([tool(helm), "repo", "add", "deps", url], env={**env, **sidecar_env}, cwd=tmp_path)
        if home == "not a directory":
            # control: without the manifest's env, HOME is where helm would write, and fails
            bare = _argo("init", app, env)
            assert bare.returncode != 0 and "not a directory" in bare.stderr, bare.stderr
            assert not (app / "charts").exists()
        before = _snapshot(tmp_path)
        init = _argo("init", app, {**env, **sidecar_env})
        assert init.returncode == 0, init.stderr
        assert SKIPPED_BUILD not in init.stderr
    assert sorted(p.name for p in (app / "charts").iterdir()) == ["dep-0.1.0.tgz"]
    gen = _argo("generate", app, {**env, **sidecar_env})
    assert gen.returncode == 0, gen.stderr
    assert not restricted_gaps(_dep_pod(gen.stdout))
    kgen = _argo("generate", kustomized, {**env, **sidecar_env})
    assert kgen.returncode == 0, kgen.stderr
    assert len(_workloads(load_all(kgen.stdout))) == 12
    # offline now, and the built dependency is vendored: init needs no repository
    again = _argo("init", app, {**env, **sidecar_env})
    assert again.returncode == 0 and SKIPPED_BUILD in again.stderr, again.stderr
    after = _snapshot(tmp_path)
    written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    # (with HOME unset and no XDG_*, helm would write .config/helm/… below the source folder)
    outside = [p for p in written if not any(p.is_relative_to(v) for v in volumes.values())]
    assert outside == [app / "charts" / "dep-0.1.0.tgz"], outside
    # helm refreshed the repository's index into its cache home, on the emptyDir
    cache = Path(sidecar_env["HELM_CACHE_HOME"])
    assert any(p.name.endswith("-index.yaml") for p in written if p.is_relative_to(cache))
