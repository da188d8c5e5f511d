"""A real OCI registry for the image tests: Debian's `docker-registry` (distribution 2.8)
on 127.0.0.1, with our own config (the packaged one listens on every interface), optional
htpasswd basic auth or bearer tokens from a small token server of ours, and images built
by hand as OCI layouts (a config blob, one tiny layer, a manifest, an index) pushed
through the distribution API or with `skopeo copy`.

`scripts/install-tools` installs the packages (apt, as root). A missing registry skips the
tests that need it, except under CI=true, where it fails them (as tests/e2e do for helm).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from e2e.e2e_support import in_ci

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (CI=true: the registry tests must run)", pytrace=False)
    pytest.skip(what)


def registry_binary() -> str:
    for candidate in (shutil.which("docker-registry"), "/usr/bin/docker-registry"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    missing("docker-registry is not installed: run scripts/install-tools as root "
            "(apt-get install docker-registry skopeo)")
    raise AssertionError  # not reached


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}"


class Registry:
    """One registry process; `auth` None, ("htpasswd", user, password) or ("token", server)."""

    def __init__(self, root: Path, auth: tuple | None = None, port: int | None = None) -> None:
        self.root, self.auth = root, auth
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = root / "registry.log"

    def start(self) -> "Registry":
        binary = registry_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = {"version": 0.1, "log": {"level": "warn"},
               "storage": {"filesystem": {"rootdirectory": str(self.root / "data")},
                           "delete": {"enabled": True}},
               "http": {"addr": self.host}}
        if self.auth and self.auth[0] == "htpasswd":
            path = self.root / "htpasswd"
            path.write_text(htpasswd_line(self.auth[1], self.auth[2]) + "\n")
            cfg["auth"] = {"htpasswd": {"realm": "test-registry", "path": str(path)}}
        elif self.auth and self.auth[0] == "token":
            server = self.auth[1]
            cfg["auth"] = {"token": {"realm": server.realm, "service": server.service,
                                     "issuer": server.issuer, "rootcertbundle": str(server.cert)}}
        (self.root / "config.yml").write_text(json.dumps(cfg))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self.proc = subprocess.Popen([binary, "serve", str(self.root / "config.yml")], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not listen on {self.host} within 15 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    # ---- pushing through the distribution API
    def _authorization(self, repo: str, challenge: str) -> str:
        creds = (self.auth[1], self.auth[2]) if self.auth and self.auth[0] == "htpasswd" else (
            self.auth[1].user, self.auth[1].password) if self.auth else None
        basic = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        if challenge.lower().startswith("basic"):
            return basic
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = urllib.parse.urlencode({"service": params["service"],
                                        "scope": f"repository:{repo}:pull,push"})
        req = urllib.request.Request(f"{params['realm']}?{query}", headers={"Authorization": basic})
        with urllib.request.urlopen(req, timeout=10) as r:
            return "Bearer " + json.load(r)["token"]

    def request(self, method: str, path: str, repo: str, data: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        url = path if path.startswith("http") else f"http://{self.host}{path}"
        headers = dict(headers or {})
        for attempt in range(2):
            req = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and attempt == 0 and self.auth:
                    headers["Authorization"] = self._authorization(repo, exc.headers["WWW-Authenticate"])
                    continue
                raise
        raise AssertionError

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        _, head, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo, b"")
        location = urllib.parse.urljoin(f"http://{self.host}/", head["Location"])
        sep = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{sep}digest={digest}", repo, data,
                     {"Content-Type": "application/octet-stream"})
        return digest

    def push_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", repo, body, {"Content-Type": media_type})
        return sha256(body)

    def push_image(self, repo: str, tag: str, config: dict) -> str:
        """Push a one-layer image with this config; the manifest's digest."""
        layout = Layout.image(config)
        for data in layout.blobs.values():
            self.push_blob(repo, data)
        return self.push_manifest(repo, tag, layout.manifests[0], OCI_MANIFEST)

    def push_index(self, repo: str, tag: str, platforms: list[tuple[dict, dict]]) -> str:
        """Push a multi-arch index: [(platform, config)]; the index's digest."""
        layout = Layout.index(platforms)
        for data in layout.blobs.values():
            self.push_blob(repo, data)
        for body in layout.manifests:
            self.push_manifest(repo, sha256(body), body, OCI_MANIFEST)
        return self.push_manifest(repo, tag, layout.index_body, OCI_INDEX)


