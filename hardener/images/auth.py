"""Registry credentials, found as docker, crane and skopeo find them, and the
`WWW-Authenticate` challenges that say how to present them.

Credentials come from the Docker config file (`$DOCKER_CONFIG/config.json`, else
`~/.docker/config.json`): a `credHelpers` entry for the registry, else its `auths` entry
(`auth`: base64 `user:password`, or `username`/`password`), else the `credsStore` helper.
A helper is the program `docker-credential-NAME`: `get` reads the server on stdin and
prints `{"Username", "Secret"}`. A Username of `<token>` (docker-credential-helpers'
convention; `identitytoken` in an `auths` entry) makes the Secret an identity token: a
refresh token exchanged for a bearer token at the realm (distribution's token
authentication spec, OAuth2 `grant_type=refresh_token`), not a password.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from typing import Any

from .reference import DOCKER_HUB

#: The key Docker Hub's credentials are stored under.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
#: The user name that says the secret is an identity (refresh) token.
TOKEN_USER = "<token>"
_PARAM = re.compile(r'\s*([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"`
    -> ("bearer", {realm, service, scope}); `Basic realm="x"` -> ("basic", {realm}).
    One challenge (registries send one); ("", {}) for an empty header."""
    scheme, _, rest = (header or "").strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[m.group(1).lower()] = value
        pos = m.end()
    return scheme.lower(), params


def _host_of(key: str) -> str:
    """An `auths` key as a registry host: `https://reg.example:5000/v2/` -> reg.example:5000."""
    host = re.sub(r"^[a-z]+://", "", key.strip()).split("/", 1)[0]
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com") else host


def config_path() -> str:
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(folder, "config.json")


def load_config(path: str | None = None) -> dict:
    """The Docker config file as data ({} when there is none or it is not JSON)."""
    try:
        with open(path or config_path(), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _helper(name: str, server: str) -> tuple[str, str] | None:
    try:
        p = subprocess.run([f"docker-credential-{name}", "get"], input=server, capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if p.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        out = json.loads(p.stdout)
        return str(out["Username"]), str(out["Secret"])
    except (ValueError, KeyError, TypeError):
        return None


def credentials(registry: str, config: dict[str, Any] | None = None) -> tuple[str, str] | None:
    """(user, password) for a registry (a normalised host[:port]), or None."""
    config = load_config() if config is None else config
    server = DOCKER_HUB_KEY if registry == DOCKER_HUB else registry
    helpers = config.get("credHelpers") if isinstance(config.get("credHelpers"), dict) else {}
    for key, name in helpers.items():
        if _host_of(key) == registry and isinstance(name, str):
            return _helper(name, server)
    auths = config.get("auths") if isinstance(config.get("auths"), dict) else {}
    for key, entry in auths.items():
        if _host_of(key) != registry or not isinstance(entry, dict):
            continue
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            return TOKEN_USER, entry["identitytoken"]
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return user, password
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _helper(store, server)
    return None


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
