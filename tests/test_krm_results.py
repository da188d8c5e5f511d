"""A KRM function's results: written by yamlio.blocks as a list of mappings, each distinct
entry proven once (not the whole 10 MB block read back), and spliced where the edit left a
placeholder. What it writes must be what the careful path writes (the whole list edited and
read back), byte for byte, and every proof must fail on a rendering that does not read back."""

from __future__ import annotations

import pytest
import yaml

from hardener import krm
from hardener.yamlio import blocks, snippets
from hardener.yamlio.blocks import Blocks
from hardener.yamlio.load import load_text
from tests.helpers import CORPUS_FILES, invoke


def _resource_list(docs: list, **extra) -> str:
    return yaml.safe_dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                           "items": docs, **extra}, sort_keys=False)


def _corpus_lists() -> list[tuple[str, str]]:
    out = []
    for path in CORPUS_FILES:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError:
            continue
        if docs and all(isinstance(d, dict) for d in docs):
            out.append((path.name, _resource_list(docs)))
    return out


@pytest.fixture
def fresh(monkeypatch):
    """Empty renderings and proofs: a test that breaks the renderer leaves nothing behind."""
    monkeypatch.setattr(snippets, "MEMO", {})
    monkeypatch.setattr(blocks, "_PROVEN", {})
    monkeypatch.setattr(blocks, "_PAIRS", {})


@pytest.fixture
def fast_path(monkeypatch):
    """Counts the lists :meth:`ResourceList._with_results` wrote (None: it left them)."""
    taken = {"written": 0, "left": 0}
    real = krm.ResourceList._with_results

    def counted(self, doc, ops, results):
        text = real(self, doc, ops, results)
        taken["written" if text is not None else "left"] += 1
        return text

    monkeypatch.setattr(krm.ResourceList, "_with_results", counted)
    return taken


def _careful(monkeypatch, *args, input):
    """The CLI's answer by the careful path: the list read whole (its items not cut apart)
    and edited as one document, the results with it, read back."""
    with monkeypatch.context() as m:
        m.setattr(krm, "CUT_ITEMS", False)
        m.setattr(krm.ResourceList, "_with_results", lambda self, doc, ops, results: None)
        return invoke(*args, input=input)


RESULTS = [
    {"message": "privileged: no privileged mode (container app)", "severity": "info",
     "resourceRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "a", "namespace": "on"},
     "field": {"path": "spec.template.spec.containers[0].securityContext",
               "proposedValue": {"privileged": False, "capabilities": {"drop": ["ALL"]}}},
     "tags": {"k8s-harden.io/control": "privileged", "k8s-harden.io/op": "add"}},
    {"message": "runAsUser: 1000", "severity": "info", "field": {"path": "x", "proposedValue": 1000},
     "file": {"path": "app/d.yaml", "index": 0}},
    {"message": "yes", "count": 1.0, "flag": True, "none": None, "list": [1, "1", [True]], "0755": "0755"},
]


@pytest.mark.parametrize("step,seq_indent", [(2, 0), (2, 2), (4, 2), (3, 0)])
@pytest.mark.parametrize("col", [0, 2])
def test_mapping_list_writes_what_lines_writes(fresh, step, seq_indent, col):
    """The same lines as Blocks.lines (what the careful path inserts), and they read back."""
    writer = Blocks(step, seq_indent)
    items = RESULTS * 3 + [dict(RESULTS[0], resourceRef=dict(RESULTS[0]["resourceRef"], name=f"n{i}"))
                           for i in range(5)]
    text = writer.mapping_list(items, col, "\n")
    assert text == "".join(line + "\n" for line in writer.lines(items, col))
    assert load_text("k:\n" + text if col else text) == ({"k": items} if col else items)
    assert writer.mapping_list(items, col, "\r\n") == text.replace("\n", "\r\n")  # proven now: from _PAIRS


def test_mapping_list_proves_what_an_earlier_list_did_not(fresh):
    """Entries proven for one list are reused by the next; new ones are proven then."""
    writer = Blocks(2, 0)
    assert writer.mapping_list(RESULTS[:1], 0, "\n") is not None
    proven = len(blocks._PAIRS)
    assert writer.mapping_list(RESULTS, 0, "\n") == "".join(line + "\n" for line in writer.lines(RESULTS, 0))
    assert len(blocks._PAIRS) > proven


@pytest.mark.parametrize("items", [
    [{"message": "on"}],  # a plain scalar that YAML 1.1 reads as a boolean
    [{"ref": {"name": "on"}}],  # the same inside a mapping value (proven by its parts)
    [{"tags": [{"a": "on"}]}],  # inside a list (read back whole)
])
def test_a_scalar_that_does_not_read_back_is_not_proven(fresh, monkeypatch, items):
    """Each proof reads back what it wrote: a scalar rendering that drops the quotes YAML
    needs (`on` written plainly) makes the list unproven (None: the careful path then)."""
    monkeypatch.setattr(blocks, "scalar_lines", lambda value: [str(value)])
    assert Blocks(2, 0).mapping_list(items, 0, "\n") is None


