"""`k8s-harden audit` on Helm output: findings name the chart file each document was
rendered from — Helm 3's `# Source: CHART/templates/FILE` comment, else Helm 4's
`postrenderer.helm.sh/postrender-filename` annotation — in SARIF (the primary location, with
the rendered stream as a related location), in JSON (`chartFile`, `chartLine` next to
`source`, `line`) and in text. The line in the chart file is the line inside the rendered
document counted from Helm's header: the first line after `# Source:` is line 1 (Helm 4:
the resource's first line is line 1)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from helpers import CORPUS, cli, invoke

SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())

# Two documents from one template file, one from another, and a ConfigMap; as `helm template`
# prints them. Every line a finding must point at carries a `# <-` marker.
HELM3 = """\
---
# Source: web/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
# Source: web/templates/pods.yaml
apiVersion: v1
kind: Pod
metadata:
  name: one
spec:
  containers:
    - name: app
      image: nginx
      securityContext:
        privileged: true              # <- one privileged
---
# Source: web/templates/pods.yaml
# a comment the template itself rendered
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  hostNetwork: true                   # <- two hostNetwork
  containers:
    - name: app
      image: nginx
---
# Source: web/charts/db/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers:
        - name: db
          image: postgres
          securityContext:
            capabilities: {add: [SYS_ADMIN]}   # <- db SYS_ADMIN
"""

HELM4 = """\
apiVersion: v1
kind: Pod
metadata:
  name: four
  annotations:
    postrenderer.helm.sh/postrender-filename: 'web/templates/pod.yaml'
spec:
  containers:
  - name: app
    image: nginx
    securityContext:
      privileged: true                # <- four privileged
