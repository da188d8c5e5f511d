"""A real Kubernetes API server for the tests: etcd and kube-apiserver built from Go modules by
`scripts/build-kube` (cached outside the clone), started on 127.0.0.1 with random ports, their
own certificates and static tokens, and the admission plugins a cluster has.

One etcd serves every minor (each apiserver under its own --etcd-prefix); one apiserver per
minor, started the first time a test asks for it and stopped at the end of the run. There is
no controller manager, scheduler or kubelet: the tests create the namespaces and service
accounts themselves, create with dryRun=All where only admission is judged, and act as a
controller (a ServiceAccount token the test mints) where the policy cares who creates a pod.

A missing build skips the tests that need it, except under CI=true, where they fail with the
reason scripts/build-kube recorded (as the registry and helm tests do).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from e2e.e2e_support import in_ci

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("K8S_HARDEN_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "k8s-harden")
ETCD_VERSION = "3.7.3"
#: the minors scripts/build-kube builds, newest first (K8S_HARDEN_KUBE_VERSIONS narrows it)
KUBE_VERSIONS = tuple(os.environ.get("K8S_HARDEN_KUBE_VERSIONS", "1.37.2 1.30.14 1.24.17").split())
ADMIN_TOKEN = "k8s-harden-admin-token"
#: a user with only the rights a chart deployer has in one namespace (see `limited_user`)
DEPLOYER = ("deployer", "k8s-harden-deployer-token")
#: the default admission chain of a cluster, plus what the version can enforce
PLUGINS = ("NamespaceLifecycle", "LimitRanger", "ServiceAccount", "DefaultStorageClass",
           "PodSecurity", "Priority", "DefaultTolerationSeconds", "ResourceQuota",
           "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook")


#: figures the server tests count, printed at the end of the run (conftest.py) for the notes:
#: FIGURES[topic][minor][what] = n
FIGURES: dict[str, dict[str, dict[str, int]]] = {}
#: servers that exited under the tests and were started again: (what, exit code, log tail),
#: printed at the end of the run (conftest.py) so a crash is never silent
RESTARTS: list[tuple[str, int | None, str]] = []


def count(topic: str, version: str, what: str, n: int = 1) -> None:
    slot = FIGURES.setdefault(topic, {}).setdefault(version, {})
    slot[what] = slot.get(what, 0) + n


PRIVILEGED_PSP = {
    "apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {
        "name": "privileged", "annotations": {"seccomp.security.alpha.kubernetes.io/allowedProfileNames": "*"}},
    "spec": {"privileged": True, "allowPrivilegeEscalation": True, "allowedCapabilities": ["*"],
             "volumes": ["*"], "hostNetwork": True, "hostPorts": [{"min": 0, "max": 65535}], "hostIPC": True,
             "hostPID": True, "allowedUnsafeSysctls": ["*"], "runAsUser": {"rule": "RunAsAny"},
             "seLinux": {"rule": "RunAsAny"}, "supplementalGroups": {"rule": "RunAsAny"},
             "fsGroup": {"rule": "RunAsAny"},
             "allowedProcMountTypes": ["Default", "Unmasked"]}}


def missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (CI=true: the server tests must run)", pytrace=False)
    pytest.skip(what)


def minor(version: str) -> int:
    return int(version.split(".")[1])


def _binary(kind: str, version: str, name: str) -> Path:
    d = CACHE / kind / f"v{version}"
    exe = d / name
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    why = (d / "FAILED").read_text() if (d / "FAILED").exists() else \
        (CACHE / "FAILED-go").read_text() if (CACHE / "FAILED-go").exists() else \
        "not built: run scripts/build-kube (scripts/install-tools calls it)"
    missing(f"{name} v{version} is missing from {d}: {why.strip()}")
    raise AssertionError  # not reached


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(proc: subprocess.Popen, log: Path, ready, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited {proc.returncode}:\n{log.read_text()[-4000:]}", pytrace=False)
        if ready():
            return
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{what} not ready after {seconds:.0f} s:\n{log.read_text()[-4000:]}", pytrace=False)


class Etcd:
    def __init__(self, root: Path) -> None:
        exe = _binary("etcd", ETCD_VERSION, "etcd")
        self.url = f"http://127.0.0.1:{free_port()}"
        peer = f"http://127.0.0.1:{free_port()}"
        self.root = root
        self._args = [exe, "--name=default", f"--data-dir={root / 'etcd-data'}",
                      f"--listen-client-urls={self.url}", f"--advertise-client-urls={self.url}",
                      f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
                      f"--initial-cluster=default={peer}", "--unsafe-no-fsync", "--log-level=warn"]
        self._start("etcd.log")

    def _start(self, log: str) -> None:
        self.log = self.root / log
        self.proc = subprocess.Popen(self._args, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _wait(self.proc, self.log, self._healthy, "etcd")

    def restart_if_dead(self) -> None:
        if self.proc.poll() is not None:
            RESTARTS.append(("etcd", self.proc.returncode, self.log.read_text(errors="replace")[-3000:]))
            self._start(f"etcd.{len(RESTARTS)}.log")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return json.load(r).get("health") == "true"
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        _stop(self.proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body.get('message', body)}")
        self.status, self.body = status, body

    @property
    def message(self) -> str:
        return str(self.body.get("message", self.body))


class KubeServer:
    """One kube-apiserver; `request` speaks the REST API, `kubectl` runs the real client."""

    def __init__(self, version: str, etcd: Etcd, root: Path) -> None:
        self.version, self.minor = version, minor(version)
        exe = _binary("kube", version, "kube-apiserver")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        key = root / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
        tokens = root / "tokens.csv"
        tokens.write_text(f'{ADMIN_TOKEN},admin,1,"system:masters"\n'
                          f'{DEPLOYER[1]},{DEPLOYER[0]},2,"deployers"\n')
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        plugins = list(PLUGINS)
        if self.minor >= 30:
            plugins.append("ValidatingAdmissionPolicy")
        if self.minor >= 36:
            plugins.append("MutatingAdmissionPolicy")
        if self.minor < 25:
            plugins.append("PodSecurityPolicy")
        args = [exe, f"--etcd-servers={etcd.url}", f"--etcd-prefix=/registry-{version}",
                "--bind-address=127.0.0.1", f"--secure-port={self.port}", f"--cert-dir={root / 'certs'}",
                f"--service-account-key-file={key}", f"--service-account-signing-key-file={key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
                f"--enable-admission-plugins={','.join(plugins)}", "--profiling=false",
                "--watch-cache=false", "--v=1"]
        self._args, self._etcd = args, etcd
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname = False
        self._ssl.verify_mode = ssl.CERT_NONE  # its own self-signed certificate, on loopback
        self._start()
        self.kubeconfig = root / "kubeconfig"
        self._write_kubeconfig(self.kubeconfig, "admin", ADMIN_TOKEN)
        self._resources: dict[tuple[str, str], tuple[str, bool]] | None = None
        #: the Warning headers of the last successful request (admission warnings)
        self.warnings: list[str] = []
        if self.minor < 25:
            # a PSP cluster's "privileged" policy, unbound: usable by system:masters (the
            # tests' admin) only, so PodSecurityPolicy judges just the tests that act as a
            # controller or a limited user
            self.request("POST", "/apis/policy/v1beta1/podsecuritypolicies", PRIVILEGED_PSP)

    # ------------------------------------------------------------------ lifecycle

    def _start(self, attempt: int = 0) -> None:
        self.log = self.root / (f"kube-apiserver.{attempt}.log" if attempt else "kube-apiserver.log")
        self.proc = subprocess.Popen(self._args, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _wait(self.proc, self.log, self._ready, f"kube-apiserver v{self.version}", 180)

    def _restart_if_dead(self) -> bool:
        """A server that exited under the tests (seen once in CI, cause not in the output) is
        started again on the same port and etcd prefix, so what the tests created is still
        there; the exit and its log tail are recorded in RESTARTS and printed at the end."""
        if self.proc.poll() is None or len(RESTARTS) >= 3:
            return False
        RESTARTS.append((f"kube-apiserver v{self.version}", self.proc.returncode,
                         self.log.read_text(errors="replace")[-3000:]))
        self._etcd.restart_if_dead()
        self._start(len(RESTARTS))
        return True

    def _ready(self) -> bool:
        try:
            return self.request("GET", "/readyz", raw=True) == b"ok"
        except (OSError, ApiError):
            return False

    def stop(self) -> None:
        _stop(self.proc)

    def _write_kubeconfig(self, path: Path, user: str, token: str) -> None:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": user,
            "clusters": [{"name": "test", "cluster": {"server": self.url, "insecure-skip-tls-verify": True}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "test", "user": user}}]}))

    def kubeconfig_for(self, user: str, token: str) -> Path:
        path = self.root / f"kubeconfig-{user.replace(':', '_')}"
        if not path.exists():
            self._write_kubeconfig(path, user, token)
        return path

    # ------------------------------------------------------------------ REST

    def request(self, method: str, path: str, body=None, *, token: str = ADMIN_TOKEN, raw: bool = False,
                content_type: str = "application/json"):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type,
                                              "Accept": "application/json"})
        try:
            try:
                r = urllib.request.urlopen(req, context=self._ssl, timeout=60)
            except (urllib.error.URLError, http.client.RemoteDisconnected, ConnectionResetError) as e:
                # refused, or cut off mid-request (a server that exited while answering): asked
                # again once when the server had died and was started again
                if isinstance(e, urllib.error.HTTPError):
                    raise
                if not isinstance(e, urllib.error.URLError):  # cut off: the process may still be exiting
                    try:
                        self.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                if not self._restart_if_dead():
                    raise
                r = urllib.request.urlopen(req, context=self._ssl, timeout=60)
            with r:
                out = r.read()
                self.warnings = r.headers.get_all("Warning") or []
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = {"message": payload.decode(errors="replace")}
            raise ApiError(e.code, parsed) from None
        return out if raw else json.loads(out or b"null")

    def resources(self) -> dict[tuple[str, str], tuple[str, bool]]:
        """(apiVersion, kind) -> (collection path prefix, namespaced), from discovery."""
        if self._resources is None:
            found = {}
            groups = [("v1", "/api/v1")]
            for g in self.request("GET", "/apis")["groups"]:
                groups += [(v["groupVersion"], f"/apis/{v['groupVersion']}") for v in g["versions"]]
            for gv, prefix in groups:
                for r in self.request("GET", prefix)["resources"]:
                    if "/" not in r["name"] and "create" in r.get("verbs", ()):
                        found[(gv, r["kind"])] = (f"{prefix}", r["name"], r["namespaced"])
            self._resources = found
        return self._resources

    def path_of(self, doc: dict, namespace: str | None) -> str | None:
        """The collection URL a document is created at, or None for a kind the server lacks."""
        hit = self.resources().get((doc.get("apiVersion"), doc.get("kind")))
        if hit is None:
            return None
        prefix, plural, namespaced = hit
        return f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"

    def create(self, doc: dict, namespace: str | None = None, *, dry_run: bool = True,
               token: str = ADMIN_TOKEN, subresource: str = "", field_validation: str = "Strict") -> dict:
        """Create a document (dryRun=All by default); raises ApiError with the server's answer."""
        ns = namespace or (doc.get("metadata") or {}).get("namespace") or "default"
        path = self.path_of(doc, ns)
        if path is None:
            raise LookupError(f"{doc.get('apiVersion')} {doc.get('kind')} is not served")
        query = f"?fieldValidation={field_validation}" + ("&dryRun=All" if dry_run else "")
        return self.request("POST", path + subresource + query, doc, token=token)

    def apply_objects(self, docs: list[dict]) -> None:
        """Create (really) cluster objects, replacing any of the same name."""
        for d in docs:
            meta = d.get("metadata") or {}
            path = self.path_of(d, meta.get("namespace") or "default")
            assert path, f"{d.get('apiVersion')} {d.get('kind')} not served by v{self.version}"
            try:
                self.request("DELETE", f"{path}/{meta['name']}")
            except ApiError as e:
                if e.status != 404:
                    raise
            self.create(d, meta.get("namespace"), dry_run=False)

    def namespace(self, name: str, labels: dict | None = None, service_accounts=("default",)) -> str:
        """A namespace (replaced if it exists, with `labels`) and its service accounts: no
        controller manager creates `default` here."""
        try:
            self.request("DELETE", f"/api/v1/namespaces/{name}")
            # a namespace lingers in Terminating until its finalizer runs (the namespace
            # controller, absent here): remove the finalizer so the name is free again
            ns = self.request("GET", f"/api/v1/namespaces/{name}")
            ns["spec"]["finalizers"] = []
            self.request("PUT", f"/api/v1/namespaces/{name}/finalize", ns)
            for _ in range(100):
                try:
                    self.request("GET", f"/api/v1/namespaces/{name}")
                except ApiError as e:
                    if e.status == 404:
                        break
                time.sleep(0.05)
        except ApiError as e:
            if e.status != 404:
                raise
        self.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
        for sa in service_accounts:
            self.service_account(name, sa)
        return name

    def service_account(self, namespace: str, name: str) -> None:
        try:
            self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
        except ApiError as e:
            if e.status != 409:
                raise

    def token_for(self, namespace: str, service_account: str) -> str:
        """A bound token of a service account (TokenRequest), to act as a controller does."""
        self.service_account(namespace, service_account)
        out = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                            "spec": {"expirationSeconds": 3600}})
        return out["status"]["token"]

    def kubectl(self, kubectl: Path, *args, input: str | None = None, kubeconfig: Path | None = None,
                check: bool = False) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(kubectl), f"--kubeconfig={kubeconfig or self.kubeconfig}", *map(str, args)],
                              input=input, capture_output=True, text=True, timeout=120)
        if check and proc.returncode:
            pytest.fail(f"kubectl {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}",
                        pytrace=False)
        return proc


class Cluster:
    """The session's servers: one etcd, one kube-apiserver per minor asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._etcd: Etcd | None = None
        self._servers: dict[str, KubeServer] = {}

    def server(self, version: str) -> KubeServer:
        if version not in self._servers:
            _binary("kube", version, "kube-apiserver")  # skip/fail before starting etcd
            if self._etcd is None:
                self._etcd = Etcd(self.root)
            self._servers[version] = KubeServer(version, self._etcd, self.root / f"v{version}")
        return self._servers[version]

    def stop(self) -> None:
        for s in self._servers.values():
            s.stop()
        if self._etcd:
            self._etcd.stop()


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def kubectl_binary() -> Path:
    tools = Path(os.environ.get("K8S_HARDEN_TOOLS", REPO / ".tools")) / "bin" / "kubectl"
    if tools.is_file():
        return tools
    found = shutil.which("kubectl")
    if not found:
        missing(f"kubectl not found in {tools.parent}: run scripts/install-tools")
    return Path(found)


def query(params: dict) -> str:
    return "?" + urllib.parse.urlencode(params)
