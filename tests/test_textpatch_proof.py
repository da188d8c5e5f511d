"""Edits proven by construction (yamlio/textpatch `_Patcher.proven`) against the careful path.

patch_text skips reading a result back when every edit was an insertion of a shape it
proves (new keys after the last line of a block mapping, every scalar and key rendering
read back once), and writes ops that only add keys straight from the nodes
(`_Patcher.insert`, no diff of the data before and after). These tests read every proven
result back anyway and compare it with the planned data, compare every direct insertion
with the diff's text, over the corpus, the hostile-input files and the examples under every
built-in profile, and show that each check catches a wrong result.
"""

from __future__ import annotations

import pytest
import yaml

from hardener import pipeline, yamlio
from hardener.inputs import Source
from hardener.options import build_options
from hardener.yamlio import blocks, snippets, textpatch
from hardener.yamlio.likeness import same
from hardener.yamlio.load import rebuild
from tests.helpers import CORPUS_FILES, REPO, ProofChecks

HOSTILE = sorted((REPO / "tests" / "hostile").glob("*.yaml"))
EXAMPLES = sorted((REPO / "examples").rglob("*.yaml"))


def ProofCheck(monkeypatch):
    return ProofChecks(monkeypatch.setattr)


InsertCheck = ProofCheck


def _fresh_memos(monkeypatch):
    """Empty renderings and proofs for a test that breaks the renderer: what it renders
    must not stay memoised for the tests after it."""
    fresh: dict = {}
    monkeypatch.setattr(snippets, "MEMO", fresh)  # the scalar and key renderings
    monkeypatch.setattr(textpatch, "MEMO", fresh)  # the block renderings, same table
    monkeypatch.setattr(blocks, "_PROVEN", {})
    monkeypatch.setattr(blocks, "_PAIRS", {})


