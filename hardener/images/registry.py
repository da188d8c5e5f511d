"""A small client of the distribution API (the OCI distribution spec): manifest, then the
config blob, with bearer-token and basic auth, multi-arch indexes resolved for a platform,
and every digest checked.

The standard library's urllib is enough for three GETs an image; redirects are followed
by hand so that a registry's `Authorization` never reaches the blob store it redirects to
(S3 and CDNs refuse a request that carries one).
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from . import RegistryError, auth
from .reference import Reference

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
#: Distribution answers 404 to a manifest GET whose Accept lacks the OCI types.
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
MAX_BYTES = 4 << 20  # a manifest or a config is a few KiB
TIMEOUT = 10.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # raise the 3xx as an HTTPError: followed by hand, without credentials


_OPENER = urllib.request.build_opener(_NoRedirect)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def select_platform(index: dict, platform: tuple[str, str, str | None]) -> dict:
    """The manifest descriptor of an index for (os, arch, variant): an exact variant first;
    without one asked for, the entry without a variant, else the first of the arch."""
    want_os, want_arch, want_variant = platform
    found = [m for m in index.get("manifests") or [] if isinstance(m, dict)
             and isinstance(m.get("platform"), dict) and m["platform"].get("os") == want_os
             and m["platform"].get("architecture") == want_arch]
    if want_variant:
        found = [m for m in found if m["platform"].get("variant") == want_variant]
    else:
        found.sort(key=lambda m: m["platform"].get("variant") is not None)
    if not found:
        have = sorted({"/".join(str(m["platform"].get(k)) for k in ("os", "architecture", "variant")
                                if m["platform"].get(k)) for m in index.get("manifests") or []
                       if isinstance(m, dict) and isinstance(m.get("platform"), dict)})
        wanted = "/".join(p for p in platform if p)
        raise RegistryError(f"the index has no {wanted} image (it has: {', '.join(have) or 'none'})")
    return found[0]


class Client:
    """One run's connection to the registries: credentials and tokens are reused for every
    image of the same repository. Thread-safe."""

    def __init__(self, insecure: frozenset[str] = frozenset(), docker_config: dict | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.insecure, self.timeout = insecure, timeout
        self._config = docker_config
        self._auth: dict[tuple[str, str], str] = {}  # (host, repository) -> Authorization
        self._lock = threading.Lock()

    def _docker_config(self) -> dict:
        with self._lock:
            if self._config is None:
                self._config = auth.load_config()
            return self._config

    def _base(self, ref: Reference) -> str:
        scheme = "http" if ref.registry in self.insecure or ref.api_host in self.insecure else "https"
        return f"{scheme}://{ref.api_host}/v2/{ref.repository}"

    def _open(self, url: str, headers: dict[str, str], form: dict[str, str] | None = None
              ) -> tuple[int, Any, bytes]:
        """(status, headers, body) of a GET (a POST of `form`), 3xx followed by hand
        (without Authorization)."""
        for _ in range(5):
            data = urllib.parse.urlencode(form).encode() if form is not None else None
            req = urllib.request.Request(url, data=data, headers=headers)
            try:
                with _OPENER.open(req, timeout=self.timeout) as r:
                    return r.status, r.headers, r.read(MAX_BYTES + 1)
            except urllib.error.HTTPError as exc:
                if exc.code in (301, 302, 303, 307, 308) and exc.headers.get("Location"):
                    url = urllib.parse.urljoin(url, exc.headers["Location"])
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                    continue
                return exc.code, exc.headers, exc.read(MAX_BYTES + 1)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                raise RegistryError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None
        raise RegistryError("too many redirects")

    def _token(self, ref: Reference, params: dict[str, str]) -> str:
        realm = params.get("realm")
        if not realm:
            raise RegistryError("the registry asks for a bearer token but names no realm")
        query = {"service": params.get("service", ""),
                 "scope": params.get("scope") or f"repository:{ref.repository}:pull"}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(
            {k: v for k, v in query.items() if v})
        creds = auth.credentials(ref.registry, self._docker_config())
        if creds and creds[0] == auth.TOKEN_USER:
            # an identity token: POSTed as an OAuth2 refresh token (distribution
            # docs/spec/auth/oauth.md), as docker and containerd do
            form = {"grant_type": "refresh_token", "refresh_token": creds[1], "client_id": "k8s-harden",
                    **{k: v for k, v in query.items() if v}}
            status, _, body = self._open(realm, {"Content-Type": "application/x-www-form-urlencoded"}, form)
            who = "the identity token was refused"
        else:
            headers = {"Authorization": auth.basic(*creds)} if creds else {}
            status, _, body = self._open(url, headers)
            who = "the credentials were refused" if creds else "no credentials for it in the Docker config"
        if status != 200:
            raise RegistryError(f"token endpoint {realm} answered {status} ({who})")
        try:
            data = json.loads(body)
            return "Bearer " + str(data.get("token") or data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise RegistryError(f"token endpoint {realm} sent no token") from None

    def get(self, ref: Reference, path: str, accept: str | None = None) -> tuple[Any, bytes]:
        """GET /v2/<repository>/<path> with auth: (headers, body); RegistryError otherwise."""
        url = f"{self._base(ref)}/{path}"
        key = (ref.api_host, ref.repository)
        headers = {"Accept": accept} if accept else {}
        if key in self._auth:
            headers["Authorization"] = self._auth[key]
        status, head, body = self._open(url, headers)
        if status == 401 and "Authorization" not in headers:
            scheme, params = auth.parse_challenge(head.get("WWW-Authenticate", ""))
            if scheme == "bearer":
                value = self._token(ref, params)
            elif scheme == "basic":
                creds = auth.credentials(ref.registry, self._docker_config())
                if not creds:
                    raise RegistryError(f"{ref.registry} needs credentials (basic auth) and the "
                                        f"Docker config ({auth.config_path()}) has none for it")
                value = auth.basic(*creds)
            else:
                raise RegistryError(f"{ref.registry} asks for unsupported auth {scheme or '(none)'!r}")
            self._auth[key] = headers["Authorization"] = value
            status, head, body = self._open(url, headers)
        if status != 200:
            raise RegistryError(_status_text(status, body, ref, path))
        if len(body) > MAX_BYTES:
            raise RegistryError(f"{path}: larger than {MAX_BYTES} bytes")
        return head, body

    def manifest(self, ref: Reference, platform: tuple[str, str, str | None]) -> tuple[str, dict]:
        """(the manifest's digest, the image manifest) for `ref`, through an index when it
        is one; digests checked."""
        head, body = self.get(ref, f"manifests/{ref.manifest}", ACCEPT)
        if ref.digest and sha256(body) != ref.digest:
            raise RegistryError(f"manifest digest mismatch: asked {ref.digest}, got {sha256(body)}")
        data = _json(body, "manifest")
        kind = data.get("mediaType") or head.get("Content-Type", "").split(";")[0]
        if kind in INDEX_TYPES or "manifests" in data:
            desc = select_platform(data, platform)
            digest = str(desc.get("digest"))
            _, body = self.get(ref, f"manifests/{digest}", ACCEPT)
            if sha256(body) != digest:
                raise RegistryError(f"manifest digest mismatch: index names {digest}, got {sha256(body)}")
            data = _json(body, "manifest")
            return digest, data
        return sha256(body), data

    def config_blob(self, ref: Reference, digest: str) -> bytes:
        _, body = self.get(ref, f"blobs/{digest}")
        if sha256(body) != digest:
            raise RegistryError(f"config digest mismatch: manifest names {digest}, got {sha256(body)}")
        return body


def config_digest(manifest: dict) -> str:
    """The config blob's digest of an image manifest."""
    if manifest.get("schemaVersion") == 1:
        raise RegistryError("a Docker schema 1 manifest (no config blob): not supported")
    cfg = manifest.get("config")
    digest = cfg.get("digest") if isinstance(cfg, dict) else None
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise RegistryError("the manifest names no sha256 config blob")
    return digest


def _json(body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except ValueError:
        raise RegistryError(f"the {what} is not JSON") from None
    if not isinstance(data, dict):
        raise RegistryError(f"the {what} is not a JSON object")
    return data


def _status_text(status: int, body: bytes, ref: Reference, path: str) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        detail = ""
    what = {401: "unauthorized", 403: "forbidden", 404: "not found"}.get(status, f"HTTP {status}")
    return f"{ref.registry}/{ref.repository} {path.split('/')[0][:-1]} {what}" + (f" ({detail})" if detail else "")
