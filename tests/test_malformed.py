"""Malformed workloads are skipped with the reason and never given a Pod Security level.

Each rule mirrors what the API server does with the object (see hardener/kube/shape.py):
apimachinery cannot decode an object without apiVersion (pkg/runtime/error.go:
NewMissingVersionErr) or with a field of the wrong JSON type, and
pkg/apis/core/validation/validation.go rejects a pod spec without containers
(validateContainers) and a container without name or image (validateContainerCommon).
"""

from __future__ import annotations

import json

import pytest

from hardener.kube.shape import problems
from helpers import CORPUS_FILES, dump, harden, invoke, pod

GOOD = {"containers": [{"name": "app", "image": "x"}]}


def _template(spec: dict) -> dict:
    return {"metadata": {"labels": {"a": "b"}}, "spec": spec}


# --------------------------------------------------------------------------- the rules, one by one
def test_a_well_formed_pod_has_no_problem():
    assert problems(pod(GOOD), pod(GOOD), builtin=True) == []


def test_missing_api_version_mirrors_new_missing_version_err():
    res = pod(GOOD)
    del res["apiVersion"]
    (p,) = problems(res, res, builtin=True)
    assert p.path == "/apiVersion" and not p.in_template and "NewMissingVersionErr" in p.source
    res["apiVersion"] = ""
    assert [p.path for p in problems(res, res, builtin=True)] == ["/apiVersion"]


@pytest.mark.parametrize("spec, path", [
    ({"containers": "oops"}, "/spec/containers"),
    ({**GOOD, "initContainers": {"a": "b"}}, "/spec/initContainers"),
    ({**GOOD, "ephemeralContainers": 3}, "/spec/ephemeralContainers"),
    ({"containers": ["oops"]}, "/spec/containers/0"),
    ({**GOOD, "securityContext": "x"}, "/spec/securityContext"),
    ({**GOOD, "volumes": {"name": "v"}}, "/spec/volumes"),
    ({"containers": [{"name": "a", "image": "x", "securityContext": ["x"]}]},
     "/spec/containers/0/securityContext"),
])
def test_a_field_of_the_wrong_json_type_cannot_be_decoded(spec, path):
    """json decoding into the typed PodSpec fails on these, for built-in kinds and CRDs."""
    for builtin in (True, False):
        found = problems({"apiVersion": "v1"}, _template(spec), builtin)
        assert path in [p.path for p in found], (builtin, found)


def test_a_missing_image_is_left_to_the_api_server():
    """validateContainerCommon rejects it too, but hardening does not depend on it."""
    assert problems({"apiVersion": "v1"}, _template({"containers": [{"name": "a"}]}), True) == []


def test_null_fields_decode_as_unset():
    spec = {**GOOD, "securityContext": None, "volumes": None, "initContainers": None}
    assert problems({"apiVersion": "v1"}, {"metadata": None, "spec": spec}, True) == []


@pytest.mark.parametrize("spec, path, function", [
    ({}, "/spec/containers", "validateContainers"),
    ({"containers": []}, "/spec/containers", "validateContainers"),
    ({"containers": [{"image": "x"}]}, "/spec/containers/0/name", "validateContainerCommon"),
    ({"containers": [{"name": "", "image": "x"}]}, "/spec/containers/0/name", "validateContainerCommon"),
    ({"containers": [{"name": 7, "image": "x"}]}, "/spec/containers/0/name", "validateContainerCommon"),
    ({**GOOD, "initContainers": [{"image": "i"}]}, "/spec/initContainers/0/name", "validateContainerCommon"),
])
def test_built_in_kinds_need_containers_with_a_name(spec, path, function):
    (p,) = problems({"apiVersion": "v1"}, _template(spec), builtin=True)
    assert p.path == path and p.source.endswith(function)
    # a CRD's schema is its own: only the JSON types are checked
    assert problems({"apiVersion": "example.com/v1"}, _template(spec), builtin=False) == []


# --------------------------------------------------------------------------- hardening skips them
MALFORMED = [
    ("containers-not-a-list", pod({"containers": "oops"})),
    ("no-api-version", {k: v for k, v in pod(GOOD).items() if k != "apiVersion"}),
    ("container-without-name", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                                "spec": {"template": _template({"containers": [{"image": "x"}]})}}),
    ("container-not-a-mapping", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "e"},
                                 "spec": {"template": _template({"containers": ["oops"]})}}),
]


