"""Shared helpers of the end-to-end tests: locating the real tools, running them, and
reading their output. The fixtures live in conftest.py beside this file.

The deploy tools come from `scripts/install-tools` (`.tools/bin/{helm3,helm4,kubectl}`).
A missing tool skips the test that needs it — except under CI (`CI=true`), where it
fails it: an integration check that silently does not run is no check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
CHART = E2E / "chart"
PLUGINS = REPO / "plugins"
TOOLS_BIN = Path(os.environ.get("K8S_HARDEN_TOOLS", REPO / ".tools")) / "bin"
CORPUS = (REPO.parent / "shared" / "corpus").resolve()

# the CLI under test: the console script installed next to the running interpreter
K8S_HARDEN = Path(sys.executable).parent / "k8s-harden"

FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
KUSTOMIZE_ID = "kustomize.config.k8s.io/id"
HOOK_ANNOTATION = "helm.sh/hook"

# pod template locations by kind (the e2e tests check results independently of the tool)
_POD_PATHS = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = frozenset(_POD_PATHS)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip (developer machine) or fail (CI) a test whose tool is not there."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: the end-to-end tests must run)", pytrace=False)
    pytest.skip(what)


def tool(name: str) -> Path:
    """A tool fetched by scripts/install-tools."""
    path = TOOLS_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        missing(f"{name} not found in {TOOLS_BIN}: run scripts/install-tools (needs npm)")
    return path


def kpt() -> Path:
    """kpt is in no package registry reachable here; use it when the machine has it."""
    for candidate in (TOOLS_BIN / "kpt", shutil.which("kpt")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.skip("kpt is not installed (scripts/install-tools cannot fetch it); "
                "the KRM function is still tested against the specification directly")


# outer settings that would change what the tools under test do
_ISOLATE = ("K8S_HARDEN_", "HELM_", "KUSTOMIZE_", "XDG_")


def clean_env(env: dict | None = None) -> dict:
    """os.environ without K8S_HARDEN_*/HELM_*/KUSTOMIZE_*/XDG_* settings, plus env
    (a value of None removes a variable)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(_ISOLATE)}
    for k, v in (env or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


def run(cmd, *, input: str | None = None, env: dict | None = None, cwd=None,
        timeout: int = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (text mode) in a clean environment; with check, fail showing stderr."""
    full_env = clean_env(env)
    stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}
    proc = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, **stdin)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr}",
                    pytrace=False)
    return proc


def shell(script: str, **kw) -> subprocess.CompletedProcess:
    """Run a bash pipeline exactly as a user would type it (with pipefail)."""
    return run(["bash", "-o", "pipefail", "-c", script], **kw)


# --------------------------------------------------------------------------- YAML streams

def split_blocks(text: str) -> list[str]:
    """The raw text of each document of a stream (separators dropped, empty ones too)."""
    blocks, cur = [], []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---":
            blocks.append("".join(cur))
            cur = []
        else:
            cur.append(line)
    blocks.append("".join(cur))
    return [b for b in blocks if yaml.safe_load(b) is not None]


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_all(text: str) -> list[dict]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def key(doc: dict) -> tuple:
    meta = doc.get("metadata") or {}
    return (doc.get("apiVersion"), doc.get("kind"), meta.get("namespace"), meta.get("name"))


def by_key(docs: list[dict]) -> dict:
    out = {}
    for d in docs:
        assert key(d) not in out, f"duplicate object {key(d)}"
        out[key(d)] = d
    return out


def blocks_by_key(text: str) -> dict:
    return {key(yaml.safe_load(b)): b for b in split_blocks(text)}


def source_of(block: str) -> str | None:
    for line in block.splitlines():
        if line.startswith("# Source: "):
            return line[len("# Source: "):].strip()
    return None


def annotations(doc: dict) -> dict:
    return dict((doc.get("metadata") or {}).get("annotations") or {})


def is_hook(doc: dict) -> bool:
    return HOOK_ANNOTATION in annotations(doc)


def pod_template(doc: dict) -> dict | None:
    path = _POD_PATHS.get(doc.get("kind"))
    if path is None:
        return None
    node = doc
    for part in path:
        node = (node or {}).get(part)
    return node


def restricted_gaps(doc: dict) -> list[str]:
    """What keeps a workload's pod template from the Pod Security Standards 'restricted'
    settings that every hardened template must carry: non-root, a seccomp profile, no
    privilege escalation and all capabilities dropped, in every container."""
    tpl = pod_template(doc)
    if tpl is None:
        return []
    spec = tpl.get("spec") or {}
    psc = spec.get("securityContext") or {}
    gaps = []
    containers = [c for field in ("initContainers", "containers", "ephemeralContainers")
                  for c in spec.get(field) or []]
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            gaps.append(f"{name}: runAsNonRoot")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            gaps.append(f"{name}: seccompProfile")
        if sc.get("allowPrivilegeEscalation") is not False:
            gaps.append(f"{name}: allowPrivilegeEscalation")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            gaps.append(f"{name}: capabilities.drop ALL")
    return gaps


def strip_annotations(doc: dict, names) -> dict:
    """A copy of doc without the given annotations (and without an emptied map)."""
    import copy

    out = copy.deepcopy(doc)
    ann = (out.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict):
        for n in names:
            ann.pop(n, None)
        if not ann:
            del out["metadata"]["annotations"]
    return out


def copy_corpus(name: str, dest: Path) -> Path:
    """Copy a corpus stream (read-only in ../shared) into a test folder."""
    src = CORPUS / name
    if not src.is_file():
        missing(f"corpus stream {src} not found")
    target = dest / name
    target.write_bytes(src.read_bytes())
    return target