def _harden(path, profile="restricted", lean=False):
    """`lean`: the CLI's path, where documents keep their nodes until rendered."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    opts = build_options(profile=profile, emit="none")
    try:
        if lean:
            return pipeline.run_stream(pipeline.read([Source(path.name, text)]), opts, lean=True)
        return pipeline.run([Source(path.name, text)], opts)
    except Exception:  # noqa: BLE001 - refused input (a hostile file): nothing was edited
        return None


@pytest.mark.parametrize("profile", ["restricted", "baseline", "strict"])
def test_direct_insertions_write_what_the_diff_writes(monkeypatch, profile):
    check = InsertCheck(monkeypatch)
    for path in CORPUS_FILES + HOSTILE + EXAMPLES:
        _harden(path, profile, lean=True)
    assert not check.wrong, check.wrong[0]
    assert check.direct > (100 if profile == "restricted" else 0), check.direct


def test_the_insert_check_catches_a_wrong_order(monkeypatch):
    """Direct insertions written parents first (the diff writes a nested mapping's new keys
    before its parent's at the same offset): the comparison must see it."""
    check = InsertCheck(monkeypatch)
    monkeypatch.setattr(textpatch, "_insertion_order", lambda insert: (insert[0], insert[1]))
    text = "spec:\n  containers:\n  - name: a\n"
    root, _ = textpatch.compose_text(text)
    new = {"spec": {"containers": [{"name": "a", "securityContext": {"x": 1}}], "securityContext": {"y": 2}}}
    ops = [{"op": "add", "path": "/spec/containers/0/securityContext", "value": {"x": 1}},
           {"op": "add", "path": "/spec/securityContext", "value": {"y": 2}}]
    result = textpatch.patch_text(text, ops, new, root=root, rebuild=rebuild)
    assert check.direct == 1 and check.wrong == [(result, check.wrong[0][1])]
    assert result == "spec:\n  containers:\n  - name: a\n  securityContext:\n    y: 2\n    securityContext:\n      x: 1\n"


@pytest.mark.parametrize("profile", ["restricted", "baseline", "strict"])
def test_every_proven_edit_reads_back_as_planned(monkeypatch, profile):
    check = ProofCheck(monkeypatch)
    for path in CORPUS_FILES + HOSTILE + EXAMPLES:
        _harden(path, profile)
    assert not check.wrong, check.wrong[0]
    # both paths are taken on real manifests: the proof is no dead code, nor the read-back
    assert check.proven > (100 if profile == "restricted" else 0) and check.careful > 0, (check.proven, check.careful)


def test_the_check_catches_a_wrong_proof(monkeypatch):
    """A proof that trusted a block's rendering without reading it back: `on` written
    plainly is a YAML 1.1 boolean. The check must see the wrong result."""
    check = ProofCheck(monkeypatch)
    _fresh_memos(monkeypatch)
    monkeypatch.setattr(textpatch._Patcher, "_block_reads_back", lambda self, added: True)
    monkeypatch.setattr(blocks, "key_text", lambda key: key)
    text = "a:\n  s: 1\nb: 1\n"
    result = textpatch.patch_text(text, [{"op": "add", "path": "/a/on", "value": 1}])
    assert check.proven == 1 and [w[0] for w in check.wrong] == [result]
    assert yamlio.load_text(result)["a"] == {"s": 1, True: 1}


@pytest.mark.parametrize("text, ops", [
    # the last leaf is a block scalar: its kept trailing lines would move
    ("a:\n  s: |+\n    x\n\nb: 1\n", [{"op": "add", "path": "/a/t", "value": 1}]),
    ("a:\n  s: >\n    x\nb: 1\n", [{"op": "add", "path": "/a/t", "value": 1}]),
    # line breaks the edits do not count (CR alone, NEL) and non-ASCII text
    ("a:\r  s: 1\rb: 1\r", [{"op": "add", "path": "/a/t", "value": 1}]),
    ("a:\n  s: \"\u00e9\"\nb: 1\n", [{"op": "add", "path": "/a/t", "value": 1}]),
    # a multi-line string, an empty collection: not of the proven shapes
    ("a:\n  s: 1\nb: 1\n", [{"op": "add", "path": "/a/t", "value": "x\ny"}]),
    ("a:\n  s: 1\nb: 1\n", [{"op": "add", "path": "/a/t", "value": {}}]),
    # no line break at the end; aliases; other edit kinds
    ("a:\n  s: 1", [{"op": "add", "path": "/a/t", "value": 1}]),
    ("x: &x 1\na:\n  s: *x\nb: 1\n", [{"op": "add", "path": "/a/t", "value": 1}]),
    # keys that do not start their line: an explicit `? key`, a key on the `---` line
    ("m:\n  ? a\n  : 1\nz: 2\n", [{"op": "add", "path": "/m/x", "value": 1}]),
    ("--- a: 1\nb: 2\n", [{"op": "add", "path": "/x", "value": 1}]),
    # merge keys: the constructor splices the merged nodes into the mapping
    ("a: {b: 1}\nc:\n  <<: {d: 1}\n", [{"op": "add", "path": "/c/e", "value": 1}]),
    ("a: {b: 1}\nc:\n  !!merge x: {d: 1}\n", [{"op": "add", "path": "/c/e", "value": 1}]),
    ("a:\n  s: 1\nb: 1\n", [{"op": "replace", "path": "/a/s", "value": 2}]),
    ("a:\n  s: 1\n  u: 2\nb: 1\n", [{"op": "remove", "path": "/a/s"}]),
    ("a: {s: 1}\nb: 1\n", [{"op": "add", "path": "/a/t", "value": 1}]),
])
def test_shapes_outside_the_proof_are_read_back(monkeypatch, text, ops):
    check = ProofCheck(monkeypatch)
    result = textpatch.patch_text(text, ops)
    assert check.proven == 0 and not check.wrong
    if result is not None:
        from hardener.kube.pointer import apply_patch

        assert same(yamlio.load_text(result), apply_patch(yamlio.load_text(text), ops))


@pytest.mark.parametrize("value", ["on", "yes", "~", "0755", "1e3", "- x", "a: b", "#x", "", True, 0, 1.5, None,
                                   ["ALL"], {"type": "RuntimeDefault"}, [{"name": "a", "v": [1, "2"]}]])
def test_proven_insertions_of_look_alikes_read_back(monkeypatch, value):
    """Scalars YAML 1.1 would misread, keys and nested collections: proven only through
    their renderings, read back once; the result is what was planned."""
    check = ProofCheck(monkeypatch)
    text = "spec:\n  containers:\n  - name: app\n    image: x\n  volumes: []\n"
    ops = [{"op": "add", "path": "/spec/containers/0/new", "value": value}]
    result = textpatch.patch_text(text, ops)
    assert result is not None and check.proven == 1 and not check.wrong
    assert yamlio.load_text(result)["spec"]["containers"][0]["new"] == value


@pytest.mark.parametrize("text, ops", [
    ("a:\n  s: 1\nb: 1\n", [{"op": "replace", "path": "/a/s", "value": 2}]),
    ("a:\n  s: 1\nb: 1\n", [{"op": "add", "path": "/a/s", "value": 2}]),  # exists: replaces
    ("a:\n  s: 1\n  u: 2\n", [{"op": "remove", "path": "/a/s"}]),
    ("a:\n- 1\n", [{"op": "add", "path": "/a/-", "value": 2}]),  # a list item: the diff's
    ("a:\n- 1\n", [{"op": "add", "path": "/a/0", "value": 2}]),
    ("a: {s: 1}\n", [{"op": "add", "path": "/a/t", "value": 1}]),  # flow mapping
    ("a:\n  1: x\n", [{"op": "add", "path": "/a/1/t", "value": 1}]),  # key `1` is an int
    ("a:\n  s: |\n    x\n", [{"op": "add", "path": "/a/t", "value": 1}]),  # block scalar last
    ("a: x\n", [{"op": "add", "path": "/a/t", "value": 1}]),  # a scalar on the way
])
def test_other_ops_are_left_to_the_diff(monkeypatch, text, ops):
    from hardener.kube.pointer import apply_patch

    check = InsertCheck(monkeypatch)
    root, old = textpatch.compose_text(text)
    try:
        new = apply_patch(yamlio.load_text(text), ops)
    except Exception:  # noqa: BLE001 - an op the applier refuses: patch_text answers None too
        new = None
    assert textpatch._Patcher(text, root).insert(ops, new) is None
    if new is not None:
        assert textpatch.patch_text(text, ops, new, root=root, rebuild=rebuild) == textpatch.patch_text(text, ops, new)
    assert check.direct == 0


def test_a_block_that_does_not_read_back_is_not_proven(monkeypatch):
    """The proof's own read-back: a key rendering YAML 1.1 misreads (`on` unquoted) makes the
    block unproven, so the whole result is read back (and refused: re-emitted instead)."""
    check = ProofCheck(monkeypatch)
    _fresh_memos(monkeypatch)
    monkeypatch.setattr(blocks, "key_text", lambda key: key)
    text = "a:\n  s: 1\nb: 1\n"
    root, _ = textpatch.compose_text(text)
    assert textpatch._Patcher(text, root)._block_reads_back({"on": 1}) is False
    assert textpatch._Patcher(text, root)._block_reads_back({"off_": 1}) is True
    assert textpatch.patch_text(text, [{"op": "add", "path": "/a/on", "value": 1}]) is None
    assert check.proven == 0



def test_an_explicit_key_is_never_proven(monkeypatch):
    """`? a` / `: 1`: the key's column is not the mapping's, and new keys written there would
    be more indented than the `:` line (invalid YAML). Neither path proves it; the read-back
    refuses the edit (the document is re-emitted instead)."""
    check = ProofCheck(monkeypatch)
    text = "m:\n  ? a\n  : 1\nz: 2\n"
    root, _ = textpatch.compose_text(text)
    new = {"m": {"a": 1, "x": 1}, "z": 2}
    ops = [{"op": "add", "path": "/m/x", "value": 1}]
    assert textpatch.patch_text(text, ops, new, root=root, rebuild=rebuild) is None
    assert textpatch.patch_text(text, ops, new) is None
    assert check.proven == check.direct == 0


def test_an_anchored_key_is_proven_at_the_anchor_column(monkeypatch):
    check = ProofCheck(monkeypatch)
    text = "m:\n  &k a: 1\nz: 2\n"
    root, _ = textpatch.compose_text(text)
    new = {"m": {"a": 1, "x": 1}, "z": 2}
    result = textpatch.patch_text(text, [{"op": "add", "path": "/m/x", "value": 1}], new, root=root,
                                  rebuild=rebuild)
    assert result == "m:\n  &k a: 1\n  x: 1\nz: 2\n" and check.direct == 1 and not check.wrong


@pytest.mark.parametrize("text", [
    "a: !!str 1\n", "a: !t x\n", "- !t x\n", "a: [b,!t c]\n", "a: {b: !t c}\n", '{"b":!t c}\n',
    "!t\na: 1\n", "--- !t\na: 1\n", "a: &x 1\nb: *x\n", "a: &x 1\nb: [c,*x]\n", "a:\n  <<: {b: 1}\n",
    "? !t a\n: 1\n",
])
def test_a_tag_an_alias_or_a_merge_key_makes_the_nodes_unplain(text):
    """Where a tag, an alias or a merge key can start a node, the patcher does not take the
    nodes as the data's mirror (textpatch._NODE_PROPERTY; yaml.scanner fetch_tag / fetch_alias
    start a token after whitespace, a flow indicator or a line start)."""
    from hardener.yamlio.load import compose_text

    try:
        root, _ = compose_text(text)
    except Exception:  # noqa: BLE001 - an unknown tag or alias: not composable, not this test's
        root = yaml.compose(text, Loader=yaml.BaseLoader)
    assert not textpatch._Patcher(text, root).plain_nodes


@pytest.mark.parametrize("text", [
    "run.sh: '#!/bin/sh\n\n  set -e\n'\n", "glob: a*.conf\n", "msg: hi!\n", "shift: a<<b\n",
    'cmd: ["sh", "-c", "echo hi!"]\n',
])
def test_the_same_characters_inside_a_scalar_keep_the_nodes_plain(text):
    """`#!/bin/sh` in a script or `*.conf` in a pattern is scalar text, mirrored as it is:
    such documents keep the proven path."""
    from hardener.yamlio.load import compose_text

    root, _ = compose_text(text)
    assert textpatch._Patcher(text, root).plain_nodes
