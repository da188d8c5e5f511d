"""The upstream Pod Security Admission fixtures, hardened by every built-in profile, are
admitted by that profile's own ValidatingAdmissionPolicy on the real kube-apiserver (issue
#21: one profile, one verdict).

The fixtures are kubernetes/pod-security-admission's test/testdata/{baseline,restricted}/
v1.<newest>/{pass,fail}/*.yaml, one pod per check and case, taken from the module the newest
built server is (`go mod download k8s.io/pod-security-admission@v0.<minor>.<patch>`, the Go
module proxy, as scripts/build-kube fetches kubernetes). Whatever the CLI leaves on purpose
(a kept setting, a chart-chosen uid, a reported exception) the policy it emits must admit;
a pod the profile refuses (strict: a conflict fails the run) gives nothing to deploy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from helpers import harden, load_all
from kube_server import KUBE_VERSIONS, ApiError, count
from test_server_admission import _items, _minor
from test_server_vap import install, policy_objects

from hardener.errors import ConflictError

PROFILES = ("restricted", "baseline", "strict")
NEWEST = KUBE_VERSIONS[0]


@lru_cache(maxsize=None)
def fixtures_dir(version: str) -> Path:
    """The module's folder, downloaded through the Go module proxy (cached by Go)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not installed: scripts/build-kube needs it too", pytrace=False)
    minor, patch = version.split(".")[1:3]
    out = subprocess.run([go, "mod", "download", "-json", f"k8s.io/pod-security-admission@v0.{minor}.{patch}"],
                         capture_output=True, text=True, timeout=600, cwd="/")
    assert out.returncode == 0, out.stderr or out.stdout
    return Path(json.loads(out.stdout)["Dir"]) / "test" / "testdata"


def fixture_pods(version: str) -> list[tuple[str, dict]]:
    """(level/kind/file, pod) of every fixture of the version, each with a name of its own."""
    minor = ".".join(version.split(".")[:2])
    out = []
    for path in sorted(fixtures_dir(version).glob(f"*/v{minor}/*/*.yaml")):
        pod = yaml.safe_load(path.read_text())
        where = "/".join((path.parts[-4], path.parts[-2], path.stem))
        pod["metadata"]["name"] = "-".join((path.parts[-4][:1], path.parts[-2], path.stem))[:63].lower()
        out.append((where, pod))
    return out


@pytest.fixture(scope="module")
def server(cluster):
    return cluster.server(NEWEST)


def test_the_fixtures_are_there():
    """The checker has something to judge: both levels, pass and fail, ~150 pods."""
    pods = fixture_pods(NEWEST)
    kinds = {w.rsplit("/", 1)[0] for w, _ in pods}
    assert {"restricted/pass", "restricted/fail", "baseline/pass", "baseline/fail"} <= kinds
    assert len(pods) > 100


@pytest.mark.parametrize("profile", PROFILES)
def test_every_hardened_fixture_is_admitted_by_its_own_policy(server, profile):
    """All fixtures as one stream (one policy, with the exceptions of every pod in it), the
    pods of the output created through it."""
    ns = f"fixtures-{profile}"
    server.namespace(ns)
    kept, refused = [], []
    for where, pod in fixture_pods(NEWEST):
        try:
            harden(yaml.safe_dump(pod), profile=profile, kube=_minor(NEWEST))
            kept.append((where, pod))
        except ConflictError:
            assert profile == "strict", where
            refused.append(where)
    out = harden(yaml.safe_dump_all([p for _, p in kept]), profile=profile, kube=_minor(NEWEST), emit="vap",
                 namespace=ns).output
    docs, policy = policy_objects(out)
    install(server, policy, ns)
    raw = {p["metadata"]["name"]: (w, p) for w, p in kept}
    server.namespace(f"{ns}-raw")
    denied, broken = [], []
    for pod in _items(docs):
        where, before = raw[pod["metadata"]["name"]]
        try:
            server.create(pod, ns, field_validation="Ignore")
            count("PSA fixtures", server.version, f"{profile}: hardened pods admitted")
        except ApiError as e:
            if "ValidatingAdmissionPolicy" in e.message:
                denied.append((where, e.message[-300:]))
                continue
            # the API's own validation: the fixture must be as invalid before hardening (an
            # invalid pod on purpose), or hardening broke it
            try:
                server.create(before, f"{ns}-raw", field_validation="Ignore")
                broken.append((where, e.message[-300:]))
            except ApiError:
                count("PSA fixtures", server.version, f"{profile}: invalid before hardening too")
    assert broken == [], json.dumps(broken, indent=1)
    if refused:
        count("PSA fixtures", server.version, f"{profile}: refused by the profile (a conflict)", len(refused))
    assert len(_items(docs)) == len(kept)
    assert denied == [], json.dumps(denied, indent=1)


def test_the_judge_fails_on_a_pod_the_policy_denies(server):
    """The check can fail: an unhardened privileged fixture, sent as it is, is denied."""
    ns = "fixtures-judge"
    server.namespace(ns)
    where, pod = next((w, p) for w, p in fixture_pods(NEWEST) if w.startswith("baseline/fail/privileged"))
    out = harden(yaml.safe_dump(pod), kube=_minor(NEWEST), emit="vap", namespace=ns).output
    _, policy = policy_objects(out)
    install(server, policy, ns)
    with pytest.raises(ApiError, match="ValidatingAdmissionPolicy"):
        server.create(pod, ns, field_validation="Ignore")