@pytest.mark.parametrize("items", [
    [{"on": "x"}],  # an entry's key
    [{"on": {"name": "x"}}],  # the key of a mapping value (its `key:` line alone)
    [{"ref": {"on": "x"}}],  # a key inside a mapping value
])
def test_a_key_that_does_not_read_back_is_not_proven(fresh, monkeypatch, items):
    monkeypatch.setattr(blocks, "key_text", lambda key: key)
    assert Blocks(2, 0).mapping_list(items, 0, "\n") is None


@pytest.mark.parametrize("items", [
    [{"message": "two\nlines"}],  # a block scalar: its lines depend on the column
    [{"ref": {"script": "a\nb"}}],
    [{"empty": {}}], [{"empty": []}], [{}], ["not a mapping"], [{1: "int key"}],
])
def test_what_mapping_list_does_not_write(fresh, items):
    assert Blocks(2, 0).mapping_list(items, 0, "\n") is None


@pytest.mark.parametrize("name,text", _corpus_lists())
def test_results_written_as_the_careful_path_writes_them(monkeypatch, fast_path, name, text):
    """Every corpus render as a ResourceList: the same bytes as the whole-list edit."""
    careful = _careful(monkeypatch, input=text)
    fast = invoke(input=text)
    assert (fast.exit_code, fast.stdout, fast.stderr) == (careful.exit_code, careful.stdout, careful.stderr)
    if "results:" in fast.stdout:
        assert fast_path["written"] == 1, fast_path
        assert invoke(input=fast.stdout).stdout == fast.stdout  # a second run changes nothing


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
THEIRS = {"message": "kept as it came", "severity": "info", "tags": {"other.io/fn": "x"}}


@pytest.mark.parametrize("case", ["crlf", "no-final-break", "results-before-items", "ours-earlier",
                                  "indented", "function-config-after"])
def test_the_placeholder_is_replaced_in_every_layout(monkeypatch, fast_path, case):
    text = _resource_list([POD])
    if case == "crlf":
        text = text.replace("\n", "\r\n")
    elif case == "no-final-break":
        text = text.rstrip("\n")
    elif case == "results-before-items":
        text = text.replace("items:", "results: []\nitems:")
    elif case == "ours-earlier":  # results of an earlier run of ours, for items changed since
        earlier = invoke(input=text).stdout
        text = earlier.split("results:")[0] + "results:" + earlier.split("results:")[1].replace(
            "add", "replace", 1)
        text = text.replace("privileged: false", "privileged: true", 1)
    elif case == "indented":
        text = "".join("  " + line if line else line for line in text.splitlines(True))
    elif case == "function-config-after":
        text += "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n"
    careful = _careful(monkeypatch, input=text)
    fast = invoke(input=text)
    assert fast.exit_code == 0, fast.stderr
    assert (fast.stdout, fast.stderr) == (careful.stdout, careful.stderr)
    assert fast_path["written"] == 1, fast_path
    out = yaml.safe_load(fast.stdout)
    assert [r["severity"] for r in out["results"]] and out["items"][0]["spec"]["securityContext"]
    assert invoke(input=fast.stdout).stdout == fast.stdout


@pytest.mark.parametrize("case", ["theirs", "placeholder-in-input", "json", "flow-results"])
def test_the_careful_path_where_the_placeholder_cannot_serve(monkeypatch, fast_path, case):
    """Another function's results (kept as they came), an input that holds the placeholder's
    text, a JSON ResourceList, flow-style results (kept in flow style): the whole list is
    edited instead."""
    text = _resource_list([POD])
    if case == "theirs":
        text += "results:\n- message: kept as it came   # a comment\n  severity: info\n"
    elif case == "placeholder-in-input":
        text += "# " + krm._PLACEHOLDER + "\n"
    elif case == "json":
        import json

        text = json.dumps(yaml.safe_load(text))
    elif case == "flow-results":
        text += "results: [{message: earlier, tags: {k8s-harden.io/control: x}}]\n"
    fast = invoke(input=text)
    assert fast.exit_code == 0, fast.stderr
    assert fast.stdout == _careful(monkeypatch, input=text).stdout
    out = yaml.safe_load(fast.stdout)
    assert out["items"][0]["spec"]["securityContext"] and out["results"]
    if case == "theirs":
        assert fast_path == {"written": 0, "left": 0}  # not even asked
        assert "- message: kept as it came   # a comment\n" in fast.stdout
    else:
        assert fast_path == {"written": 0, "left": 1}
