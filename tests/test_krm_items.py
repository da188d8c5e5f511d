"""A ResourceList's items cut apart by their text (hardener/yamlio/items.py): each item a
document of its own, the list's other keys a small skeleton. The oracle is the list read
whole and edited as one document (krm.CUT_ITEMS off): the same stdout, stderr and exit
code, where the cut is made and where it is refused; every refusal is a layout the cut
could not move back exactly, and a cut in a wrong place is caught, never written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import yaml

from hardener import krm, yamlio
from hardener.yamlio import items
from tests.helpers import invoke

POD = """\
- apiVersion: v1
  kind: Pod
  metadata:
    name: {name}
  spec:
    containers:
    - name: c
      image: nginx
      ports:
      - containerPort: 80
"""
CM = """\
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: cm
  data:
    a: "1"
"""
HEAD = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"


def _list(*entries: str, head: str = HEAD, tail: str = "") -> str:
    return head + "".join(entries) + tail


def _cut_of(text: str):
    _, docs = yamlio.split_stream(text, "<test>")
    return items.cut(next(d for d in docs if d.kind == "ResourceList"))


def _read_cut(text: str):
    """The cut the ResourceList reader made (its skeleton checked too), or None."""
    from hardener import pipeline
    from hardener.inputs import Source

    return pipeline.read([Source("<test>", text)]).resource_list.cut


def _whole(monkeypatch, text: str):
    with monkeypatch.context() as m:
        m.setattr(krm, "CUT_ITEMS", False)
        return invoke(input=text)


def _same_as_whole(monkeypatch, text: str):
    cut = invoke(input=text)
    whole = _whole(monkeypatch, text)
    assert (cut.exit_code, cut.stdout, cut.stderr) == (whole.exit_code, whole.stdout, whole.stderr)
    if cut.exit_code == 0:
        assert invoke(input=cut.stdout).stdout == cut.stdout  # a second run changes nothing
    return cut


CUT = {
    "plain": _list(POD.format(name="a"), CM, POD.format(name="b")),
    "indented entries": _list(*("".join("  " + ln for ln in e.splitlines(True))
                                for e in (POD.format(name="a").replace("    - ", "      - ").replace(
                                    "      - containerPort", "        - containerPort").replace(
                                    "      image", "        image").replace("      ports", "        ports"),
                                    CM))),
    "wide dash": _list(POD.format(name="a").replace("- ", "-   ", 1).replace("\n  ", "\n    ")),
    "crlf": _list(POD.format(name="a"), CM).replace("\n", "\r\n"),
    "no final break after the list's last key": _list(CM, POD.format(name="a"), tail="# the end, no final line break"),
    "comments and blank lines between entries": _list(
        "# first\n", POD.format(name="a"), "\n# about the next one\n\n", CM, "  # indented\n", POD.format(name="b")),
    "comment inside an entry, at its column": _list(POD.format(name="a").replace("  spec:", "  # the spec\n  spec:")),
    "empty line inside an entry": _list(POD.format(name="a").replace("  spec:", "\n  spec:")),
    "empty lines in a block scalar, crlf": _list(POD.format(name="a").replace(
        "      image: nginx", "      image: nginx\n      args:\n      - |\n        a\n\n\n        b")).replace("\n", "\r\n"),
    "spaces-only line right of the column": _list(POD.format(name="a").replace("  spec:", "     \n  spec:")),
    "block scalar with a dash line": _list(CM.replace('a: "1"', "a: |\n      - not an entry\n      ---\n      x"),
                                           POD.format(name="a")),
    "function config and results after": _list(POD.format(name="a"), tail=(
        "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fc\n  data:\n"
        "    profile: baseline\n")),
    "results before items": HEAD.replace("items:\n", "results: []\nitems:\n") + POD.format(name="a"),
    "an item with no list of its own": _list(
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n  spec: {containers: [{name: c, image: x}]}\n",
        POD.format(name="b")),
    "anchor inside one item": _list(POD.format(name="a").replace("name: a", "name: &n a").replace(
        "image: nginx", "image: nginx\n      workingDir: *n")),
}


@pytest.mark.parametrize("case", sorted(CUT))
def test_the_cut_writes_what_the_whole_list_edit_writes(monkeypatch, case):
    text = CUT[case]
    assert _read_cut(text) is not None, "the cut was refused"
    out = _same_as_whole(monkeypatch, text)
    assert out.exit_code == 0, out.stderr
    data = yaml.safe_load(out.stdout)
    pods = [i for i in data["items"] if i["kind"] == "Pod"]
    assert pods and all(c.get("securityContext") for i in pods for c in i["spec"]["containers"])
    assert data["results"]


REFUSED = {
    # a cut inside a quoted scalar that runs on at the entries' column (PyYAML reads it)
    "quoted scalar across an entry line": _list(CM.replace('a: "1"', 'a: "one\n- two"'), POD.format(name="a")),
    "comment left of the content inside an entry": _list(POD.format(name="a").replace("  spec:", "# x\n  spec:")),
    "a line of just the content column's spaces": _list(POD.format(name="a").replace("  spec:", "  \n  spec:")),
    "whitespace-only line left of the content": _list(POD.format(name="a").replace("  spec:", " \n  spec:")),
    "entries at two dash widths": _list(POD.format(name="a"), CM.replace("- ", "-  ", 1).replace("\n  ", "\n   ")),
    "a flow list": HEAD.replace("items:\n", "items: [{apiVersion: v1, kind: Pod, metadata: {name: p}, "
                                "spec: {containers: [{name: c, image: x}]}}]\n"),
    "dash with its content below": _list("-\n  apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n"
                                         "  spec: {containers: [{name: c, image: x}]}\n"),
    "alias to another item": _list(POD.format(name="a").replace("name: a", "name: &n a"),
                                   POD.format(name="b").replace("name: b", "name: *n")),
    "an entry that is not a mapping": _list("- just a string\n", POD.format(name="a")),
    # whatever the edit puts after the last entry would join its last line (a block scalar's)
    "no final break in the last entry": _list(CM, POD.format(name="a")).rstrip("\n"),
    # its final empty lines are its value, and the cut puts them between the entries
    "keep-chomping scalar": _list(CM.replace('a: "1"', "a: |+\n      x\n\n"), "\n", POD.format(name="a")),
    "a quoted items key": HEAD.replace("items:", '"items":') + POD.format(name="a"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_cut_refuses_is_read_whole(monkeypatch, case):
    text = REFUSED[case]
    assert _cut_of(text) is None
    if case != "an entry that is not a mapping":  # which the whole list's reader refuses
        assert _read_cut(text) is None
    _same_as_whole(monkeypatch, text)


def test_new_lists_of_the_list_follow_its_items_layout(monkeypatch):
    """Where the items' dashes are indented under `items:` but their own lists are not, the
    whole-list edit writes the results as most of the list's lists are (indentless); the
    cut sees the list's own keys only and writes them as its items sequence is (indented).
    Both read as the same data; the items are edited alike."""
    text = _list(*("".join("  " + ln for ln in e.splitlines(True)) for e in (POD.format(name="a"), CM)))
    cut, whole = invoke(input=text), _whole(monkeypatch, text)
    assert yaml.safe_load(cut.stdout) == yaml.safe_load(whole.stdout)
    assert cut.stdout.split("results:")[0] == whole.stdout.split("results:")[0]
    assert "results:\n  - message" in cut.stdout and "results:\n- message" in whole.stdout


def test_a_cut_in_a_wrong_place_is_caught(monkeypatch):
    """The checks are what makes the cut safe: with the entry check gone, the quoted scalar
    that runs on at the entries' column is cut, and its halves are refused by the reader."""
    text = REFUSED["quoted scalar across an entry line"]
    found = _cut_of(text)
    assert found is None
    real = items.split_stream
    calls = []
    monkeypatch.setattr(items, "split_stream", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    assert _cut_of(text) is None and calls, "refused before the documents were read"
    assert '"one\n' in calls[0]  # cut inside the scalar: the reader said no


def test_a_text_that_cannot_be_moved_back_falls_back_to_the_whole_list(monkeypatch):
    """paste refuses a new text that does not start with the entry's key (a rendering the
    cut cannot move back): the writer reads the list whole, and the output is still the
    whole-list edit's."""
    text = CUT["plain"]
    real = yamlio.render_changed

    def with_comment(doc, data, patch):
        out, lost = real(doc, data, patch)
        return (out.replace("---\n", "---\n# moved\n", 1) if doc.parent is not None else out), lost

    monkeypatch.setattr(yamlio, "render_changed", with_comment)
    import hardener.pipeline as pipeline
    monkeypatch.setattr(pipeline.yamlio, "render_changed", with_comment)
    out = invoke(input=text)
    assert out.exit_code == 0, out.stderr
    monkeypatch.setattr(krm, "CUT_ITEMS", False)
    assert out.stdout == invoke(input=text).stdout


def test_items_are_documents_with_their_lines_in_the_input():
    text = _list(POD.format(name="a"), CM, "\n\n", POD.format(name="b"))
    found = _cut_of(text)
    assert [d.kind for d in found.docs] == ["Pod", "ConfigMap", "Pod"]
    assert [d.pointer for d in found.docs] == ["/items/0", "/items/1", "/items/2"]
    lines = text.splitlines()
    for d in found.docs:
        first = d.first_line + 1  # the line after its `---` line
        assert lines[first - 1].startswith("- apiVersion"), (d.index, first)
    assert found.skeleton.count(items.MARKER) == 1
    assert "ConfigMap" not in found.skeleton


def test_an_error_in_an_item_names_its_line_in_the_input():
    bad = POD.format(name="a").replace("    name: a", "    name: a\n    name: b")  # a duplicate key
    text = _list(CM, bad)
    out = invoke(input=text)
    assert out.exit_code == 2 and not out.stdout
    line = text.splitlines().index("    name: b") + 1
    assert f"line {line}" in out.stderr or f":{line}" in out.stderr, out.stderr


def test_items_are_judged_as_the_same_documents_in_a_stream(monkeypatch):
    """Read whole, the list's items had no text of their own, so what is found in a
    document's text passed them by: an unknown kind's pod template (reported in a stream,
    silent in a ResourceList). Cut, an item is a document like a stream's."""
    from pathlib import Path

    stream = (Path(__file__).parent / "cases" / "crd-unknown-kind-reported-not-changed" / "input.yaml").read_text()
    text = yaml.safe_dump({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                           "items": [d for d in yaml.safe_load_all(stream) if d]}, sort_keys=False)
    plain = invoke(input=stream)
    assert "Batch nightly (document 0): 0 change(s), 1 skipped" in plain.stderr
    out = invoke(input=text)
    assert "Batch nightly (document 0, items/0): 0 change(s), 1 skipped" in out.stderr
    assert "unknown-workload" in out.stdout  # and a KRM result says so


ENTRIES = [POD.format(name="a"), CM, POD.format(name="b").replace("  spec:", "  # the spec\n  spec:"),
           CM.replace('a: "1"', "a: |\n      - x\n\n      y"), "# between\n", "\n",
           POD.format(name="c").replace("image: nginx", "image: 'nginx' # quoted"),
           CM.replace('a: "1"', "a: |+\n      kept\n\n"), CM.replace('a: "1"', "a: >-\n      folded\n      text")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.sampled_from(range(len(ENTRIES))), min_size=1, max_size=6),
       indent=st.sampled_from([0, 2]), crlf=st.booleans(), final_break=st.booleans(),
       after=st.sampled_from(["", "functionConfig:\n  a: b\n", "# the end\n"]))
