"""The direct RFC 6902 applier (kube.pointer.apply_op) against the jsonpatch package it replaced:
same result, same refusals, on every add / replace / remove shape."""

import copy

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardener.harden import apply_change
from hardener.kube.pointer import PatchError, apply_patch, escape, unescape
from hardener.results import Change

DOC = {"a": {"b": [1, {"c": 2}], "x/y": {"~k": 3}}, "l": [], "s": "str", "n": None}

TOKENS = st.sampled_from(["a", "b", "c", "l", "s", "n", "x/y", "~k", "0", "1", "2", "01", "-", "z", ""])


@st.composite
def ops(draw):
    path = "".join("/" + escape(t) for t in draw(st.lists(TOKENS, min_size=0, max_size=4)))
    op = draw(st.sampled_from(["add", "replace", "remove"]))
    d = {"op": op, "path": path}
    if op != "remove":
        d["value"] = draw(st.sampled_from([0, "v", None, {"m": [1]}, [True]]))
    return d


def _jsonpatch(doc, patch):
    try:
        return jsonpatch.apply_patch(doc, patch, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError):
        return "refused"


def _ours(doc, patch):
    try:
        return apply_patch(doc, patch)
    except PatchError:
        return "refused"


@settings(max_examples=400, deadline=None)
@given(st.lists(ops(), min_size=1, max_size=3))
def test_same_as_jsonpatch(patch):
    theirs, ours = copy.deepcopy(DOC), copy.deepcopy(DOC)
    expected, got = _jsonpatch(theirs, copy.deepcopy(patch)), _ours(ours, copy.deepcopy(patch))
    assert (expected == "refused") == (got == "refused"), (patch, expected, got)
    if expected != "refused":
        assert ours == theirs


@pytest.mark.parametrize("token", ["", "a", "~", "/", "~0/~1", "a~b/c"])
def test_escape_round_trip(token):
    assert unescape(escape(token)) == token
    import jsonpointer
    assert escape(token) == jsonpointer.escape(token)


def test_apply_change_copies_the_value():
    value = {"capabilities": {"drop": ["ALL"]}}
    data = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    apply_change(data, Change("c", "add", "/spec/containers/0/securityContext", value))
    apply_change(data, Change("c", "add", "/spec/containers/1/securityContext", value))
    apply_change(data, Change("c", "add", "/spec/containers/-", {"name": "c"}))
    a, b = (c["securityContext"] for c in data["spec"]["containers"][:2])
    assert a == b == value and a is not b and a is not value
    assert data["spec"]["containers"][2] == {"name": "c"}
    apply_change(data, Change("c", "remove", "/spec/containers/2"))
    apply_change(data, Change("c", "replace", "/spec/containers/1/name", "bb"))
    assert [c["name"] for c in data["spec"]["containers"]] == ["a", "bb"]
    with pytest.raises(PatchError):
        apply_change(data, Change("c", "replace", "/spec/missing", 1))
