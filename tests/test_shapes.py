"""Planning once per template shape (hardener/shapes.py, issue #22) changes no byte: every
corpus stream, golden case, hostile input and example, through every built-in profile and
the CLI's report formats and policy emitters, gives the same stdout, stderr and exit code
with the shape cache as without it. The comparison is shown to fail on a cache whose key
leaves the spec out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardener import pipeline, shapes
from helpers import CORPUS_FILES, REPO, invoke

INPUTS = sorted([*CORPUS_FILES, *(REPO / "tests" / "cases").glob("*/input.yaml"),
                 *(p for p in (REPO / "tests" / "hostile").iterdir() if p.is_file()),
                 *(REPO / "examples").glob("*.yaml")])
PROFILES = sorted(p.stem for p in (REPO / "profiles").glob("*.yaml"))
RUNS = [(profile, ()) for profile in PROFILES] + [
    ("restricted", ("--report", "json")),
    ("restricted", ("--emit", "vap", "--namespace", "apps")),
    ("restricted", ("--emit", "psp", "--kube-version", "1.24")),
    ("baseline", ("--emit", "map", "--kube-version", "1.37", "--namespace", "apps")),
    ("strict", ("--report", "json", "--check")),
]


def _run(path: Path, profile: str, extra: tuple, cached: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(pipeline, "PLAN_BY_SHAPE", cached)
    r = invoke("--profile", profile, *extra, input=path.read_bytes())
    return r.exit_code, r.stdout_bytes, r.stderr_bytes


def _differences(monkeypatch, runs=RUNS, inputs=INPUTS) -> list:
    found = []
    for profile, extra in runs:
        for path in inputs:
            with_cache = _run(path, profile, extra, True, monkeypatch)
            without = _run(path, profile, extra, False, monkeypatch)
            if with_cache != without:
                found.append((path.name, profile, extra))
    return found


@pytest.mark.parametrize("profile,extra", RUNS, ids=[" ".join((p, *e)) for p, e in RUNS])
def test_the_shape_cache_changes_no_byte(monkeypatch, profile, extra):
    assert _differences(monkeypatch, [(profile, extra)]) == []


def test_the_comparison_fails_on_a_key_without_the_spec(monkeypatch):
    """A key of the kind alone: every Deployment replays the first one's plan."""
    monkeypatch.setattr(shapes.ShapeCache, "key", lambda self, pt, a, b: repr((pt.kind, pt.pointer)))
    assert _differences(monkeypatch, [("restricted", ())])


TWO_TEAMS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-a, namespace: team-a, labels: {team: a}}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
      - {name: app, image: "example.com/app:1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-b, namespace: team-b, labels: {team: b}}
spec:
  selector: {matchLabels: {app: b}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers:
      - {name: app, image: "example.com/app:2"}
"""


def _planned(monkeypatch, text: str = TWO_TEAMS) -> tuple[int, dict]:
    """(how many templates the controls planned, the JSON report) of `text`."""
    calls = []
    real = shapes.ShapeCache.put

    def put(self, key, plan):
        calls.append(key)
        real(self, key, plan)

    monkeypatch.setattr(shapes.ShapeCache, "put", put)
    r = invoke("--report", "json", "--emit", "none", input=text)
    assert r.exit_code == 0, r.stderr
    return len(calls), json.loads(r.stderr)


def test_templates_that_differ_in_names_and_labels_are_planned_once_per_image(monkeypatch):
    planned, report = _planned(monkeypatch)
    assert planned == 2  # the images differ: they are part of the shape
    planned, same = _planned(monkeypatch, TWO_TEAMS.replace("example.com/app:2", "example.com/app:1"))
    assert planned == 1  # names, namespaces and labels apart, one shape
    resources = same["resources"]
    assert [len(x["changes"]) for x in resources] == [len(x["changes"]) for x in report["resources"]]
    assert len(resources) == 2 and resources[0]["changes"] and resources[0]["changes"] == resources[1]["changes"]


def test_with_images_the_image_user_decides_per_template(monkeypatch, tmp_path):
    """Same shape but for the image: one image runs as 1001, the other as root; each keeps
    its own plan (the numeric uid of one, the profile's uid for the other)."""
    configs = {"example.com/app:1": {"config": {"User": "1001:1001"}},
               "example.com/app:2": {"config": {"User": "0"}}}
    index = {}
    for i, (ref, cfg) in enumerate(configs.items()):
        (tmp_path / f"c{i}.json").write_text(json.dumps({"os": "linux", **cfg}))
        index[ref] = f"c{i}.json"
    (tmp_path / "index.json").write_text(json.dumps(index))
    args = ("--images", str(tmp_path), "--report", "json", "--emit", "none")
    monkeypatch.setattr(pipeline, "PLAN_BY_SHAPE", True)
    cached = invoke(*args, input=TWO_TEAMS)
    monkeypatch.setattr(pipeline, "PLAN_BY_SHAPE", False)
    plain = invoke(*args, input=TWO_TEAMS)
    assert cached.exit_code == plain.exit_code == 0
    assert (cached.stdout_bytes, cached.stderr_bytes) == (plain.stdout_bytes, plain.stderr_bytes)
    a, b = json.loads(cached.stderr)["resources"]
    assert a["changes"] != b["changes"]
