"""Fuzzing the library in-process (hypothesis): random YAML-ish text, random bytes and random
mutations of real documents (the corpus in ../shared/corpus when present, the hostile fixtures
and the examples otherwise).

For every input: no exception other than HardenError (the CLI's exit 2, where stdout stays
empty); on success the output parses again, the CLI's one-pass path writes the same bytes,
every edit textpatch proves by construction reads back as planned all the same, hardening it
again changes nothing (idempotence), and a run that changed nothing gives the input back
byte for byte. A differential test holds
yamlio's fast text splitter to the libyaml event splitter it stands in for.

CI runs a bounded number of examples (about 20 s). Longer runs:

    K8S_HARDEN_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_fuzz.py -q

(the count applies to each fuzz test; with the variable set, examples are random instead of
the fixed CI sequence, and hypothesis prints the smallest failing input it finds).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import hardener.yamlio.split  # noqa: F401 - the splitters, compared below
from hardener import yamlio
from hardener.errors import HardenError
from tests.helpers import proofs_read_back

#: A `kind:` sniffer for the oracle, which has only text.
KIND_RE = re.compile(r"^kind:[ \t]*['\"]?([A-Za-z0-9]+)", re.M)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus"

_LONG = "K8S_HARDEN_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("K8S_HARDEN_FUZZ_EXAMPLES", "0")) or None


def fuzz(ci_examples: int):
    """Hypothesis settings: a fixed sequence of `ci_examples` in CI, K8S_HARDEN_FUZZ_EXAMPLES
    random ones when set."""
    return settings(max_examples=EXAMPLES or ci_examples, deadline=None, database=None,
                    derandomize=not _LONG, suppress_health_check=list(HealthCheck), print_blob=True)


# --------------------------------------------------------------------------- the property
@lru_cache(maxsize=1)
def _opts():
    from hardener.options import build_options

    return build_options()


def outcome_or_error(text: str):
    """(0, Outcome) or (2, message): HardenError is the exit-2 path; anything else propagates
    and fails the test (the CLI would print an internal error)."""
    from hardener.inputs import Source
    from hardener.pipeline import run
    from hardener.report import as_json, as_text

    try:
        outcome = run([Source("<fuzz>", text)], _opts())
    except HardenError as exc:
        message = str(exc)
        assert message and "\n" not in message.strip() and "Traceback" not in message
        return 2, message
    as_text(outcome.results, len(outcome.documents))  # the report must not crash either
    as_json(outcome.results, len(outcome.documents))
    return 0, outcome


def check(text: str) -> None:
    with proofs_read_back() as proofs:
        _check(text)
    assert not proofs.wrong, f"a proven edit does not read back as planned: {proofs.wrong[0]}"


def _check(text: str) -> None:
    code, outcome = outcome_or_error(text)
    if code == 2:
        event("exit 2")
        return
    event("exit 0, changed" if outcome.changed else "exit 0, unchanged")
    out = outcome.output
    assert isinstance(out, str)
    # the output is YAML libyaml accepts, and our own splitter reads it
    for _ in yaml.parse(out, Loader=yaml.CSafeLoader):
        pass
    yamlio.split_stream(out, "<output>")
    if not outcome.changed:
        assert out == text, "an unchanged stream must come back byte for byte"
    # the CLI's one-pass path (nodes kept, edits written straight from them) writes the same
    assert _lean_output(text) == out, "the one-pass path differs from the careful path"
    # idempotence: the hardened stream needs nothing more
    code2, again = outcome_or_error(out)
    assert code2 == 0, f"hardening the output failed: {again}"
    assert again.output == out, "hardening is not idempotent"


def _lean_output(text: str) -> str:
    from hardener.inputs import Source
    from hardener.pipeline import read, run_stream

    return run_stream(read([Source("<fuzz>", text)]), _opts(), lean=True).output


def check_bytes(raw: bytes) -> None:
    try:
        text = yamlio.decode(raw, "<fuzz>")
    except HardenError:
        return
    check(text)


# --------------------------------------------------------------------------- strategies
KEYS = ["apiVersion", "kind", "metadata", "name", "namespace", "annotations", "labels", "spec",
        "template", "jobTemplate", "containers", "initContainers", "ephemeralContainers",
        "securityContext", "privileged", "runAsUser", "runAsNonRoot", "capabilities", "add", "drop",
        "items", "data", "hostNetwork", "seccompProfile", "type", "image", "k8s-harden.io/skip",
        "k8s-harden.io/skip-controls", "os", "nodeSelector", "<<", "? kind", '"kind"', "x"]
VALUES = ["v1", "apps/v1", "batch/v1", "argoproj.io/v1alpha1", "Pod", "Deployment", "CronJob",
          "Job", "List", "PodList", "ConfigMap", "Rollout", "DaemonSet", "ResourceList",
          "config.kubernetes.io/v1", "null", "~", "true", "false", "0", "1000", "-1", "0x1F", "1e3",
          ".inf", "yes", "on", "'0755'", '"quoted: #"', "[]", "{}", "[a, b]", "{a: 1}", "[{name: a}]",
          "|", ">-", "&a", "*a", "&b x", "*b", "!!str", "!!int x", "!custom", "!!binary aGk=",
          "# comment", "ALL", "NET_ADMIN", "RuntimeDefault", "windows", "2001-12-14", "=", "- a",
          "\t", "é", "😀", "\\", "'", '"', "\u2028", "{", "[", ":", "---", "..."]
INDENTS = ["", "", "  ", "    ", "      ", "- ", "  - ", "    - ", "\t"]


@st.composite
def yamlish_lines(draw) -> str:
    n = draw(st.integers(1, 30))
    lines = []
    for _ in range(n):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["---", "...", "--- |", "# c", "", "%YAML 1.1",
                                               "--- !!map", "- "])))
            continue
        indent = draw(st.sampled_from(INDENTS))
        key = draw(st.sampled_from(KEYS))
        if kind <= 2:
            lines.append(f"{indent}{key}:")
        else:
            lines.append(f"{indent}{key}: {draw(st.sampled_from(VALUES))}")
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    end = draw(st.sampled_from([eol, ""]))
    return draw(st.sampled_from(["", yamlio.BOM])) + eol.join(lines) + end


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.sampled_from(
    ["", "ALL", "NET_BIND_SERVICE", "SYS_ADMIN", "RuntimeDefault", "Localhost", "Unconfined",
     "windows", "linux", "true", "0", "on", "a\nb", "x: y", "# no", "- z", "é", "*", "&"]),
    st.text(max_size=8))
FIELDS = ["name", "image", "securityContext", "privileged", "runAsUser", "runAsGroup", "runAsNonRoot",
          "allowPrivilegeEscalation", "capabilities", "add", "drop", "seccompProfile", "type",
          "localhostProfile", "appArmorProfile", "seLinuxOptions", "readOnlyRootFilesystem",
          "procMount", "sysctls", "fsGroup", "supplementalGroups", "hostNetwork", "hostPID",
          "hostIPC", "hostPath", "volumes", "ports", "containerPort", "hostPort", "os",
          "nodeSelector", "kubernetes.io/os", "windowsOptions", "env", "annotations"]
ANY = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)),
    max_leaves=12)
CONTAINER = st.one_of(
    st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c"])},
                          optional={"securityContext": ANY, "ports": ANY, "image": SCALARS,
                                    "env": ANY}),
    ANY)
POD_SPEC = st.fixed_dictionaries({}, optional={
    "containers": st.one_of(st.lists(CONTAINER, max_size=3), ANY),
    "initContainers": st.lists(CONTAINER, max_size=2), "ephemeralContainers": st.lists(CONTAINER, max_size=1),
    "securityContext": ANY, "hostNetwork": ANY, "hostPID": ANY, "os": ANY, "nodeSelector": ANY,
    "volumes": ANY})
ANNOTATIONS = st.dictionaries(st.sampled_from(["k8s-harden.io/skip", "k8s-harden.io/skip-containers",
                                               "k8s-harden.io/skip-controls", "helm.sh/hook", "x"]),
                              st.one_of(st.sampled_from(["true", "a", "b,c", "privileged",
                                                         "runAsUser,nope", ""]), ANY), max_size=2)
METADATA = st.one_of(st.fixed_dictionaries({"name": st.sampled_from(["w", "x"])},
                                           optional={"annotations": ANNOTATIONS, "namespace": SCALARS}), ANY)


@st.composite
def k8s_object(draw, depth: int = 0):
    """A resource shaped like a workload, with any field of any type anywhere."""
    kind, api = draw(st.sampled_from([("Pod", "v1"), ("Deployment", "apps/v1"), ("Job", "batch/v1"),
                                      ("CronJob", "batch/v1"), ("PodTemplate", "v1"),
                                      ("Rollout", "argoproj.io/v1alpha1"), ("List", "v1"),
                                      ("ConfigMap", "v1"), ("Deployment", "example.com/v1")]))
    pod = {"metadata": draw(METADATA), "spec": draw(st.one_of(POD_SPEC, ANY))}
    if kind == "Pod":
        spec = pod["spec"]
    elif kind == "PodTemplate":
        return {"apiVersion": api, "kind": kind, "metadata": draw(METADATA), "template": pod}
    elif kind == "CronJob":
        spec = {"jobTemplate": {"spec": {"template": pod}}}
    elif kind == "List":
        items = draw(st.lists(k8s_object(depth + 1) if depth < 1 else ANY, max_size=3))
        return {"apiVersion": api, "kind": kind, "items": items}
    else:
        spec = {"template": draw(st.one_of(st.just(pod), ANY))}
    obj = {"apiVersion": api, "kind": kind, "metadata": draw(METADATA), "spec": spec}
    if draw(st.booleans()):
        obj["metadata"] = draw(ANY)
    return obj


@st.composite
def k8s_stream(draw) -> str:
    docs = draw(st.lists(k8s_object(), min_size=1, max_size=3))
    return yaml.safe_dump_all(docs, sort_keys=draw(st.booleans()),
                              default_flow_style=draw(st.sampled_from([False, None, True])),
                              explicit_start=draw(st.booleans()), allow_unicode=True)


WORKLOADS = [
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: x\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n"
    "      containers: [{name: a, securityContext: {privileged: true}}]\n",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n"
    "      template:\n        spec:\n          containers:\n          - {name: a}\n",
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  spec: {containers: [{name: a}]}\n",
]


def _seeds() -> list[str]:
    """Small real documents to mutate: corpus documents under 16 kB, fixtures, examples."""
    texts = []
    for folder in (CORPUS, HERE / "hostile", REPO / "examples"):
        if folder.is_dir():
            for p in sorted(folder.glob("*.yaml")):
                try:
                    texts.append(p.read_text(encoding="utf-8"))
                except (UnicodeDecodeError, OSError):
                    continue
    seeds = list(WORKLOADS)
    for text in texts:
        try:
            _, docs = yamlio.split_stream(text)
        except HardenError:
            seeds.append(text[:16_000])
            continue
        seeds.extend(d.text for d in docs if 0 < len(d.text) < 16_000)
    return sorted(set(seeds), key=lambda t: (len(t), t))


_WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
                   "ReplicationController", "PodTemplate", "Rollout", "List"}
SEEDS = _seeds()
WORKLOAD_SEEDS = [t for t in SEEDS if any(m.group(1) in _WORKLOAD_KINDS or m.group(1).endswith("List")
                                          for m in KIND_RE.finditer(t))]
OTHER_SEEDS = [t for t in SEEDS if t not in set(WORKLOAD_SEEDS)]
TOKENS = ["\n", "\r\n", "\t", " ", "  ", "- ", ": ", "---\n", "...\n", "#", "&a ", "*a", "<<: *a\n",
          "!!python/object:os.system ", "!x ", "{", "}", "[", "]", ",", "'", '"', "|\n", ">\n", "\x00",
          "\ufeff", "é", "null", "~", "[]", "{}", "kind: Pod\n", "kind: List\n", "spec: null\n",
          "containers: null\n", "securityContext: []\n", "securityContext: {privileged: true}\n"]


@st.composite
def mutated(draw) -> str:
    pool = WORKLOAD_SEEDS if draw(st.integers(0, 9)) < 7 or not OTHER_SEEDS else OTHER_SEEDS
    text = draw(st.sampled_from(pool))
    for _ in range(draw(st.integers(0 if pool is WORKLOAD_SEEDS else 1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup-line", "drop-line",
                                   "indent", "dedent", "truncate", "swap-lines", "crlf"]))
        pos = draw(st.integers(0, len(text)))
        lines = text.splitlines(keepends=True)
        li = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif op == "replace" and text:
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos + 1:]
        elif op == "truncate":
            text = text[:pos]
        elif lines and op == "dup-line":
            lines.insert(li, lines[li])
            text = "".join(lines)
        elif lines and op == "drop-line":
            del lines[li]
            text = "".join(lines)
        elif lines and op == "indent":
            lines[li] = "  " + lines[li]
            text = "".join(lines)
        elif lines and op == "dedent":
            lines[li] = lines[li][2:] if lines[li].startswith("  ") else lines[li]
            text = "".join(lines)
        elif len(lines) > 1 and op == "swap-lines":
            lj = (li + 1) % len(lines)
            lines[li], lines[lj] = lines[lj], lines[li]
            text = "".join(lines)
        elif op == "crlf":
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


# --------------------------------------------------------------------------- tests
@fuzz(600)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(raw):
    check_bytes(raw)


@fuzz(300)
@given(yamlish_lines())
def test_fuzz_yamlish_text(text):
    check(text)


@fuzz(200)
@given(st.lists(st.one_of(yamlish_lines(), st.sampled_from(WORKLOADS)), min_size=1, max_size=4)
       .map(lambda parts: "---\n".join(p if p.endswith("\n") else p + "\n" for p in parts)))
def test_fuzz_yamlish_streams_with_workloads(text):
    check(text)


@fuzz(250)
@given(k8s_stream())
def test_fuzz_workload_shapes_with_any_types(text):
    check(text)


@fuzz(600)
@given(mutated())
def test_fuzz_mutated_real_documents(text):
    check(text)


@fuzz(500)
@given(st.one_of(yamlish_lines(), mutated()))
def test_fast_split_agrees_with_the_event_split(text):
    """yamlio's text splitter must find the same documents, kinds and spans as libyaml's
    events wherever it answers (it answers None when unsure, and validation errors come from
    the event path)."""
    compare_splits(text)


#: (stream, what the fast splitter does with it): "fast" answers and must agree with the
#: events, "declined" leaves it to the event path, "error" is refused by both.
SPLIT_EDGES = [
    ('a: 1\n...\n...\nb: 2\n', 'error'),
    ('---\n...\n---\n', 'fast'),
    ('# c\n...\na: 1\n', 'error'),
    ('a: 1\n--- # c\nb: 2\n...\n# t\n', 'fast'),
    ('kind: Pod\n  continued\n', 'fast'),
    ('kind: Pod # c\napiVersion: v1\n', 'fast'),
    ("kind: 'Pod'\n", 'fast'),
    ('kind: "Pod"\n', 'fast'),
    ('kind: Pod\r\napiVersion: v1\r\n', 'fast'),
    ('a: |\n  ---\n  kind: Pod\nkind: ConfigMap\n', 'fast'),
    ('a: "x\nkind: Pod"\nkind: ConfigMap\n', 'fast'),
    ('a: "x\nkind: Pod\n  y"\nkind: ConfigMap\n', 'fast'),
    ('- a\n---\nkind: Pod\n', 'fast'),
    ('? kind\n: Pod\n', 'fast'),
    ('kind: !!str Pod\n', 'fast'),
    ('kind: &k Pod\nx: *k\n', 'fast'),
    ('\n\n---\n\nkind: Pod\n\n', 'fast'),
    ('kind: Pod\n...\n', 'fast'),
    ('kind: Pod\n---', 'fast'),
    ('---kind: Pod\n', 'fast'),
    ('--- \nkind: Pod\n', 'fast'),
    ('---\t\nkind: Pod\n', 'fast'),
    ('kind:\tPod\n', 'fast'),
    ('kind: Pod\n# c\n  # indented\n', 'fast'),
    ('a: 1\n  # c\nkind: Pod\n', 'fast'),
    ('kind: Pod\nspec: |\n  x\n\n# trailing\n', 'fast'),
    ('kind: Pod\nspec:\n  a: b\n\n\n', 'fast'),
    ('kind: Pod\nspec: {a: 1}  # c\n', 'fast'),
    ('kind: Pod\nspec:\n', 'fast'),
    ('kind: Pod\nspec:\n# c\n---\n', 'fast'),
    ('kind: Pod\nitems:\n- a\n- {b: 1}\n', 'fast'),
    ('apiVersion: v1\nkind: List\nkind2: x\n', 'fast'),
    ('kind: Pod\nkind: Job\n', 'error'),
    ('apiVersion: v1\napiVersion: v2\n', 'error'),
    ('kind: Pod\nmetadata:\n  kind: Job\n', 'fast'),
    ('kind: Pod\n\t\n', 'error'),
    ('kind: 5\n', 'fast'),
    ('kind: Pod:x\n', 'fast'),
    ('kind: Pod#x\n', 'fast'),
    ("kind: a/b\napiVersion: 'x.io/v1'\n", 'fast'),
    ('%YAML 1.1\n---\nkind: Pod\n', 'declined'),
    ('kind: Pod\n\x85x: 1\n', 'declined'),
    ('kind: Pod\rx: 1\r', 'declined'),
    ('kind: Pod\n--- |\n  text\n', 'declined'),
    ('kind: Pod\n--- >\n text\n', 'declined'),
    ('--- {kind: Pod}\n', 'declined'),
    ('kind: é\n', 'fast'),
    ('kind: Pod\nx: !custom 1\n', 'fast'),
    ("kind: Pod\nx: '*a'\n", 'fast'),
    ('kind: Pod\nx: [*a]\n', 'error'),
]


@pytest.mark.parametrize("text,outcome", SPLIT_EDGES)
def test_fast_split_edge_cases(text, outcome):
    assert compare_splits(text) == outcome


def compare_splits(text: str) -> str:
    """Compare the two splitters on `text`: "error" (both refuse), "declined" (the fast one
    leaves it to the events; the stream's split is the events' split) or "fast" (it agrees)."""
    if text.startswith(yamlio.BOM):
        text = text[1:]
    try:
        reference = yamlio.split._split_events(text, "s", 0)
    except HardenError:
        with pytest.raises(HardenError):
            yamlio.split_stream(text, "s")
        return "error"
    fast = yamlio.split._split_fast(text, "s", 0)
    if fast is None:
        assert [d.text for d in yamlio.split_stream(text, "s")[1]] == [d.text for d in reference]
        return "declined"
    assert [d.text for d in fast] == [d.text for d in reference]
    for a, b in zip(reference, fast):
        assert (a.index, a.first_line, a.root, a.kind, a.api_version, a.has_aliases, a.body_start) \
            == (b.index, b.first_line, b.root, b.kind, b.api_version, b.has_aliases, b.body_start)
        if not b.spans_exact:
            try:
                data = yamlio.load_document(b)
            except HardenError:
                continue
            assert data == yamlio.load_document(a)
            assert (b.body_start, b.body_end) == (a.body_start, a.body_end)
    return "fast"


def test_seeds_are_there():
    assert len(SEEDS) >= len(WORKLOADS) + 20


def test_security_context_of_the_wrong_type_is_left_and_reported():
    """Found by the fuzzer: `securityContext: []` made a control descend into a list. The API
    server cannot decode it (hardener/kube/shape.py): the pod passes through unchanged,
    reported as malformed, instead of having its value replaced."""
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  securityContext: []\n"
            "  containers: [{name: a, image: x, securityContext: []}]\n")
    code, outcome = outcome_or_error(text)
    assert code == 0 and outcome.output == text
    (r,) = outcome.results
    assert {s.reason for s in r.skipped} == {
        "malformed: securityContext is a list, must be a mapping (at /spec/securityContext)",
        "malformed: securityContext is a list, must be a mapping (at /spec/containers/0/securityContext)"}


@st.composite
def spelled_workload(draw) -> str:
    """A Deployment whose mappings spell their keys every way YAML allows (plain, quoted,
    anchored, explicit `? key`, compact `- key:`), with comments at any indentation,
    last values of every style (block scalars, multi-line plain and flow), indentless or
    indented lists and CRLF: the layouts around which the text edit inserts new keys."""
    def key(name: str) -> str:
        style = draw(st.sampled_from(["plain"] * 4 + ["single", "double", "anchor", "explicit"]))
        return {"plain": f"{name}:", "single": f"'{name}':", "double": f'"{name}":',
                "anchor": f"&k{draw(st.integers(0, 9))} {name}:", "explicit": f"? {name}\n{{pad}}:"}[style]

    def last_value() -> str:
        return draw(st.sampled_from([" x", " 'x'", " |\n{pad}  a\n", " |+\n{pad}  a\n\n", " >-\n{pad}  a\n",
                                     " a\n{pad}  b", " [a,\n{pad}  b]", " {a: 1}", "", " # c", " 80"]))

    def entry(pad: str, name: str, value: str) -> str:
        k = key(name).replace("{pad}", pad)
        return f"{pad}{k}{value.replace('{pad}', pad)}"

    step = draw(st.sampled_from([2, 4]))
    dash = draw(st.sampled_from(["", " " * step]))  # indentless or indented lists
    c_pad = " " * (step * 3) + dash + "  "
    container = [f"{' ' * (step * 3)}{dash}- " + key("name").replace("{pad}", c_pad) + " app",
                 entry(c_pad, "image", " nginx")]
    if draw(st.booleans()):
        container.append(draw(st.sampled_from([f"{c_pad}# a comment", f"{c_pad[:-2]}# c", "# col 0"])))
    container.append(entry(c_pad, draw(st.sampled_from(["args", "workingDir", "x"])), last_value()))
    lines = ["apiVersion: apps/v1", "kind: Deployment", entry("", "metadata", ""),
             entry(" " * step, "name", " web"), "spec:", f"{' ' * step}template:",
             entry(" " * (step * 2), "spec", ""), entry(" " * (step * 3), "containers", ""), *container]
    if draw(st.booleans()):
        lines.append(entry(" " * (step * 3), "dnsPolicy", last_value()))
    text = "\n".join(lines) + "\n"
    return text.replace("\n", "\r\n") if draw(st.booleans()) else text


@fuzz(300)
@given(spelled_workload())
def test_fuzz_key_spellings_around_insertions(text):
    check(text)