def test_any_list_of_entries_gives_the_whole_list_edit(monkeypatch, picks, indent, crlf, final_break, after):
    """Property: lists made of entries with comments, blank lines and block scalars between
    and inside, at either column, CRLF or not, with or without a final line break: the cut
    (wherever it is made) writes what the whole-list edit writes, and a second run changes
    nothing."""
    entries = [ENTRIES[i] for i in picks]
    if not any(e.startswith("-") for e in entries):
        entries.append(CM)
    body = "".join(entries)
    if indent:
        body = "".join(" " * indent + ln if ln.strip() else ln for ln in body.splitlines(True))
    text = HEAD + body + after
    if not final_break:
        text = text.rstrip("\n")
    if crlf:
        text = text.replace("\n", "\r\n")
    if not indent:
        _same_as_whole(monkeypatch, text)
        return
    # dashes indented under `items:`, the items' own lists not: the results' layout is the
    # list's own (test_new_lists_of_the_list_follow_its_items_layout); all else the same
    cut, whole = invoke(input=text), _whole(monkeypatch, text)
    assert (cut.exit_code, cut.stderr) == (whole.exit_code, whole.stderr)
    assert cut.stdout.split("results:")[0] == whole.stdout.split("results:")[0]
    assert yaml.safe_load(cut.stdout) == yaml.safe_load(whole.stdout)
    assert invoke(input=cut.stdout).stdout == cut.stdout