def _tiny_layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        payload = b"hello\n"
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(raw.getvalue(), mtime=0)


class Layout:
    """An image (or an index of images) as blobs and manifests, and as an OCI layout on disk."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: list[bytes] = []
        self.index_body: bytes | None = None

    def _add(self, data: bytes) -> dict:
        self.blobs[sha256(data)] = data
        return {"digest": sha256(data), "size": len(data)}

    def _image(self, config: dict) -> bytes:
        layer = _tiny_layer()
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers",
                                     "diff_ids": [sha256(gzip.decompress(layer))]}, **config}).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, **self._add(cfg)},
                    "layers": [{"mediaType": OCI_LAYER, **self._add(layer)}]}
        body = json.dumps(manifest).encode()
        self.manifests.append(body)
        return body

    @classmethod
    def image(cls, config: dict) -> "Layout":
        layout = cls()
        layout._image(config)
        return layout

    @classmethod
    def index(cls, platforms: list[tuple[dict, dict]]) -> "Layout":
        layout = cls()
        entries = []
        for platform, config in platforms:
            body = layout._image({**config, "architecture": platform["architecture"], "os": platform["os"]})
            entries.append({"mediaType": OCI_MANIFEST, "digest": sha256(body), "size": len(body),
                            "platform": platform})
        layout.index_body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": entries}).encode()
        return layout

    def write(self, folder: Path, tag: str) -> Path:
        """As an OCI image layout (`skopeo copy oci:FOLDER:TAG ...` reads it)."""
        (folder / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        for body in [*self.blobs.values(), *self.manifests] + ([self.index_body] if self.index_body else []):
            (folder / "blobs" / "sha256" / sha256(body)[7:]).write_bytes(body)
        top = self.index_body or self.manifests[0]
        kind = OCI_INDEX if self.index_body else OCI_MANIFEST
        (folder / "index.json").write_text(json.dumps({
            "schemaVersion": 2, "manifests": [{"mediaType": kind, "digest": sha256(top), "size": len(top),
                                               "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
        return folder


class TokenServer:
    """A bearer-token endpoint as Docker Hub's auth.docker.io is one: GET /token with basic
    credentials -> a JWT (RS256, signed with `openssl`, the certificate in its `x5c`
    header) the registry trusts through `auth.token.rootcertbundle`; and POST /token with
    `grant_type=refresh_token` and the identity token `refresh` (distribution
    docs/spec/auth/oauth.md) -> `{"access_token"}`. `posts` counts the POSTs."""

    service, issuer, user, password = "test-registry", "test-issuer", "tok-user", "tok-secret"
    refresh = "identity-token-for-tok-user"

    def __init__(self, folder: Path) -> None:
        if not shutil.which("openssl"):
            missing("openssl is not installed (signs the test tokens)")
        folder.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = folder / "key.pem", folder / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-subj", "/CN=test-issuer", "-days", "2"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests = self.posts = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.requests += 1
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                given = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                if given != want:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.token(q.get("scope", [""])[0])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                server.posts += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if (self.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                        or form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [server.refresh]
                        or not form.get("client_id") or form.get("service") != [server.service]):
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"access_token": server.token(form.get("scope", [""])[0]),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, scope: str) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        if scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access = [{"type": "repository", "name": name, "actions": actions.split(",")}]
        now = int(time.time())
        head = b64(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}).encode())
        claims = b64(json.dumps({"iss": self.issuer, "sub": self.user, "aud": self.service,
                                 "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(now),
                                 "access": access}).encode())
        signing = f"{head}.{claims}".encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing,
                             check=True, capture_output=True).stdout
        return f"{head}.{claims}.{b64(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
