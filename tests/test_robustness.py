"""Hostile and broken input through the real CLI: a clear error (exit 2, one line naming the
document and line, EMPTY stdout) or the stream passed through -- never a traceback, a hang
or half a stream.

The inputs live in tests/hostile/ (byte-exact: see its .gitattributes); the expected outcome
of each is in the tables below. Big inputs (100 MB, deep nesting) are generated at test time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "hostile"
ERROR_LINE = re.compile(r"^k8s-harden: error: .+$")


# --------------------------------------------------------------------------- running the CLI
@dataclass
class Result:
    rc: int
    out: bytes
    err: str
    seconds: float
    rss: int | None  # peak resident set size of the k8s-harden process, bytes (if measured)


# A child's peak RSS on Linux starts at its parent's RSS when forked: GNU time, a small
# process, starts k8s-harden so that the peak measured is k8s-harden's own.
TIME = shutil.which("time", path="/usr/bin:/bin") if sys.platform.startswith("linux") else None


def timed_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
           env: dict | None = None, timeout: float = 120, rss: bool = False) -> Result:
    """Run `python -m hardener ARGS`; its time, and with rss=True its peak RSS."""
    import tempfile

    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr, tempfile.NamedTemporaryFile("r") as frss:
        if stdin is not None:
            fin.write(stdin)
            fin.seek(0)
        cmd = [sys.executable, "-m", "hardener", *args]
        if rss and TIME:
            cmd = [TIME, "-f", "%M", "-o", frss.name, *cmd]
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=fin, stdout=fout,
                             stderr=ferr, cwd=cwd or REPO, env={**os.environ, **(env or {})})
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                pytest.fail(f"k8s-harden {' '.join(args)} did not finish in {timeout} s (a hang?)")
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        peak = None
        if rss and TIME:
            lines = [ln for ln in frss.read().splitlines() if ln.strip().isdigit()]
            peak = int(lines[-1]) * 1024 if lines else None
        return Result(p.returncode, fout.read(), ferr.read().decode("utf-8", "replace"), seconds,
                      peak)


def assert_clean(r: Result) -> None:
    """What every run owes the user: no traceback, and on exit 2 nothing on stdout."""
    assert "Traceback" not in r.err, r.err
    assert "internal error" not in r.err, r.err
    assert r.rc in (0, 2), (r.rc, r.err)
    if r.rc == 2:
        assert r.out == b"", "a failed run must write nothing to stdout"
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and ERROR_LINE.match(lines[0]), r.err


def assert_error(r: Result, pattern: str) -> None:
    assert_clean(r)
    assert r.rc == 2, f"expected exit 2, got {r.rc}: {r.err}"
    assert re.search(pattern, r.err), f"{pattern!r} not in {r.err!r}"


def docs_of(out: bytes) -> list:
    return list(yaml.load_all(out.decode("utf-8"), Loader=yaml.CSafeLoader))


def hardened(doc: dict) -> bool:
    """A Pod, or a resource whose pod template, carries the restricted pod securityContext."""
    spec = doc.get("spec") or {}
    if doc.get("kind") != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    sc = spec.get("securityContext") or {}
    return sc.get("runAsNonRoot") is True and (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault"


def segments(text: bytes) -> list[bytes]:
    """A stream cut at column-0 `---` lines (the separator stays with the document after it)."""
    parts = re.split(rb"(?m)^(?=---(?:[ \t]|\r?$))", text)
    return [p for p in parts if p]


# --------------------------------------------------------------------------- the hostile corpus
@dataclass
class Case:
    file: str
    error: str | None = None  # regex the one-line error must match (exit 2)
    unchanged: bool = False  # exit 0 and stdout byte-for-byte the input
    check: Callable[[bytes, bytes], None] | None = field(default=None, repr=False)  # (input, output)


def _bom_pod(src: bytes, out: bytes) -> None:
    assert out.startswith(b"\xef\xbb\xbf"), "the BOM is written back"
    assert hardened(docs_of(out[3:])[0])


def _crlf(src: bytes, out: bytes) -> None:
    assert b"\n" not in out.replace(b"\r\n", b""), "every line break stays CRLF"
    a, b = segments(src), segments(out)
    assert len(a) == len(b) == 3
    assert b[0] == a[0] and b[2] == a[2], "unchanged documents are byte-for-byte the input"
    assert b[1] != a[1] and hardened(docs_of(b[1])[0])


def _utf8(src: bytes, out: bytes) -> None:
    assert segments(out)[0] == segments(src)[0]
    cm, pod = docs_of(out)
    assert cm["data"]["greeting"] == "héllo wörld – 日本語 😀"
    assert pod["spec"]["containers"][0]["name"] == "wéb" and hardened(pod)


def _list_items(src: bytes, out: bytes) -> None:
    items = docs_of(out)[0]["items"]
    assert items[:4] == [1, "just text", None, ["a", "b"]]
    assert hardened(items[4])


def _containers_null(src: bytes, out: bytes) -> None:
    pod = docs_of(out)[0]
    assert pod["spec"]["containers"] is None


def _containers_not_mappings(src: bytes, out: bytes) -> None:
    pod = docs_of(out)[0]
    assert pod["spec"]["containers"] == [1, "just text", ["x"], None]


def _reparses(src: bytes, out: bytes) -> None:
    docs_of(out)


def _anchors(src: bytes, out: bytes) -> None:
    events = list(yaml.parse(out.decode(), Loader=yaml.CSafeLoader))
    assert not any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in events), \
        "no &anchors / *aliases written"
    dep = docs_of(out)[0]
    a, b = dep["spec"]["template"]["spec"]["containers"]
    assert a["env"] == b["env"] == [{"name": "MODE", "value": "prod"}]
    assert a["securityContext"]["allowPrivilegeEscalation"] is False
    assert b["securityContext"]["allowPrivilegeEscalation"] is False
    assert hardened(dep) and dep["metadata"]["labels"] == {"app": "shared"}


def _merge(src: bytes, out: bytes) -> None:
    assert b"<<" not in out
    a, b = docs_of(out)[0]["spec"]["containers"]
    assert (b["name"], b["image"], b["imagePullPolicy"]) == ("b", "x", "Always")
    assert a["securityContext"]["capabilities"] == b["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def _triple_dash(src: bytes, out: bytes) -> None:
    a, b = segments(src), segments(out)
    assert b[0] == a[0], "the ConfigMap with `---` inside its block scalars is untouched"
    cm, pod = docs_of(out)
    assert cm["data"]["doc.yaml"].startswith("---\nkind: Pod\n...\n--- not a separator")
    assert hardened(pod)


def _all_hardened(count: int) -> Callable[[bytes, bytes], None]:
    def check(src: bytes, out: bytes) -> None:
        docs = [d for d in docs_of(out) if d is not None]
        assert len(docs) == count and all(hardened(d) for d in docs), docs
    return check


def _directive(src: bytes, out: bytes) -> None:
    assert out.startswith(src[:src.index(b"# between")]), "directive + ConfigMap untouched"
    assert hardened(docs_of(out)[1])


def _no_trailing_newline(src: bytes, out: bytes) -> None:
    assert not src.endswith(b"\n")
    assert out.endswith(segments(src)[-1]), "the last, unchanged document is kept exactly"
    assert hardened(docs_of(out)[0])


CASES = [
    # ---- invalid YAML, at several positions: exit 2 naming the document and the line
    Case("invalid-first-document.yaml", error=r"invalid-first-document\.yaml, document 0, line 4: invalid YAML"),
    Case("invalid-middle-document.yaml", error=r"document 1, line 13: invalid YAML"),
    Case("invalid-last-document-unterminated-quote.yaml", error=r"document 2, line 22: invalid YAML: .*quoted scalar"),
    Case("invalid-after-workloads.yaml", error=r"document 2, line 29: invalid YAML"),
    Case("invalid-mapping-in-scalar.yaml", error=r"document 0, line 4: invalid YAML: mapping values are not allowed"),
    Case("tab-indentation.yaml", error=r"document 0, line 4: invalid YAML: .*\(a tab"),
    Case("whitespace-tab-line.yaml", error=r"document 0, line 3: invalid YAML: .*tab"),
    Case("control-character.yaml", error=r"line 4: invalid YAML: control characters are not allowed: U\+0007"),
    Case("non-utf8.yaml", error=r"non-utf8\.yaml, line 11: not valid UTF-8 \(byte 0xe9"),
    Case("utf16.yaml", error=r"line 1: not valid UTF-8"),
    # ---- keys, anchors and tags that are refused
    Case("duplicate-key-in-workload.yaml", error=r"document 0, line 6: invalid YAML: .*duplicate key 'containers'"),
    Case("duplicate-kind.yaml", error=r"document 0, line 6: duplicate top-level key 'kind'"),
    Case("recursive-alias.yaml", error=r"document 0, line 5: .*recursive"),
    Case("undefined-alias.yaml", error=r"document 0, line 4: found undefined alias 'nowhere'"),
    Case("custom-tag-in-pod.yaml", error=r"document 0, line 5: invalid YAML: unsupported tag '!containers'"),
    Case("bad-typed-scalar.yaml", error=r"document 0, line 5: invalid YAML: 'not-a-number' is not a valid !!int value"),
    Case("unhashable-key.yaml", error=r"document 0, line 6: invalid YAML: .*unhashable key"),
    # ---- not Kubernetes objects (a shell pipe's error text is a YAML mapping too): exit 2
    # naming the document and line; with --allow-non-objects passed through (below)
    Case("document-is-a-list.yaml", error=r"document 0, line 1: not a Kubernetes object \(a sequence without kind\)"),
    Case("document-is-a-scalar.yaml", error=r"document 0, line 1: not a Kubernetes object \(a scalar without kind\)"),
    Case("missing-kind.yaml", error=r"document 0, line 1: not a Kubernetes object \(a mapping without kind\)"),
    Case("root-block-scalar.yaml", error=r"document 0, line 1: not a Kubernetes object \(a scalar without kind\)"),
    # ---- passed through byte for byte
    Case("tabs-in-values.yaml", unchanged=True),
    Case("bom-configmap.yaml", unchanged=True),
    Case("cr-only-line-breaks.yaml", unchanged=True),
    Case("kind-list-items-not-a-list.yaml", unchanged=True),
    Case("missing-apiversion.yaml", unchanged=True),  # a Deployment needs the apps group
    Case("spec-null.yaml", unchanged=True),
    # Documents that cannot hold a pod template are validated by libyaml but not loaded:
    # keys inside them are the API server's business, and unknown tags are passed on.
    Case("duplicate-key-in-configmap.yaml", unchanged=True),
    Case("anchors-in-configmap.yaml", unchanged=True),
    Case("custom-tag-in-configmap.yaml", unchanged=True),
    Case("unchanged-no-trailing-newline.yaml", unchanged=True),
    Case("empty.yaml", unchanged=True),
    Case("only-comments.yaml", unchanged=True),
    Case("only-separators.yaml", unchanged=True),
    Case("only-whitespace.yaml", unchanged=True),
    # ---- hardened, with the rest kept
    Case("bom-pod.yaml", check=_bom_pod),
    Case("crlf.yaml", check=_crlf),
    Case("utf8-multibyte.yaml", check=_utf8),
    Case("kind-list-non-mapping-items.yaml", check=_list_items),
    Case("containers-null.yaml", check=_containers_null),
    Case("containers-not-mappings.yaml", check=_containers_not_mappings),
    Case("wrong-types-in-spec.yaml", check=_reparses),
    Case("anchors-and-aliases.yaml", check=_anchors),
    Case("merge-keys.yaml", check=_merge),
    Case("triple-dash-in-block-scalar.yaml", check=_triple_dash),
    Case("kind-inside-quoted-multiline.yaml", check=_all_hardened(1)),
    Case("kind-forms.yaml", check=_all_hardened(5)),
    Case("json-document.yaml", check=_all_hardened(1)),
    Case("directive-and-explicit-end.yaml", check=_directive),
    Case("no-trailing-newline.yaml", check=_no_trailing_newline),
]
PYTHON_TAGS = ["python-tag-in-pod.yaml", "python-tag-in-configmap.yaml", "python-tag-escaped.yaml",
               "python-tag-verbatim.yaml", "python-tag-via-directive.yaml"]


def test_every_fixture_has_an_expected_outcome():
    listed = {c.file for c in CASES} | set(PYTHON_TAGS) | {
        "billion-laughs-pod.yaml", "billion-laughs-configmap.yaml", "security-context-wrong-types.yaml"}
    on_disk = {p.name for p in HOSTILE.iterdir() if p.name != ".gitattributes"}
    assert on_disk == listed


NON_OBJECTS = [c.file for c in CASES if c.error and "not a Kubernetes object" in c.error]


@pytest.mark.parametrize("name", NON_OBJECTS)
def test_non_objects_pass_through_when_allowed(name: str):
    src = (HOSTILE / name).read_bytes()
    r = timed_cli("--allow-non-objects", "-f", str(HOSTILE / name))
    assert_clean(r)
    assert r.rc == 0 and r.out == src, r.err


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_hostile_input(case: Case):
    src = (HOSTILE / case.file).read_bytes()
    r = timed_cli("-f", str(HOSTILE / case.file))
    assert_clean(r)
    if case.error:
        assert_error(r, case.error)
        return
    assert r.rc == 0, r.err
    if case.unchanged:
        assert r.out == src, "expected the stream back byte for byte"
    if case.check:
        case.check(src, r.out)
        if not case.unchanged:
            # idempotent: hardening the output again changes nothing
            again = timed_cli(stdin=r.out)
            assert again.rc == 0 and again.out == r.out, again.err


@pytest.mark.parametrize("name", ["unchanged-no-trailing-newline.yaml", "crlf.yaml", "bom-pod.yaml"])
def test_stdin_and_file_give_the_same_bytes(name):
    src = (HOSTILE / name).read_bytes()
    assert timed_cli(stdin=src).out == timed_cli("-f", str(HOSTILE / name)).out


def test_security_context_of_the_wrong_type():
    """`securityContext: []` (or a list for a container's): the API server cannot decode it,
    so the pod passes through unchanged and the report says why -- not an internal error."""
    src = HOSTILE / "security-context-wrong-types.yaml"
    r = timed_cli("-f", str(src))
    assert_clean(r)
    assert r.rc == 0 and r.out == src.read_bytes()
    assert "not hardened: malformed: securityContext is a list, must be a mapping" in r.err


# --------------------------------------------------------------------------- refused, never constructed
@pytest.mark.parametrize("name", PYTHON_TAGS)
def test_python_tags_are_refused_and_never_constructed(name, tmp_path):
    src = HOSTILE / name
    r = timed_cli("-f", str(src), cwd=tmp_path)
    assert_error(r, r"document 0, line \d+: (invalid YAML: )?Python-specific tag 'tag:yaml\.org,2002:python/")
    assert not (tmp_path / "PWNED").exists(), "a Python tag was constructed"


@pytest.mark.parametrize("name", ["billion-laughs-pod.yaml", "billion-laughs-configmap.yaml"])
def test_billion_laughs_refused_fast_with_bounded_memory(name):
    r = timed_cli("-f", str(HOSTILE / name), timeout=60, rss=True)
    assert_error(r, r"document 0, line \d+: aliases expand to more than 1,000,000 nodes")
    assert r.seconds < 20, f"took {r.seconds:.1f} s"
    if r.rss is not None:
        assert r.rss < 100 * 2**20, f"peak RSS {r.rss / 2**20:.0f} MiB"


@pytest.mark.parametrize("kind", ["Pod", "ConfigMap"])
def test_very_deep_flow_nesting_is_refused(kind):
    text = f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: deep}}\ndata: " + "[" * 100_000 + "]" * 100_000 + "\n"
    r = timed_cli(stdin=text.encode(), timeout=60)
    assert_error(r, r"document 0, line 4: invalid YAML: .*maximum nesting depth")
    assert r.seconds < 10


def test_very_deep_block_nesting_is_refused():
    lines = ["apiVersion: v1", "kind: Pod", "spec:"] + ["  " * (i + 1) + f"k{i}:" for i in range(5_000)]
    r = timed_cli(stdin=("\n".join(lines) + " x\n").encode(), timeout=60)
    assert_error(r, r"document 0, line \d+: invalid YAML: .*maximum nesting depth")


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_nesting_just_under_the_limit_is_hardened(flow):
    """libyaml allows 1,000 levels: such a Pod loads, is hardened and is written back."""
    head = "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec:\n  containers: [{name: a}]\n  extra:"
    if flow:
        body = " " + "[" * 990 + "]" * 990 + "\n"
    else:
        body = "\n" + "".join("  " * (i + 2) + "k:\n" for i in range(990)) + "  " * 992 + "v\n"
    r = timed_cli(stdin=(head + body).encode(), timeout=60)
    assert_clean(r)
    assert r.rc == 0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        assert hardened(docs_of(r.out)[0])
    finally:
        sys.setrecursionlimit(limit)


# --------------------------------------------------------------------------- size
def test_a_100_mb_document_passes_through_with_bounded_memory(tmp_path):
    """A 100 MB ConfigMap next to a Pod: the ConfigMap comes back byte for byte, the Pod is
    hardened, and peak memory stays a small multiple of the input."""
    line = b"    " + b"x" * 95 + b"\n"
    n = 100 * 2**20 // len(line)
    head = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: |\n"
    pod = b"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.write(head)
        f.write(line * n)
        f.write(pod)
    size = path.stat().st_size
    r = timed_cli("-f", str(path), "--report", "none", timeout=180, rss=True)
    assert_clean(r)
    assert r.rc == 0
    cm_len = size - len(pod)
    assert hashlib.sha256(r.out[:cm_len]).digest() == hashlib.sha256(path.read_bytes()[:cm_len]).digest()
    assert hardened(docs_of(r.out[cm_len:])[0])
    if r.rss is not None:
        assert r.rss < 5 * size + 64 * 2**20, f"peak RSS {r.rss / 2**20:.0f} MiB for {size / 2**20:.0f} MiB"
    assert r.seconds < 60


def test_many_tiny_documents():
    text = "---\n" * 20_000 + "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}\n"
    r = timed_cli("--report", "none", stdin=text.encode())
    assert_clean(r)
    assert r.rc == 0 and r.out.startswith(b"---\n---\n") and hardened(docs_of(r.out)[-1])


# --------------------------------------------------------------------------- atomicity
def test_failure_at_the_end_of_a_long_stream_writes_nothing():
    good = "".join(f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec:\n  containers: [{{name: a}}]\n"
                   for i in range(500))
    r = timed_cli(stdin=(good + "---\napiVersion: v1\nkind: ConfigMap\ndata: {a: [b}\n").encode())
    assert_error(r, r"document 500, line \d+: invalid YAML")


def test_conflict_failure_mid_stream_writes_nothing(tmp_path):
    profile = tmp_path / "fail.yaml"
    profile.write_text("extends: restricted\nconflicts: fail\n")
    stream = ("---\napiVersion: v1\nkind: Pod\nmetadata: {name: fine}\nspec: {containers: [{name: a}]}\n"
              "---\napiVersion: v1\nkind: Pod\nmetadata: {name: root}\nspec:\n  containers:\n"
              "    - name: a\n      securityContext: {privileged: true}\n"
              "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n")
    r = timed_cli("-p", str(profile), stdin=stream.encode())
    assert_error(r, r"document 1: .*Pod root: .*privileged")


def test_broken_pipe_ends_quietly(tmp_path):
    big = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{k: '{'v' * 200}'}}\n"
                  for i in range(5_000))
    src = tmp_path / "big.yaml"
    src.write_text(big + "---\napiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}\n")
    err = tmp_path / "err.txt"
    cmd = (f"set -o pipefail; {sys.executable} -m hardener -f {src} 2>{err} | head -c 10 >/dev/null")
    p = subprocess.run(["bash", "-c", cmd], cwd=REPO, timeout=120)
    stderr = err.read_text()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr, stderr
    assert p.returncode in (0, 141), (p.returncode, stderr)


# --------------------------------------------------------------------------- bad profiles
PROFILE_ERRORS = [
    # (name, profile text, regex after "<file>: ")
    ("unknown-key", "extends: restricted\ncolour: blue\n", r"colour: unknown key; allowed: name, "),
    ("unknown-control", "extends: restricted\ncontrols:\n  runAsRoot: {}\n", r"controls\.runAsRoot: unknown control; known: "),
    ("unknown-option", "extends: restricted\ncontrols:\n  runAsUser: {valu: 5}\n", r"controls\.runAsUser\.valu: unknown option; allowed: .*value"),
    ("wrong-type", "extends: restricted\ncontrols:\n  runAsUser: {value: abc}\n", r"controls\.runAsUser\.value: must be an integer"),
    ("wrong-type-bool", "controls:\n  privileged: {enabled: maybe}\n", r"controls\.privileged\.enabled: must be true or false"),
    ("bad-enum", "extends: restricted\ncontrols:\n  seccompProfile: {type: Sometimes}\n", r"controls\.seccompProfile\.type: must be one of"),
    ("bad-conflicts", "conflicts: sometimes\n", r"conflicts: must be keep, override or fail"),
    ("bad-control-conflicts", "controls:\n  privileged: {conflicts: never}\n", r"controls\.privileged\.conflicts: must be one of keep, override, fail"),
    ("bad-level", "level: extreme\n", r"level: must be baseline or restricted"),
    ("bad-emit", "emit: [psp, bogus]\n", r"emit: must be auto, none or a list of"),
    ("controls-not-a-mapping", "controls: [a]\n", r"controls: must be a mapping"),
    ("options-not-a-mapping", "controls:\n  runAsUser: 5\n", r"controls\.runAsUser: must be a mapping of options"),
    ("workloads-not-a-list", "workloads: {kind: Rollout}\n", r"workloads: must be a list"),
    ("workload-missing-pointer", "workloads: [{kind: Rollout}]\n", r"workloads\[0\]\.podTemplate: must be a JSON pointer"),
    ("workload-unknown-key", "workloads: [{kind: Rollout, podTemplate: /spec/template, version: x}]\n", r"workloads\[0\]\.version: unknown key"),
    ("extends-not-a-string", "extends: 5\n", r"extends: must be a built-in profile name or a path"),
    ("localhost-without-profile", "controls:\n  seccompProfile: {type: Localhost}\n", r"controls\.seccompProfile: type Localhost needs localhostProfile"),
    ("not-a-mapping", "- a\n- b\n", r"a profile must be a YAML mapping"),
    ("empty", "", r"a profile must be a YAML mapping"),
    ("two-documents", "name: a\n---\nname: b\n", r"expected one YAML document"),
    ("python-tag", "name: !!python/object/apply:os.system ['touch PWNED']\n", r"Python-specific tag"),
]


@pytest.mark.parametrize("name,text,pattern", PROFILE_ERRORS, ids=[p[0] for p in PROFILE_ERRORS])
def test_bad_profile(name, text, pattern, tmp_path):
    prof = tmp_path / f"{name}.yaml"
    prof.write_text(text)
    r = timed_cli("-p", str(prof), stdin=b"apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}\n",
               cwd=tmp_path)
    assert_error(r, re.escape(str(prof)) + r": (line \d+: )?" + pattern)
    assert not (tmp_path / "PWNED").exists()


def test_bad_profile_in_an_extended_file_names_that_file(tmp_path):
    (tmp_path / "base.yaml").write_text("controls:\n  runAsUser: {value: -1}\n")
    (tmp_path / "top.yaml").write_text("extends: ./base.yaml\n")
    r = timed_cli("-p", str(tmp_path / "top.yaml"), stdin=b"a: 1\n")
    assert_error(r, re.escape(str(tmp_path / "base.yaml")) + r": controls\.runAsUser\.value: must be an integer")


def test_bad_profile_extends_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: ./b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: ./a.yaml\n")
    r = timed_cli("-p", str(tmp_path / "a.yaml"), stdin=b"a: 1\n")
    assert_error(r, r"a\.yaml: extends: extends cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml")


def test_bad_profile_not_utf8(tmp_path):
    (tmp_path / "p.yaml").write_bytes(b"name: caf\xe9\n")
    r = timed_cli("-p", str(tmp_path / "p.yaml"), stdin=b"a: 1\n")
    assert_error(r, re.escape(str(tmp_path / "p.yaml")) + r": profile is not UTF-8")


def test_bad_profile_unknown_builtin_name():
    r = timed_cli("-p", "nosuch", stdin=b"a: 1\n")
    assert_error(r, r"no built-in profile 'nosuch'; built-in: .*restricted")


def test_bad_profile_is_a_directory(tmp_path):
    r = timed_cli("-p", str(tmp_path) + "/", stdin=b"a: 1\n")
    assert_error(r, re.escape(str(tmp_path)) + r"/?: cannot read profile")


def test_bad_profile_invalid_yaml_names_file_and_line(tmp_path):
    prof = tmp_path / "broken.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  runAsUser: {value: [1\n")
    r = timed_cli("-p", str(prof), stdin=b"a: 1\n")
    assert_error(r, re.escape(str(prof)) + r": line \d+: .*invalid YAML")


@pytest.mark.parametrize("target", ["./missing.yaml", "nosuch"])
def test_bad_profile_missing_extends_target_names_the_extending_file(target, tmp_path):
    prof = tmp_path / "top.yaml"
    prof.write_text(f"extends: {target}\n")
    r = timed_cli("-p", str(prof), stdin=b"a: 1\n")
    assert_error(r, r"(missing\.yaml.*No such file|no built-in profile 'nosuch')")
    assert f"{prof}: extends: " in r.err


def test_bad_config_file_names_the_file_and_key(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("apiVersion: k8s-harden.io/v1\nkind: Hardener\ncontrols:\n  runAsUser: {value: x}\n")
    r = timed_cli("--config", str(cfg), stdin=b"a: 1\n")
    assert_error(r, r"cfg\.yaml: controls\.runAsUser\.value: must be an integer")