@pytest.mark.parametrize("name, doc", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_workload_is_skipped_unchanged_with_the_reason(name, doc):
    text = dump(doc)
    r = invoke("--report", "json", input=text)
    assert r.exit_code == 0 and r.stdout == text  # byte for byte
    (res,) = json.loads(r.stderr.splitlines()[0])["resources"]
    assert res["malformed"] is True and "pss" not in res and res["changes"] == []
    assert res["skipped"] and all(s["kind"] == "malformed" and s["reason"].startswith("malformed: ")
                                  for s in res["skipped"])


def test_the_text_reports_name_the_problem_and_claim_no_level():
    text = dump(*(d for _, d in MALFORMED))
    for mode in ("summary", "text"):
        r = invoke("--report", mode, input=text)
        heads = [line for line in r.stderr.splitlines() if " change(s), " in line and "(" in line]
        assert len(heads) == 4 and all("not hardened: malformed: " in h for h in heads), r.stderr
        assert "PSS " not in r.stderr and "restricted -> restricted" not in r.stderr


def test_a_malformed_workload_next_to_good_ones_leaves_them_hardened():
    good = pod(GOOD, name="good")
    out = harden(dump(good, pod({"containers": "oops"}, name="bad")))
    kinds = {r.name: [s.kind for s in r.skipped] for r in out.results}
    assert kinds["bad"] == ["malformed"] and "malformed" not in kinds["good"]
    assert next(r for r in out.results if r.name == "good").changes


def test_check_fails_on_a_workload_too_malformed_to_harden():
    """Issue #21: a CI guard must not pass a stream whose workload could not be hardened at
    all. --check exits 1 (not hardened, as `audit` does), names it in a note, and the
    report says why; a clean neighbour alone still passes."""
    r = invoke("--check", "--emit", "none", input=dump(pod({"containers": "oops"})))
    assert r.exit_code == 1, r.stderr
    assert "not hardened: malformed: containers is a string" in r.stderr
    assert "1 workload(s) too malformed to harden, counted as not hardened: Pod p (document 0)" in r.stderr
    hardened = invoke("--emit", "none", input=dump(pod(GOOD))).stdout
    assert invoke("--check", "--emit", "none", input=hardened).exit_code == 0


def test_verify_fails_on_a_workload_too_malformed_to_harden():
    """--verify: a malformed template misses the level (exit 2 with the others), named with
    its document and where the problem is."""
    r = invoke("--verify", "--emit", "none", input=dump(pod(GOOD, name="good"), pod({"containers": "oops"})))
    assert r.exit_code == 2 and r.stdout == ""
    assert ("document 1: Pod p: not hardened at /: malformed: containers is a string, must be a list"
            in r.stderr), r.stderr
    assert "document 0" not in r.stderr


def test_levels_of_a_resource_are_its_weakest_template():
    """A resource with several pod templates reports the weakest (it used to be the last)."""
    from hardener.harden import _weakest_pss

    both = _weakest_pss(_weakest_pss(None, "restricted", "restricted"), "privileged", "baseline")
    assert both == {"before": "privileged", "after": "baseline"}


# --------------------------------------------------------------------------- the audit reports them
def test_audit_reports_api_malformed_and_no_level():
    text = dump(*(d for _, d in MALFORMED), pod(GOOD, name="good"))
    r = invoke("audit", "--format", "json", input=text)
    out = json.loads(r.stdout)
    assert r.exit_code == 1
    rules = [f["rule"] for f in out["findings"] if f["rule"] == "api/malformed"]
    assert len(rules) == 4
    assert out["summary"]["malformed"] == 4 and sum(out["summary"]["meets"].values()) == 1
    bad = [res for res in out["resources"] if res["meets"] is None]
    assert len(bad) == 4
    for f in out["findings"]:
        if f["rule"] == "api/malformed":
            assert f["reference"] and f["line"] >= 1


def test_audit_text_and_sarif_carry_the_rule():
    text = dump(pod({"containers": "oops"}))
    r = invoke("audit", input=text)
    assert "api/malformed: /spec/containers = \"oops\"" in r.stdout and "malformed 1" in r.stdout
    sarif = json.loads(invoke("audit", "--format", "sarif", input=text).stdout)
    run = sarif["runs"][0]
    assert [x["ruleId"] for x in run["results"]] == ["api/malformed"]
    assert "api/malformed" in {rule["id"] for rule in run["tool"]["driver"]["rules"]}


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_no_real_manifest_is_called_malformed(path):
    """The checks are what the API server refuses: real charts and upstream CRD examples
    (all accepted by their clusters) never trip them."""
    out = harden(path.read_text(), profile="restricted", source=str(path))
    assert not [s for r in out.results for s in r.skipped if s.kind == "malformed"]


# --------------------------------------------------------------------------- errors name the file
def test_a_fail_conflict_names_the_file_and_its_document(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(dump(pod(GOOD, name="a")))
    priv = {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]}
    second.write_text(dump(pod(GOOD, name="b"), pod(priv, name="c")))
    r = invoke("-p", "strict", "-f", str(first), "-f", str(second), input="")
    assert r.exit_code == 2 and r.stdout == ""
    assert f"{second}, document 1: v1 Pod c: container 'c': privileged: true conflicts" in r.stderr