"""

PLAIN = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x\n"


def line_of(text: str, marker: str) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if ln.endswith(f"# <- {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def source_line_before(text: str, line: int) -> int:
    """The line of the nearest `# Source:` comment above `line`."""
    lines = text.splitlines()
    return max(i for i in range(1, line + 1) if lines[i - 1].startswith("# Source:"))


def audit(*args, input=None):
    r = invoke("audit", *args, input=input)
    assert r.exit_code in (0, 1), (r.output, r.exception)
    return r


def sarif(*args, input=None) -> dict:
    log = json.loads(audit("--format", "sarif", *args, input=input).stdout)
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    return log


def results(log: dict, rule: str) -> list[dict]:
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == rule]


def primary(result: dict) -> tuple[str, int]:
    loc = result["locations"][0]["physicalLocation"]
    return loc["artifactLocation"]["uri"], loc["region"]["startLine"]


def related(result: dict) -> tuple[str, int]:
    (loc,) = result["relatedLocations"]
    return loc["physicalLocation"]["artifactLocation"]["uri"], loc["physicalLocation"]["region"]["startLine"]


def test_sarif_on_stdin_points_at_the_chart_file_of_each_document():
    log = sarif(input=HELM3)
    one, = [r for r in results(log, "pss/privileged") if "Pod one" in r["message"]["text"]]
    line = line_of(HELM3, "one privileged")
    assert primary(one) == ("web/templates/pods.yaml", line - source_line_before(HELM3, line))
    assert primary(one)[1] == 10  # the 10th line after its `# Source:` comment
    assert related(one) == ("stdin", line)  # the exact place in the rendered stream stays known
    # the second document of the same template file counts from its own `# Source:` line
    two, = results(log, "pss/hostNamespaces")
    line = line_of(HELM3, "two hostNetwork")
    assert primary(two) == ("web/templates/pods.yaml", line - source_line_before(HELM3, line)) == \
        ("web/templates/pods.yaml", 7)
    # a subchart's file
    db, = [r for r in log["runs"][0]["results"] if r["properties"]["path"].endswith("/capabilities/add/0")]
    line = line_of(HELM3, "db SYS_ADMIN")
    assert primary(db) == ("web/charts/db/templates/statefulset.yaml", line - source_line_before(HELM3, line))
    assert related(db) == ("stdin", line)
    # every result has a chart file: no document of the stream lacks its `# Source:`
    assert {primary(r)[0] for r in log["runs"][0]["results"]} == {
        "web/templates/pods.yaml", "web/charts/db/templates/statefulset.yaml"}


def test_sarif_of_a_rendered_file_keeps_the_file_as_the_related_location(tmp_path):
    path = tmp_path / "rendered.yaml"
    path.write_text(HELM3)
    one, = [r for r in results(sarif("-f", str(path)), "pss/privileged") if "Pod one" in r["message"]["text"]]
    assert primary(one) == ("web/templates/pods.yaml", 10)
    assert related(one) == (path.as_uri(), line_of(HELM3, "one privileged"))


def test_helm4_filename_annotation_names_the_chart_file():
    res, = results(sarif(input=HELM4), "pss/privileged")
    # no `# Source:` comment: the resource's first line is line 1
    assert primary(res) == ("web/templates/pod.yaml", line_of(HELM4, "four privileged"))
    assert related(res) == ("stdin", line_of(HELM4, "four privileged"))
    # after another document, the count starts again at the resource's first line
    stream = PLAIN + "---\n" + HELM4
    res, = results(sarif(input=stream), "pss/privileged")
    assert primary(res) == ("web/templates/pod.yaml", line_of(HELM4, "four privileged"))
    assert related(res) == ("stdin", line_of(stream, "four privileged"))


def test_json_and_text_carry_the_chart_file_next_to_the_source():
    out = json.loads(audit("--format", "json", input=HELM3).stdout)
    line = line_of(HELM3, "one privileged")
    f, = [x for x in out["findings"] if x["rule"] == "pss/privileged" and x["name"] == "one"]
    assert (f["source"], f["line"], f["chartFile"], f["chartLine"]) == \
        ("<stdin>", line, "web/templates/pods.yaml", 10)
    res = {r["name"]: r for r in out["resources"]}
    assert (res["one"]["chartFile"], res["one"]["chartLine"]) == ("web/templates/pods.yaml", 1)
    assert (res["two"]["chartFile"], res["two"]["chartLine"]) == ("web/templates/pods.yaml", 2)
    text = audit(input=HELM3).stdout
    hit, = [ln for ln in text.splitlines() if "pss/privileged" in ln and "Pod one" in ln]
    assert hit.startswith(f"<stdin>:{line}: Pod one (document 1, web/templates/pods.yaml:10) [app] pss/privileged:")


def test_without_helm_headers_nothing_changes():
    log = sarif(input=PLAIN)
    assert {primary(r)[0] for r in log["runs"][0]["results"]} == {"stdin"}
    assert not any("relatedLocations" in r for r in log["runs"][0]["results"])
    out = json.loads(audit("--format", "json", input=PLAIN).stdout)
    assert out["findings"] and not any("chartFile" in f for f in out["findings"] + out["resources"])
    assert "(document 0) [a]" in audit(input=PLAIN).stdout


@pytest.mark.parametrize("text", [
    # a `# Source:` comment after the document's first node is no Helm header
    "apiVersion: v1\n# Source: web/templates/x.yaml\nkind: Pod\nmetadata: {name: p}\n"
    "spec: {containers: [{name: a, image: x}]}\n",
    # inside a block scalar
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    note: |\n"
    "      # Source: web/templates/x.yaml\nspec: {containers: [{name: a, image: x}]}\n",
    # not a chart path: a URL, an absolute path, a bare word
    "# Source: https://example.com/x.yaml\n" + PLAIN,
    "# Source: /abs/x.yaml\n" + PLAIN,
    "# Source: handwritten\n" + PLAIN,
])
def test_comments_that_are_no_helm_header_are_ignored(text):
    log = sarif(input=text)
    assert {primary(r)[0] for r in log["runs"][0]["results"]} == {"stdin"}


def test_real_process_on_the_podinfo_chart():
    path = CORPUS / "podinfo.yaml"
    if not path.is_file():
        pytest.skip("corpus not present")
    text = path.read_text()
    p = cli("audit", "--format", "sarif", input=text)
    assert p.returncode == 1, p.stderr
    log = json.loads(p.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    runs = log["runs"][0]["results"]
    assert runs
    for r in runs:
        uri, line = primary(r)
        _, rendered = related(r)
        assert uri.startswith("podinfo/templates/") and uri.endswith(".yaml")
        base = source_line_before(text, rendered)
        assert text.splitlines()[base - 1] == f"# Source: {uri}"
        assert line == rendered - base >= 1


def test_helm4_corpus_uses_the_filename_annotation():
    path = CORPUS / "helm4-ingress-nginx.yaml"
    if not path.is_file():
        pytest.skip("corpus not present")
    log = sarif("-f", str(path))
    uris = {primary(r)[0] for r in log["runs"][0]["results"]}
    assert uris and all(u.startswith("ingress-nginx/templates/") for u in uris)
    assert {related(r)[0] for r in log["runs"][0]["results"]} == {path.as_uri()}


def test_sarif_uris_take_the_charts_folder_in_the_repository():
    """Issue #23 item 7: a chart kept in `charts/` of a repository was named `web/templates/...`
    in SARIF, which code scanning cannot find; --sarif-uri-prefix puts the folder in front
    of every relative URI (and only those: stdin stays stdin)."""
    def uris(*args):
        r = invoke("audit", "--format", "sarif", *args, input=HELM3)
        locs = [res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for res in json.loads(r.stdout)["runs"][0]["results"]]
        related = [rel["physicalLocation"]["artifactLocation"]["uri"]
                   for res in json.loads(r.stdout)["runs"][0]["results"] for rel in res.get("relatedLocations", [])]
        return locs, related

    plain, _ = uris()
    prefixed, related = uris("--sarif-uri-prefix", "charts")
    assert plain and all(u.startswith("web/") for u in plain)
    assert prefixed == ["charts/" + u for u in plain]
    assert set(related) == {"stdin"}
