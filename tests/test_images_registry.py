"""`--images registry` against a real registry (Debian's docker-registry, distribution 2.8,
on 127.0.0.1): images with known configs pushed by hand and with skopeo, a multi-arch
index, basic auth (htpasswd) and bearer tokens, credentials from a Docker config, a
missing image, an unreachable registry, a tampered blob and the disk cache. No HTTP is
mocked: the tool under test is the installed CLI."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from registry_support import Layout, Registry, TokenServer, free_port, missing

K8S_HARDEN = [sys.executable, "-m", "hardener"]
REPO = Path(__file__).resolve().parent.parent
PLATFORMS = [({"os": "linux", "architecture": "amd64"}, {"config": {"User": "1001"}}),
             ({"os": "linux", "architecture": "arm64", "variant": "v8"}, {"config": {"User": "2002:2002"}})]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("registry")).start()
    try:
        reg.push_image("app/numeric", "1", {"config": {"User": "1001"}})
        reg.push_image("app/root", "1", {"config": {"User": "root"}})
        reg.push_image("app/named", "1", {"config": {"User": "nginx"}})
        reg.push_image("app/ports", "1", {"config": {"User": "101:101", "ExposedPorts": {"80/tcp": {}}}})
        reg.digests = {"multi": reg.push_index("app/multi", "1", PLATFORMS)}
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("basic"), ("htpasswd", "alice", "s3cret")).start()
    try:
        reg.push_image("private/app", "1", {"config": {"User": "4343"}})
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    server = TokenServer(tmp_path_factory.mktemp("token"))
    reg = Registry(tmp_path_factory.mktemp("bearer"), ("token", server))
    try:
        reg.start()
        reg.push_image("private/app", "1", {"config": {"User": "4242"}})
        yield reg
    finally:
        reg.stop()
        server.stop()


def docker_config(folder: Path, auths: dict | None = None, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"auths": {
        host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()} for host, (u, p) in (auths or {}).items()},
        **extra}))
    return folder


def harden(stream: str, tmp_path: Path, *args: str, hosts=(), config: Path | None = None, path_extra=None,
           cache: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K8S_HARDEN_", "XDG_", "DOCKER_"))}
    env["DOCKER_CONFIG"] = str(config or docker_config(tmp_path / "no-creds"))
    if path_extra:
        env["PATH"] = f"{path_extra}{os.pathsep}{env['PATH']}"
    insecure = ",".join(hosts)
    p = subprocess.run([*K8S_HARDEN, "--images", "registry", "--images-cache", str(cache or tmp_path / "cache"),
                        *(["--insecure-registry", insecure] if insecure else []), "--emit", "none",
                        "--report", "json", *args],
                       input=stream.encode(), capture_output=True, cwd=REPO, env=env, timeout=120)
    return p


def pod(*images: str) -> str:
    items = "".join(f"  - name: c{i}\n    image: {image}\n" for i, image in enumerate(images))
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n{items}"


def result(p):
    assert p.returncode == 0, p.stderr.decode()
    doc = yaml.safe_load(p.stdout)
    report = json.loads(p.stderr)
    warns = [w for r in report["resources"] for w in r["warnings"]]
    return doc, warns


def uid(doc, i):
    own = doc["spec"]["containers"][i].get("securityContext", {}).get("runAsUser")
    return own if own is not None else doc["spec"].get("securityContext", {}).get("runAsUser")


def test_numeric_root_named_users_and_exposed_ports(registry, tmp_path):
    h = registry.host
    doc, warns = result(harden(pod(f"{h}/app/numeric:1", f"{h}/app/root:1", f"{h}/app/named:1",
                                   f"{h}/app/ports:1"), tmp_path, hosts=[h]))
    assert [uid(doc, i) for i in range(4)] == [1001, 1000, 1000, 101]
    c3 = doc["spec"]["containers"][3]["securityContext"]
    assert c3["runAsGroup"] == 101 and c3["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"} in doc["spec"]["securityContext"]["sysctls"]
    predicted = {(w["container"], w["image"]) for w in warns if w["control"] == "runAsUser"}
    assert predicted == {("c1", f"{h}/app/root:1"), ("c2", f"{h}/app/named:1")}
    assert any("user 'nginx'" in w["message"] for w in warns)


def test_a_second_run_gives_the_same_bytes(registry, tmp_path):
    h = registry.host
    first = harden(pod(f"{h}/app/numeric:1", f"{h}/app/named:1", f"{h}/app/ports:1", f"{h}/app/multi:1"),
                   tmp_path, hosts=[h])
    assert first.returncode == 0, first.stderr
    second = harden(first.stdout.decode(), tmp_path, hosts=[h])
    assert second.returncode == 0 and second.stdout == first.stdout


@pytest.mark.parametrize("platform,want", [(None, 1001), ("linux/amd64", 1001), ("linux/arm64", 2002),
                                           ("linux/arm64/v8", 2002)])
def test_a_multi_arch_index_is_resolved_for_the_platform(registry, tmp_path, platform, want):
    args = ("--platform", platform) if platform else ()
    doc, warns = result(harden(pod(f"{registry.host}/app/multi:1"), tmp_path, *args, hosts=[registry.host]))
    assert uid(doc, 0) == want and not warns
    group = doc["spec"]["containers"][0]["securityContext"].get("runAsGroup")
    assert group == (2002 if want == 2002 else None)


def test_an_index_without_the_platform_is_a_warning(registry, tmp_path):
    _, warns = result(harden(pod(f"{registry.host}/app/multi:1"), tmp_path, "--platform", "linux/s390x",
                             hosts=[registry.host]))
    assert any("no linux/s390x image (it has: linux/amd64, linux/arm64/v8)" in w["message"] for w in warns)


def test_digest_references(registry, tmp_path):
    h, digest = registry.host, registry.digests["multi"]
    doc, warns = result(harden(pod(f"{h}/app/multi@{digest}", f"{h}/app/multi:1@{digest}",
                                   f"{h}/app/multi@sha256:{'0' * 64}"), tmp_path, hosts=[h]))
    assert (uid(doc, 0), uid(doc, 1)) == (1001, 1001)
    assert [w["container"] for w in warns if w["control"] == "images"] == ["c2"]


def test_skopeo_pushes_an_index_the_tool_reads(registry, tmp_path):
    if not shutil.which("skopeo"):
        missing("skopeo is not installed: run scripts/install-tools as root")
    layout = Layout.index(PLATFORMS).write(tmp_path / "oci", "v1")
    subprocess.run(["skopeo", "copy", "--all", "--dest-tls-verify=false", "--insecure-policy",
                    f"oci:{layout}:v1", f"docker://{registry.host}/skopeo/multi:v1"],
                   check=True, capture_output=True, timeout=60)
    for platform, want in (("linux/amd64", 1001), ("linux/arm64", 2002)):
        doc, _ = result(harden(pod(f"{registry.host}/skopeo/multi:v1"), tmp_path, "--platform", platform,
                               hosts=[registry.host], cache=tmp_path / platform.replace("/", "-")))
        assert uid(doc, 0) == want


def test_a_missing_image_is_a_warning_and_with_required_an_error(registry, tmp_path):
    image = f"{registry.host}/app/absent:1"
    doc, warns = result(harden(pod(image), tmp_path, hosts=[registry.host]))
    assert uid(doc, 0) == 1000
    assert [(w["container"], w["image"]) for w in warns if w["control"] == "images"] == [("c0", image)]
    assert any("manifest not found (MANIFEST_UNKNOWN" in w["message"] for w in warns)
    p = harden(pod(image), tmp_path, "--images-required", hosts=[registry.host])
    assert p.returncode == 2 and p.stdout == b""
    assert b"--images-required: cannot read the config of" in p.stderr and b"container 'c0'" in p.stderr


def test_an_unreachable_registry(tmp_path):
    image = f"127.0.0.1:{free_port()}/app/x:1"  # nothing listens there
    _, warns = result(harden(pod(image), tmp_path, hosts=[image.split("/")[0]]))
    assert any("cannot reach 127.0.0.1:" in w["message"] and "refused" in w["message"] for w in warns)
    p = harden(pod(image), tmp_path, "--images-required", hosts=[image.split("/")[0]])
    assert p.returncode == 2 and p.stdout == b"" and b"Traceback" not in p.stderr


def test_basic_auth_with_and_without_credentials(basic_registry, tmp_path):
    h = basic_registry.host
    image = f"{h}/private/app:1"
    _, warns = result(harden(pod(image), tmp_path, hosts=[h]))
    assert any("needs credentials (basic auth)" in w["message"] for w in warns)
    wrong = docker_config(tmp_path / "wrong", {h: ("alice", "nope")})
    _, warns = result(harden(pod(image), tmp_path, hosts=[h], config=wrong))
    assert any("unauthorized" in w["message"] for w in warns)
    good = docker_config(tmp_path / "good", {f"http://{h}/v2/": ("alice", "s3cret")})
    doc, warns = result(harden(pod(image), tmp_path, hosts=[h], config=good))
    assert uid(doc, 0) == 4343 and not warns


def test_a_credential_helper(basic_registry, tmp_path):
    h = basic_registry.host
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "docker-credential-pass-test"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\nsys.stdin.read()\n"
                   "print(json.dumps({'Username': 'alice', 'Secret': 's3cret'}))\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    config = docker_config(tmp_path / "helper", credHelpers={h: "pass-test"})
    doc, warns = result(harden(pod(f"{h}/private/app:1"), tmp_path, hosts=[h], config=config, path_extra=bindir))
    assert uid(doc, 0) == 4343 and not warns


def test_bearer_token_auth(token_registry, tmp_path):
    h = token_registry.host
    image = f"{h}/private/app:1"
    _, warns = result(harden(pod(image), tmp_path, hosts=[h]))
    assert any("token endpoint" in w["message"] and "401" in w["message"] for w in warns)
    config = docker_config(tmp_path / "tok", {h: (TokenServer.user, TokenServer.password)})
    doc, warns = result(harden(pod(image), tmp_path, hosts=[h], config=config))
    assert uid(doc, 0) == 4242 and not warns


def test_an_identity_token_is_exchanged_at_the_realm(token_registry, tmp_path):
    """Issue #21. An `auths` entry's identitytoken, or a credential helper's `<token>` user,
    is a refresh token: POSTed to the realm (distribution docs/spec/auth/oauth.md,
    grant_type=refresh_token), never sent as a password."""
    h, server = token_registry.host, token_registry.auth[1]
    image = f"{h}/private/app:1"
    folder = tmp_path / "identity"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auths": {h: {"identitytoken": TokenServer.refresh}}}))
    before = server.posts
    doc, warns = result(harden(pod(image), tmp_path, hosts=[h], config=folder, cache=tmp_path / "c1"))
    assert uid(doc, 0) == 4242 and not warns and server.posts == before + 1
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "docker-credential-idtoken"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\nsys.stdin.read()\n"
                   f"print(json.dumps({{'Username': '<token>', 'Secret': {TokenServer.refresh!r}}}))\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    helper = docker_config(tmp_path / "helper", credHelpers={h: "idtoken"})
    doc, warns = result(harden(pod(image), tmp_path, hosts=[h], config=helper, path_extra=bindir,
                               cache=tmp_path / "c2"))
    assert uid(doc, 0) == 4242 and not warns
    (folder / "config.json").write_text(json.dumps({"auths": {h: {"identitytoken": "revoked"}}}))
    _, warns = result(harden(pod(image), tmp_path, hosts=[h], config=folder, cache=tmp_path / "c3"))
    assert any("token endpoint" in w["message"] and "401 (the identity token was refused)" in w["message"]
               for w in warns), warns


def test_a_failed_lookup_is_remembered_for_a_while(tmp_path):
    """Issue #21: an image that cannot be had is not asked for again on every run: the
    failure is cached for a tenth of --images-ttl (at most 300 s), said in the warning; new
    credentials (the Docker config changes) or --images-ttl 0 ask again."""
    port = free_port()
    image = f"127.0.0.1:{port}/app/later:1"
    host = image.split("/")[0]
    first = harden(pod(image), tmp_path, hosts=[host])
    assert any("cannot reach" in w["message"] and "remembered" not in w["message"] for w in result(first)[1])
    reg = Registry(tmp_path / "late", port=port).start()  # the registry comes up
    try:
        reg.push_image("app/later", "1", {"config": {"User": "5151"}})
        _, warns = result(harden(pod(image), tmp_path, hosts=[host]))
        assert any("cannot reach" in w["message"] and "remembered from a lookup" in w["message"]
                   and "--images-ttl 0" in w["message"] for w in warns), warns
        doc, warns = result(harden(pod(image), tmp_path, "--images-ttl", "0", hosts=[host]))
        assert uid(doc, 0) == 5151 and not warns
        # a failure, then new credentials: asked again at once
        reg.stop()
        result(harden(pod(image), tmp_path, "--images-ttl", "0", hosts=[host], cache=tmp_path / "c2"))
        result(harden(pod(image), tmp_path, hosts=[host], cache=tmp_path / "c2"))  # failed, remembered
        reg.start()
        doc, warns = result(harden(pod(image), tmp_path, hosts=[host], cache=tmp_path / "c2",
                                   config=docker_config(tmp_path / "new-creds")))
        assert uid(doc, 0) == 5151 and not warns
    finally:
        reg.stop()
    bad = harden(pod(image), tmp_path, "--images-ttl", "soon", hosts=[host])
    assert bad.returncode == 2 and b"--images-ttl: 'soon': must be a whole number of seconds" in bad.stderr


def _blob_file(reg: Registry, digest: str) -> Path:
    hexd = digest.split(":")[1]
    return reg.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"


def test_the_cache_answers_a_second_run_without_the_registry(tmp_path):
    reg = Registry(tmp_path / "own").start()
    try:
        reg.push_image("app/cached", "1", {"config": {"User": "3003"}})
        digest = reg.push_index("app/cachedmulti", "1", PLATFORMS)
        stream = pod(f"{reg.host}/app/cached:1", f"{reg.host}/app/cachedmulti@{digest}")
        cold = harden(stream, tmp_path, hosts=[reg.host])
        assert result(cold)[1] == [] and uid(result(cold)[0], 0) == 3003
    finally:
        reg.stop()
    warm = harden(stream, tmp_path, hosts=[reg.host])  # the registry is gone
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, cold.stdout, cold.stderr)
    assert list((tmp_path / "cache" / "blobs" / "sha256").iterdir())
    fresh = harden(stream, tmp_path, hosts=[reg.host], cache=tmp_path / "empty-cache")
    assert any("cannot reach" in w["message"] for w in result(fresh)[1])  # really no registry


def test_a_tampered_config_blob_is_refused(tmp_path):
    reg = Registry(tmp_path / "tamper").start()
    try:
        reg.push_image("app/t", "1", {"config": {"User": "1001"}})
        _, head, body = reg.request("GET", "/v2/app/t/manifests/1", "app/t",
                                    headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        config = json.loads(body)["config"]["digest"]
        blob = _blob_file(reg, config)
        blob.write_bytes(blob.read_bytes().replace(b'"1001"', b'"0000"'))
        doc, warns = result(harden(pod(f"{reg.host}/app/t:1"), tmp_path, hosts=[reg.host]))
        assert uid(doc, 0) == 1000
        assert any("config digest mismatch" in w["message"] for w in warns)
        assert not (tmp_path / "cache" / "blobs" / "sha256" / config[7:]).exists()
    finally:
        reg.stop()


def test_a_missing_registry_fails_under_ci_and_skips_elsewhere(monkeypatch):
    """The checker of the tool itself: without docker-registry these tests must not pass
    silently in CI."""
    import registry_support

    monkeypatch.setattr(registry_support.shutil, "which", lambda name: None)
    monkeypatch.setattr(registry_support.os, "access", lambda path, mode: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        registry_support.registry_binary()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="scripts/install-tools"):
        registry_support.registry_binary()
