"""Input errors name lines of the file, and the document by its index within that file.

Every line an error message names — its main line, and the "started at" / "first at" lines of
a duplicate key — counts from the top of the file, not of the document. With several inputs
(`-f a.yaml -f b.yaml`, `-f dir/`) the message names the file the error is in and the
document's index within that file (Document.index_in_source), not its index in the joined
stream. Real files in tmp_path, through the CLI (in-process and as a real process)."""

from __future__ import annotations

import re

import pytest

from hardener.errors import InputError
from helpers import cli, invoke

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers: [{name: a, image: x}]\n"

# Document 2 of its file holds a duplicate key; each line a message names carries a marker.
DUPLICATE = f"""\
{CONFIGMAP}---
{POD}---
# a comment line before the body
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: a                # <- mapping starts
    image: nginx           # <- first image
    imagePullPolicy: Always
    image: busybox         # <- second image
"""

# YAML 1.1 reads `on` and `yes` as the same key (true): a duplicate too.
BOOL_KEYS = f"""\
{CONFIGMAP}---
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    on: a                  # <- on
    note: b
    yes: c                 # <- yes
spec:
  containers: [{{name: a, image: x}}]
"""


def line_of(text: str, marker: str) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if ln.endswith(f"# <- {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def error(*args: str, input: str | None = None) -> str:
    r = invoke(*args, input=input)
    assert r.exit_code == 2, (r.output, r.exception)
    assert r.stdout == ""
    return r.stderr


def test_duplicate_key_in_a_later_document_names_file_lines_only(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATE)
    L = lambda m: line_of(DUPLICATE, m)  # noqa: E731
    for args in (("-f", str(path)), ("audit", "-f", str(path))):
        msg = error(*args)
        assert f"{path}, document 2, line {L('second image')}: invalid YAML: " in msg, msg
        assert f"(started at line {L('mapping starts')})" in msg, msg
        assert f"duplicate key 'image' (first at line {L('first image')})" in msg, msg
        # no other line number than those three
        assert set(map(int, re.findall(r"line (\d+)", msg))) == {L("second image"), L("mapping starts"),
                                                                 L("first image")}


def test_duplicate_key_lines_on_stdin_and_with_crlf():
    msg = error(input=DUPLICATE.replace("\n", "\r\n"))
    assert msg.startswith(f"k8s-harden: error: <stdin>, document 2, line {line_of(DUPLICATE, 'second image')}:")
    assert f"(started at line {line_of(DUPLICATE, 'mapping starts')})" in msg
    assert f"(first at line {line_of(DUPLICATE, 'first image')})" in msg


def test_keys_read_as_the_same_value_are_a_duplicate_with_both_lines(tmp_path):
    path = tmp_path / "bool.yaml"
    path.write_text(BOOL_KEYS)
    msg = error("-f", str(path))
    assert f"{path}, document 1, line {line_of(BOOL_KEYS, 'yes')}:" in msg
    assert f"duplicate key 'yes' (first at line {line_of(BOOL_KEYS, 'on')} as 'on': both are read as the key true; quote keys meant as strings)" in msg


def test_the_second_file_is_named_with_its_own_document_index(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"{CONFIGMAP}---\n{POD}---\n{CONFIGMAP}")  # three documents
    b.write_text(DUPLICATE)
    L = lambda m: line_of(DUPLICATE, m)  # noqa: E731
    for args in (("-f", str(a), "-f", str(b)), ("audit", "-f", str(a), "-f", str(b))):
        msg = error(*args)
        assert f"{b}, document 2, line {L('second image')}:" in msg, msg  # not document 5
        assert f"(started at line {L('mapping starts')})" in msg and f"(first at line {L('first image')})" in msg
    # a real process, the same
    p = cli("-f", str(a), "-f", str(b))
    assert p.returncode == 2 and p.stdout == b""
    assert f"{b}, document 2, line {L('second image')}:" in p.stderr.decode()


def test_a_file_without_a_leading_separator_after_another(tmp_path):
    """The joined stream gives the second file's first document a `---` line of its own:
    the lines stay the file's."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(POD)
    body = DUPLICATE.split("---\n", 2)[2]  # starts with the comment, no `---`
    b.write_text(body)
    msg = error("-f", str(a), "-f", str(b))
    assert f"{b}, document 0, line {line_of(body, 'second image')}:" in msg, msg
    assert f"(started at line {line_of(body, 'mapping starts')})" in msg
    assert f"(first at line {line_of(body, 'first image')})" in msg


def test_a_directory_names_the_file_and_its_document(tmp_path):
    d = tmp_path / "rendered"
    (d / "sub").mkdir(parents=True)
    (d / "a.yaml").write_text(f"{POD}---\n{CONFIGMAP}")
    (d / "sub" / "b.yaml").write_text(f"{CONFIGMAP}---\n{POD}")
    (d / "sub" / "c.yaml").write_text(BOOL_KEYS)
    msg = error("-f", str(d))
    assert f"{d / 'sub' / 'c.yaml'}, document 1, line {line_of(BOOL_KEYS, 'yes')}:" in msg, msg


@pytest.mark.parametrize("bad,message", [
    ("a: [1\n", "invalid YAML"),  # a parse error: found by the split
    ("apiVersion: v1\nkind: Pod\nkind: Pod\n", "duplicate top-level key 'kind'"),
    ("apiVersion: v1\nkind: Pod\nmetadata: *nope\n", "undefined alias"),
])
def test_split_errors_in_a_later_file_name_its_own_document(tmp_path, bad, message):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"{POD}---\n{POD}")
    text = f"{CONFIGMAP}---\n{bad}"
    b.write_text(text)
    msg = error("-f", str(a), "-f", str(b))
    assert f"{b}, document 1, line " in msg and message in msg, msg
    line = int(re.search(r"line (\d+)", msg).group(1))
    assert 5 <= line <= len(text.splitlines()) + 1


SKIP_UNKNOWN = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    metadata:
      annotations:
        k8s-harden.io/skip-controls: runAsUser,nope   # <- annotation
    spec:
      containers: [{name: a, image: x}]
"""


def test_unknown_opt_out_names_file_document_and_line_in_the_audit(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(POD)
    text = f"{CONFIGMAP}---\n{SKIP_UNKNOWN}"
    b.write_text(text)
    msg = error("audit", "--profile", "restricted", "-f", str(a), "-f", str(b))
    assert f"{b}, document 1, line {line_of(text, 'annotation')}: Deployment web: annotation " \
           "k8s-harden.io/skip-controls names unknown control(s) nope" in msg, msg


def test_unknown_opt_out_with_the_document_given_to_the_library(tmp_path):
    """harden_document(doc=...) names the file, the document within it and the line (the
    pipeline passes no `doc` yet: its message names only the joined stream's index)."""
    from hardener.harden import harden_document
    from hardener.inputs import Source
    from hardener.kube.workloads import WorkloadTable
    from hardener.pipeline import read
    from hardener.profile import load_profile

    text = f"{CONFIGMAP}---\n{SKIP_UNKNOWN}"
    docs = read([Source("a.yaml", POD), Source("b.yaml", text)]).documents
    doc = docs[-1]
    assert (doc.source, doc.index, doc.index_in_source) == ("b.yaml", 2, 1)
    with pytest.raises(InputError) as info:
        harden_document(doc.load(), doc.index, load_profile("restricted"), WorkloadTable(), (1, 33), doc=doc)
    assert (info.value.source, info.value.document, info.value.line) == ("b.yaml", 1, line_of(text, "annotation"))


def test_index_in_source_counts_within_each_input():
    from hardener.inputs import Source
    from hardener.yamlio import split_sources

    _, docs = split_sources([Source("a", f"{POD}---\n{POD}"), Source("b", CONFIGMAP),
                             Source("c", f"---\n{POD}---\n{CONFIGMAP}")])
    assert [(d.source, d.index, d.index_in_source) for d in docs] == [
        ("a", 0, 0), ("a", 1, 1), ("b", 2, 0), ("c", 3, 0), ("c", 4, 1)]
