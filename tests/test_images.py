"""Image-aware hardening (#15), rule by rule, without a registry: User parsing, reference
normalisation, index resolution, auth challenges and credentials, ExposedPorts, the cache,
the folder mode and what the controls make of an image's config. The registry itself is
tested for real in test_images_registry.py."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hardener import pipeline
from helpers import harden
from hardener.errors import HardenError, ProfileError, UsageError
from hardener.images import Failure, exposed_low_ports, from_config, parse_user
from hardener.images import auth, reference
from hardener.images.cache import TAG_TTL, Cache
from hardener.images.registry import RegistryError, config_digest, select_platform
from hardener.inputs import Source
from hardener.options import build_options, image_settings

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- User
@pytest.mark.parametrize("user,kind,uid,gid", [
    ("1001", "uid", 1001, None), ("1001:1001", "uid", 1001, 1001), ("1001:0", "uid", 1001, 0),
    ("1001:app", "uid", 1001, None), (" 65532 ", "uid", 65532, None),
    ("", "root", 0, None), ("0", "root", 0, None), ("00", "root", 0, None), ("root", "root", 0, None),
    ("0:1000", "root", 0, None), ("root:root", "root", 0, None), (None, "root", 0, None),
    ("nginx", "name", None, None), ("app:app", "name", None, None), ("-1", "name", None, None),
    ("99999999999", "name", None, None), ("١٢٣", "name", None, None),
])
def test_user_parsing(user, kind, uid, gid):
    got = parse_user(user)
    assert (got.kind, got.uid, got.gid) == (kind, uid, gid)


# --------------------------------------------------------------------------- references
@pytest.mark.parametrize("text,want", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1"),
    ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
    ("Registry/app", "Registry/app:latest"),  # upper case: a host, as docker reads it
    ("app@sha256:" + "a" * 64, "docker.io/library/app@sha256:" + "a" * 64),
    ("app:1@sha256:" + "b" * 64, "docker.io/library/app:1@sha256:" + "b" * 64),
])
def test_reference_normalisation(text, want):
    assert str(reference.parse(text)) == want


def test_a_digest_wins_over_a_tag_and_docker_hub_is_served_elsewhere():
    ref = reference.parse("nginx:1@sha256:" + "c" * 64)
    assert ref.manifest == "sha256:" + "c" * 64 and ref.api_host == "registry-1.docker.io"
    assert reference.parse("quay.io/a/b").api_host == "quay.io"


@pytest.mark.parametrize("text", ["", " nginx", "NGINX", "app@sha256:abc", "app:bad tag", "a//b",
                                  "app@md5:" + "a" * 32, "host:port:x/app"])
def test_bad_references_say_what_is_wrong(text):
    with pytest.raises(ValueError):
        reference.parse(text)


# --------------------------------------------------------------------------- index resolution
INDEX = {"manifests": [
    {"digest": "sha256:1", "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:2", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:3", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:4", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"digest": "sha256:5", "platform": {"os": "unknown", "architecture": "unknown"}},  # attestations
    {"digest": "sha256:6", "platform": {"os": "windows", "architecture": "amd64"}},
]}


@pytest.mark.parametrize("platform,digest", [
    (("linux", "amd64", None), "sha256:1"), (("linux", "arm64", None), "sha256:2"),
    (("linux", "arm", "v6"), "sha256:4"), (("linux", "arm", None), "sha256:3"),
    (("windows", "amd64", None), "sha256:6"),
])
def test_index_resolution(platform, digest):
    assert select_platform(INDEX, platform)["digest"] == digest


def test_an_index_without_the_platform_lists_what_it_has():
    with pytest.raises(RegistryError, match=r"no linux/s390x image \(it has: .*linux/amd64.*linux/arm64/v8"):
        select_platform(INDEX, ("linux", "s390x", None))


def test_a_manifest_without_a_config_is_refused():
    with pytest.raises(RegistryError, match="schema 1"):
        config_digest({"schemaVersion": 1, "fsLayers": []})
    with pytest.raises(RegistryError, match="no sha256 config"):
        config_digest({"schemaVersion": 2, "config": {"digest": "md5:x"}})


# --------------------------------------------------------------------------- auth
@pytest.mark.parametrize("header,scheme,params", [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
     'scope="repository:library/nginx:pull"', "bearer",
     {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
      "scope": "repository:library/nginx:pull"}),
    ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
    ('bearer realm="https://x/t?a=1", service=svc, scope="repository:a:pull,push"', "bearer",
     {"realm": "https://x/t?a=1", "service": "svc", "scope": "repository:a:pull,push"}),
    ('Bearer realm="a \\"quoted\\" realm"', "bearer", {"realm": 'a "quoted" realm'}),
    ("", "", {}),
])
def test_auth_header_parsing(header, scheme, params):
    assert auth.parse_challenge(header) == (scheme, params)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_credentials_from_auths_in_every_spelling_of_the_key():
    config = {"auths": {"https://reg.example:5000/v2/": {"auth": _b64("u1:p:w")},
                        "https://index.docker.io/v1/": {"auth": _b64("hub:secret")},
                        "plain.example": {"username": "u3", "password": "p3"}}}
    assert auth.credentials("reg.example:5000", config) == ("u1", "p:w")
    assert auth.credentials("docker.io", config) == ("hub", "secret")
    assert auth.credentials("plain.example", config) == ("u3", "p3")
    assert auth.credentials("other.example", config) is None


@pytest.fixture
def helper_on_path(tmp_path, monkeypatch):
    """A real `docker-credential-test` program: prints credentials for reg.example, fails
    for any other server (as the real helpers do)."""
    exe = tmp_path / "docker-credential-test"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\nserver = sys.stdin.read().strip()\n"
                   "if server != 'reg.example':\n    print('credentials not found'); sys.exit(1)\n"
                   "print(json.dumps({'ServerURL': server, 'Username': 'helper-user', 'Secret': 's3'}))\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def test_credentials_from_cred_helpers_and_the_creds_store(helper_on_path):
    assert auth.credentials("reg.example", {"credHelpers": {"reg.example": "test"}}) == ("helper-user", "s3")
    assert auth.credentials("reg.example", {"credsStore": "test"}) == ("helper-user", "s3")
    assert auth.credentials("else.example", {"credsStore": "test"}) is None
    assert auth.credentials("reg.example", {"credHelpers": {"reg.example": "absent"}}) is None
    # a helper for the registry wins over an auths entry
    both = {"credHelpers": {"reg.example": "test"}, "auths": {"reg.example": {"auth": _b64("a:b")}}}
    assert auth.credentials("reg.example", both) == ("helper-user", "s3")


def test_the_docker_config_is_found_through_docker_config(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.example": {"auth": _b64("x:y")}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert auth.credentials("r.example") == ("x", "y")
    (tmp_path / "config.json").write_text("{not json")
    assert auth.credentials("r.example") is None


# --------------------------------------------------------------------------- ExposedPorts
@pytest.mark.parametrize("exposed,ports", [
    ({"80/tcp": {}, "443/tcp": {}, "8080/tcp": {}}, (80, 443)),
    ({"53/udp": {}, "53/tcp": {}}, (53,)),
    ({"80": {}}, (80,)), ({"100-200/tcp": {}}, (100,)), ({"0/tcp": {}, "1024/tcp": {}}, ()),
    ({"x/tcp": {}}, ()), (None, ()), (["80/tcp"], ()),
])
def test_exposed_ports(exposed, ports):
    assert exposed_low_ports(exposed) == ports


def test_a_config_that_is_no_config_is_a_failure():
    assert isinstance(from_config("a", [1, 2]), Failure)
    assert isinstance(from_config("a", {"config": "x"}), Failure)
    got = from_config("a", {"os": "windows", "config": {"User": "ContainerUser"}})
    assert got.windows and got.user == "ContainerUser"


# --------------------------------------------------------------------------- cache
def test_the_cache_checks_digests_and_ages_tags(tmp_path, monkeypatch):
    cache = Cache(str(tmp_path))
    blob = b'{"config": {"User": "1"}}'
    digest = "sha256:" + __import__("hashlib").sha256(blob).hexdigest()
    cache.put_blob(digest, blob)
    assert cache.blob(digest) == blob
    (tmp_path / "blobs" / "sha256" / digest[7:]).write_bytes(b"tampered")
    assert cache.blob(digest) is None  # a wrong blob is a miss, never an answer
    cache.put_resolved("r:tag|linux/amd64", digest)
    assert cache.resolved("r:tag|linux/amd64", immutable=False) == digest
    later = time.time() + TAG_TTL + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert cache.resolved("r:tag|linux/amd64", immutable=False) is None  # tags move
    assert cache.resolved("r:tag|linux/amd64", immutable=True) == digest  # digests do not


# --------------------------------------------------------------------------- settings
@pytest.mark.parametrize("kwargs,message", [
    ({"images": "nowhere"}, "--images: must be off, registry or a folder"),
    ({"images": "registry", "insecure_registry": "http://x"}, "--insecure-registry"),
    ({"images": "registry", "platform": "amd64"}, "--platform"),
    ({"images": "registry", "platform": "linux/amd64/v1/x"}, "--platform"),
])
def test_bad_image_settings_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        build_options(**kwargs)


def test_a_folder_without_index_json_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no index.json"):
        image_settings(str(tmp_path))


def test_images_off_is_no_image_settings():
    assert build_options().images is None and build_options(images="off").images is None
    s = build_options(images="registry", insecure_registry="a:1, b", platform="linux/arm/v7").images
    assert (s.mode, s.insecure, s.platform) == ("registry", frozenset({"a:1", "b"}), ("linux", "arm", "v7"))


def test_on_image_root_is_validated_with_its_key_path(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("extends: restricted\ncontrols:\n  runAsUser: {onImageRoot: ignore}\n")
    with pytest.raises(ProfileError, match=r"controls\.runAsUser\.onImageRoot: must be one of 'warn', 'keep', 'fail'"):
        build_options(profile=str(p))


# --------------------------------------------------------------------------- the rules, from a folder
CONFIGS = {
    "numeric:1": {"config": {"User": "1001"}},
    "pair:1": {"config": {"User": "1001:1001"}},
    "group0:1": {"config": {"User": "1001:0"}},
    "root:1": {"config": {"User": "root"}},
    "empty:1": {"config": {}},
    "named:1": {"config": {"User": "nginx", "ExposedPorts": {"80/tcp": {}}}},
    "ports:1": {"config": {"User": "101", "ExposedPorts": {"80/tcp": {}, "8443/tcp": {}}}},
    "win:1": {"os": "windows", "config": {"User": "ContainerUser"}},
}


@pytest.fixture
def folder(tmp_path):
    index = {}
    for i, (ref, cfg) in enumerate(CONFIGS.items()):
        (tmp_path / f"c{i}.json").write_text(json.dumps({"os": "linux", **cfg}))
        index[ref] = f"c{i}.json"
    (tmp_path / "index.json").write_text(json.dumps(index))
    return tmp_path


def pod(*containers, spec_extra: str = "") -> str:
    items = "".join(f"  - name: {name}\n    image: {image}\n" + extra for name, image, extra in containers)
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{spec_extra}  containers:\n{items}"


def run(text: str, folder, **kw):
    out = pipeline.run([Source("<stdin>", text)], build_options(images=str(folder), emit="none", **kw))
    return out, yaml.safe_load(out.output)


def sc(doc, i=0):
    return doc["spec"]["containers"][i].get("securityContext", {})


def warnings(out):
    return [(w.control, w.container, w.message) for r in out.results for w in r.warnings]


def test_a_numeric_image_uid_is_used_and_reported(folder):
    out, doc = run(pod(("app", "numeric:1", "")), folder)
    assert sc(doc)["runAsUser"] == 1001 and "runAsGroup" not in sc(doc)
    assert "runAsGroup" not in doc["spec"]["securityContext"]  # keeps the image's group
    assert "fsGroup" not in doc["spec"]["securityContext"]  # the containers' one group is unknown
    reasons = [c.reason for r in out.results for c in r.changes if c.control == "runAsUser"]
    assert reasons == ["uid 1001 from the image numeric:1"]
    assert not [w for w in warnings(out) if w[0] == "runAsUser"]


def test_an_image_group_is_used_when_non_zero_and_never_group_0(folder):
    _, doc = run(pod(("app", "pair:1", "")), folder)
    assert (sc(doc)["runAsUser"], sc(doc)["runAsGroup"], doc["spec"]["securityContext"]["fsGroup"]) == (
        1001, 1001, 1001)
    _, doc = run(pod(("app", "group0:1", "")), folder)
    assert sc(doc)["runAsUser"] == 1001 and "runAsGroup" not in sc(doc)
    assert "runAsGroup" not in doc["spec"]["securityContext"]


def test_the_manifest_uid_wins_over_the_image(folder):
    _, doc = run(pod(("app", "numeric:1", "    securityContext: {runAsUser: 5000}\n")), folder)
    assert sc(doc)["runAsUser"] == 5000
    _, doc = run(pod(("app", "numeric:1", ""), spec_extra="  securityContext: {runAsUser: 5000}\n"), folder)
    assert "runAsUser" not in sc(doc) and doc["spec"]["securityContext"]["runAsUser"] == 5000


@pytest.mark.parametrize("image,user", [("root:1", "user 'root' (root)"), ("empty:1", "root (no user set)"),
                                        ("named:1", "user 'nginx'")])
def test_root_or_named_image_users_get_the_profile_uid_and_a_warning(folder, image, user):
    out, doc = run(pod(("app", image, "")), folder)
    assert doc["spec"]["securityContext"]["runAsUser"] == 1000
    msgs = [w for w in warnings(out) if w[0] == "runAsUser"]
    assert len(msgs) == 1 and msgs[0][1] == "app" and f"image {image} expects {user}" in msgs[0][2]
    assert [w.image for r in out.results for w in r.warnings] == [image]


def test_on_image_root_keep_leaves_the_identity_and_reports_it(folder, tmp_path):
    p = tmp_path / "keep.yaml"
    p.write_text("extends: restricted\ncontrols:\n  runAsUser: {onImageRoot: keep}\n")
    out, doc = run(pod(("app", "root:1", ""), ("other", "numeric:1", "")), folder, profile=str(p))
    assert "runAsUser" not in sc(doc, 0) and "runAsNonRoot" not in sc(doc, 0)
    assert "runAsUser" not in doc["spec"].get("securityContext", {})
    assert sc(doc, 1)["runAsUser"] == 1001 and sc(doc, 1)["runAsNonRoot"] is True
    skips = [(s.control, s.container) for r in out.results for s in r.skipped if "onImageRoot: keep" in s.reason]
    assert ("runAsUser", "app") in skips and ("runAsNonRoot", "app") in skips


def test_on_image_root_fail_names_the_container_and_image(folder, tmp_path):
    p = tmp_path / "fail.yaml"
    p.write_text("extends: restricted\ncontrols:\n  runAsUser: {onImageRoot: fail}\n")
    with pytest.raises(HardenError, match=r"container 'app': image named:1 runs as user 'nginx'.*onImageRoot: fail"):
        run(pod(("app", "named:1", "")), folder, profile=str(p))
    run(pod(("app", "numeric:1", "")), folder, profile=str(p))  # a uid: nothing to fail on


def test_exposed_low_ports_count_when_the_manifest_declares_none(folder):
    out, doc = run(pod(("app", "named:1", "")), folder)
    assert "NET_BIND_SERVICE" in sc(doc)["capabilities"]["add"]
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"} in doc["spec"]["securityContext"]["sysctls"]
    _, doc = run(pod(("app", "ports:1", "    ports: [{containerPort: 8080}]\n")), folder)
    assert "add" not in sc(doc)["capabilities"] and "sysctls" not in doc["spec"]["securityContext"]


def test_windows_images_and_pods_get_no_linux_uid(folder):
    out, doc = run(pod(("app", "win:1", "")), folder)
    assert "runAsUser" not in sc(doc)  # no uid from a Windows image (the pod is hardened as today)
    assert not [w for r in out.results for w in r.warnings if w.image]
    assert [s.reason for r in out.results for s in r.skipped if s.container == "app"] == [
        "Windows image win:1: its user 'ContainerUser' is a Windows account, not a Linux uid"]
    out, doc = run(pod(("app", "numeric:1", ""), spec_extra="  os: {name: windows}\n"), folder)
    assert "runAsUser" not in sc(doc)


def test_a_config_not_found_is_a_warning_or_with_required_an_error(folder):
    out, doc = run(pod(("app", "absent:1", "")), folder)
    assert ("images", "app") in [w[:2] for w in warnings(out)]
    assert doc["spec"]["securityContext"]["runAsUser"] == 1000
    with pytest.raises(HardenError, match=r"--images-required: cannot read the config of 'absent:1' "
                                          r"\(Pod p container 'app'\): not in .*index.json"):
        run(pod(("app", "absent:1", "")), folder, images_required=True)


def test_a_second_run_gives_the_same_bytes(folder):
    text = pod(("a", "numeric:1", ""), ("b", "pair:1", ""), ("c", "named:1", ""), ("d", "group0:1", ""),
               ("e", "absent:1", ""))
    once, _ = run(text, folder)
    twice, _ = run(once.output, folder)
    assert twice.output == once.output


def test_images_off_is_todays_output(folder):
    text = pod(("a", "numeric:1", ""), ("b", "named:1", ""))
    off = pipeline.run([Source("<stdin>", text)], build_options(emit="none")).output
    assert pipeline.run([Source("<stdin>", text)], build_options(emit="none", images="off")).output == off
    assert run(text, folder)[0].output != off


def test_image_settings_without_images_are_said_not_ignored():
    """--images-required (or a cache, an insecure registry, a platform) with --images off
    reads nothing: the run says so in a note instead of passing over it silently."""
    opts = build_options(emit="none", images_required=True, platform="linux/arm64")
    assert opts.images is None
    assert any("--images-required, --platform without --images" in n for n in opts.notes)
    assert not any("--images" in n for n in build_options(emit="none").notes)


def test_a_bad_index_json_is_a_clear_error(folder):
    (folder / "index.json").write_text('["a"]')
    with pytest.raises(HardenError, match="index.json must be a JSON object"):
        run(pod(("a", "numeric:1", "")), folder)


def _cli(*args, input_text):
    return subprocess.run([sys.executable, "-m", "hardener", *args], input=input_text.encode(),
                          capture_output=True, cwd=REPO, timeout=60)


def test_cli_errors_leave_stdout_empty(folder):
    r = _cli("--images", str(folder), "--images-required", input_text=pod(("a", "absent:1", "")))
    assert r.returncode == 2 and r.stdout == b"" and b"--images-required" in r.stderr
    assert b"Traceback" not in r.stderr
    r = _cli("--images", "/nonexistent", input_text=pod(("a", "numeric:1", "")))
    assert r.returncode == 2 and r.stdout == b"" and b"--images: must be off" in r.stderr


def test_the_json_report_names_the_image(folder):
    r = _cli("--images", str(folder), "--report", "json", "--emit", "none", input_text=pod(("a", "named:1", "")))
    assert r.returncode == 0, r.stderr
    warns = json.loads(r.stderr)["resources"][0]["warnings"]
    assert {"control": "runAsUser", "container": "a", "image": "named:1"}.items() <= warns[0].items()
    assert "user 'nginx'" in warns[0]["message"]


def test_audit_reports_the_predictions_without_changing_anything(folder):
    text = pod(("a", "named:1", ""), ("b", "numeric:1", ""), ("c", "absent:1", ""))
    r = _cli("audit", "--images", str(folder), "--format", "json", input_text=text)
    findings = json.loads(r.stdout)["findings"]
    image = sorted((f["rule"], f["container"]) for f in findings if f["group"] == "image")
    assert image == [("image/config", "c"), ("image/user", "a")]
    assert all(f["severity"] == "warning" for f in findings if f["group"] == "image")
    fail = folder / "fail.yaml"
    fail.write_text("extends: restricted\ncontrols:\n  runAsUser: {onImageRoot: fail}\n")
    r = _cli("audit", "--images", str(folder), "--profile", str(fail), "--format", "json", input_text=text)
    assert ("image/user", "a") in [(f["rule"], f["container"]) for f in json.loads(r.stdout)["findings"]]
    r = _cli("audit", "--images", str(folder), "--format", "sarif", input_text=text)
    rules = {x["id"] for x in json.loads(r.stdout)["runs"][0]["tool"]["driver"]["rules"]}
    assert {"image/user", "image/config"} <= rules


def test_a_run_the_cache_answers_imports_no_http_code(tmp_path):
    """Warm runs matter most (every `helm install`): with every config in the cache, no
    HTTP client is imported and no thread pool started."""
    import hashlib

    blob = json.dumps({"os": "linux", "config": {"User": "1001"}}).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    cache = Cache(str(tmp_path))
    cache.put_blob(digest, blob)
    cache.put_resolved("reg.example/app:1|linux/amd64", digest)
    code = ("import sys\nfrom hardener.cli import main\n"
            "try:\n    main(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-c", code, "--images", "registry", "--images-cache", str(tmp_path),
                        "--emit", "none"], input=pod(("a", "reg.example/app:1", "")), capture_output=True,
                       text=True, cwd=REPO)
    assert p.returncode == 0 and "runAsUser: 1001" in p.stdout, p.stderr
    mods = set(p.stderr.rsplit("MODULES ", 1)[1].split())
    assert "hardener.images.lookup" in mods
    assert not {"urllib.request", "http.client", "concurrent.futures", "hardener.images.registry"} & mods


NON_ROOT = "  securityContext: {runAsNonRoot: true}\n"


def test_the_images_own_uid_is_kept_under_the_manifests_run_as_non_root(folder):
    """Issue #23 item 6: a pod passing restricted through runAsNonRoot: true and its image's
    numeric USER (999, 1337, ...) kept that uid only with a warning: the profile's replaced
    it. Now it keeps what it does and says so; with --images the image's uid is written."""
    text = pod(("db", "unknown.example/db:1", ""), spec_extra=NON_ROOT)
    out = harden(text)
    doc = yaml.safe_load(out.output)
    assert "runAsUser" not in doc["spec"]["securityContext"] and "runAsUser" not in sc(doc)
    assert "runAsGroup" not in doc["spec"]["securityContext"] and "fsGroup" not in doc["spec"]["securityContext"]
    skips = {(s.control, s.kind) for r in out.results for s in r.skipped}
    assert {("runAsUser", "kept-identity"), ("runAsGroup", "kept-identity"), ("fsGroup", "kept-identity")} <= skips
    assert not [w for w in warnings(out) if w[0] == "runAsUser"]
    # with --images: the image's numeric uid is the answer, its named or root user is not kept
    _, doc = run(pod(("db", "numeric:1", ""), spec_extra=NON_ROOT), folder)
    assert sc(doc)["runAsUser"] == 1001
    _, doc = run(pod(("db", "named:1", ""), spec_extra=NON_ROOT), folder)
    assert doc["spec"]["securityContext"]["runAsUser"] == 1000  # the kubelet refuses a named user here
    # the manifest's runAsNonRoot, not ours: a pod without it still gets the profile's uid
    doc = yaml.safe_load(harden(pod(("db", "unknown.example/db:1", ""))).output)
    assert doc["spec"]["securityContext"]["runAsUser"] == 1000


def test_a_placeholder_image_is_never_looked_up(folder):
    """Issue #23 item 7: Istio's gateway template says `image: auto` (the injector writes the
    real one); it was asked of Docker Hub as library/auto."""
    from hardener.images.lookup import stream_images
    from hardener.kube.workloads import WorkloadTable
    from hardener.yamlio import split_stream

    text = pod(("istio-proxy", "auto", ""), ("app", "numeric:1", ""))
    assert list(stream_images(split_stream(text)[1], WorkloadTable())) == ["numeric:1"]
    out, doc = run(text, folder, images_required=True)  # no failure to read "auto"
    assert sc(doc, 1)["runAsUser"] == 1001
