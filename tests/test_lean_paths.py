"""What keeps the hardening path lean (issue #14), checked by structure, never by timing:
what a run imports, and the pipeline's shortcut past the policy package."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from hardener import pipeline

SMALL = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
"""


def _modules_after_run(*args: str) -> set[str]:
    code = ("import sys\nfrom hardener.cli import main\n"
            "try:\n    main(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-c", code, *args], input=SMALL, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)))
    assert p.returncode == 0, p.stderr
    return set(p.stderr.rsplit("MODULES ", 1)[1].split())


def test_a_default_run_imports_neither_policy_nor_jsonpatch_nor_the_audit():
    mods = _modules_after_run()
    assert not {m for m in mods if m.startswith(("hardener.policy", "hardener.audit", "hardener.kube.admission"))}
    assert not {"jsonpatch", "jsonpointer", "hashlib", "difflib", "hardener.config", "hardener.krm"} & mods


def test_a_default_run_imports_nothing_of_the_images():
    """--images off (the default): no image module, no HTTP client, no threads (#15)."""
    mods = _modules_after_run()
    assert not {m for m in mods if m.startswith("hardener.images")}
    assert not {"urllib.request", "http.client", "concurrent.futures", "hashlib"} & mods
    assert not {m for m in _modules_after_run("--images", "off") if m.startswith("hardener.images")}


def test_a_run_with_images_imports_them(tmp_path):
    (tmp_path / "index.json").write_text("{}")
    assert "hardener.images.lookup" in _modules_after_run("--images", str(tmp_path))


def test_a_run_that_emits_policy_still_does():
    assert "hardener.policy" in _modules_after_run("--emit", "vap")


def test_the_shortcut_knows_every_kind_the_policy_stages_read():
    from hardener import policy

    assert policy.GENERATED_KINDS | {"Namespace"} == pipeline.POLICY_KINDS


def _inputs():
    here = Path(__file__).resolve().parent
    corpus = here.parent.parent / "shared" / "corpus"
    files = sorted(corpus.glob("*.yaml")) + sorted((here / "hostile").glob("*")) + sorted(
        (here.parent / "examples").glob("*.yaml"))
    return [f for f in files if f.is_file()]


@contextlib.contextmanager
def _collector_off():
    """The cyclic GC off, as the CLI runs, and what was there collected first. With the
    collector off every object a run makes stays in the youngest generation: collecting
    that generation alone finds the run's cycles without walking the whole heap (cheap
    even late in a long test session)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    gc.collect()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _texts():
    """(file, text) of every input the cycle tests read (a file that is not UTF-8 is
    refused before any document is read)."""
    for f in _inputs():
        try:
            yield f, f.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue


def test_a_run_makes_no_reference_cycles():
    """The CLI turns the cyclic GC off: a run must leave nothing only it could free (a
    recursive closure, a document pointing back at its result), or memory grows with the
    stream. Every corpus, hostile-input and example file, with the option sets that reach
    the policy emitter, the pre-1.25 path and the strict profile."""
    import gc

    from hardener.errors import HardenError
    from hardener.inputs import Source
    from hardener.options import build_options

    with _collector_off():
        for f, text in _texts():
            for kw in ({}, {"emit": "vap"}, {"kube_version": "1.24"}, {"profile": "strict"}):
                gc.collect(0)
                try:
                    out = pipeline.run([Source("<stdin>", text)], build_options(assess=True, **kw))
                except HardenError:
                    gc.collect(0)  # an error ends the run: what it leaves is freed at exit
                    continue
                del out
                assert gc.collect(0) == 0, (f.name, kw)


def _audit_garbage(text: str, version: str) -> tuple[int, int]:
    """(unreachable objects an audit of `text` left while its report is alive, those its
    report formats left), with the collector off as in the CLI."""
    import gc

    from hardener import audit
    from hardener.audit.formats import FORMATS
    from hardener.inputs import Source
    from hardener.options import kube_version

    gc.collect(0)
    report = audit.audit_sources([Source("<stdin>", text)], "restricted", kube_version(version)[0],
                                 None, None, None)
    during = gc.collect(0)
    for fmt in FORMATS.values():
        fmt(report)
    formats = gc.collect(0)
    del report
    gc.collect(0)
    return during, formats


def test_an_audit_makes_no_reference_cycles_while_it_runs():
    """`audit` turns the cyclic GC off too (3.8 -> 2.3 s on the 4,000-document stream). Its
    report holds cycles (a resource and its templates), which it keeps to the end anyway;
    what the run must not make is garbage only the collector frees, or memory would grow
    with the stream: none while it audits, and in the formats (json's encoder closures) a
    fixed amount, not more for three times the stream. Every corpus, hostile-input and
    example file, at a PSP-era and the newest version."""
    import gc

    from hardener.errors import HardenError

    with _collector_off():
        for f, text in _texts():
            for version in ("1.24", "latest"):
                try:
                    during, formats = _audit_garbage(text, version)
                    during3, formats3 = _audit_garbage("\n---\n".join([text] * 3), version)
                except HardenError:
                    gc.collect(0)  # an error ends the run: what it leaves is freed at exit
                    continue
                assert (during, during3) == (0, 0), (f.name, version)
                assert formats3 == formats, (f.name, version)


def test_an_audit_cycle_is_found(monkeypatch):
    """The check above fails on an audit that lets cycles go."""
    from hardener import audit

    real = audit.audit_documents

    def cyclic(*args, **kwargs):
        report = real(*args, **kwargs)
        for _ in range(3):
            loop: list = []
            loop.append(loop)  # a cycle the run lets go of
        return report

    monkeypatch.setattr(audit, "audit_documents", cyclic)
    with _collector_off():
        during, _ = _audit_garbage("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                   "spec: {containers: [{name: c, image: x}]}\n", "latest")
    assert during > 0


def test_an_audit_holds_one_document_at_a_time(monkeypatch):
    """`audit` lets each document's data and nodes go once audited (110 -> 40 MiB peak on
    the 4,000-document stream), finds lines in the nodes the load kept (no second parse of
    an alias-free document) and writes the text report line by line (no joined copy)."""
    import yaml

    from hardener import audit
    from hardener.audit import formats, lines
    from hardener.inputs import Source

    composed = []
    real_compose = yaml.compose
    monkeypatch.setattr(lines.yaml, "compose", lambda *a, **k: composed.append(1) or real_compose(*a, **k))
    live = []
    real_audit = audit._audit_document

    def counting(data, data_doc, *args):
        live.append(sum(1 for d in docs if d.data is not None))
        return real_audit(data, data_doc, *args)

    monkeypatch.setattr(audit, "_audit_document", counting)
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec: {containers: [{name: c, image: x}]}\n"
    text = "---\n".join(pod % i for i in range(5)) + "---\nmerged: &m {a: 1}\nkind: Pod\nmetadata: {<<: *m, name: q}\n" \
        "spec: {containers: [{name: c, image: x}]}\n"
    from hardener import yamlio

    _, docs = yamlio.split_stream(text, "<stdin>")
    report = audit.audit_documents(docs)
    assert live == [1] * 6  # the one being audited
    assert all(d.data is None and d.node is None for d in docs)
    assert len(composed) == 1  # the document with aliases: its nodes were not kept
    assert [f.line for f in report.findings][:1] == [4]  # lines found in the kept nodes
    out = formats.FORMATS["text"](report)
    assert isinstance(out, list) and "".join(out) == formats.as_text(report) and out[0].endswith("\n")


def test_one_pass_assessment_equals_separate_evaluations():
    """pss.assess runs each check once; it must say what evaluate() at each level says."""
    from hardener import pss, yamlio
    from hardener.kube.workloads import WorkloadTable, find_pod_templates
    from hardener.profile import load_profile

    table = WorkloadTable(load_profile("restricted").workloads)
    seen = 0
    for f in _inputs():
        try:
            _, docs = yamlio.split_stream(f.read_bytes().decode("utf-8"), f.name)
        except Exception:  # noqa: BLE001 - refused inputs hold no template to assess
            continue
        for d in docs:
            if d.root != "mapping":
                continue
            try:
                data = d.load()
            except Exception:  # noqa: BLE001
                continue
            for pt in find_pod_templates(data, table):
                tpl = pt.template if isinstance(pt.template, dict) else {}
                meta, spec = tpl.get("metadata"), tpl.get("spec")
                for version in ((1, 24), (1, 30), pss.LATEST):
                    base = pss.evaluate(meta, spec, "baseline", version)
                    restricted = pss.evaluate(meta, spec, "restricted", version)
                    met = "privileged" if base else "baseline" if restricted else "restricted"
                    assert pss.assess(meta, spec, "restricted", version) == (met, restricted)
                    assert pss.assess(meta, spec, "baseline", version) == (met, base)
                    assert pss.assess(meta, spec, None, version) == (met, [])
                    assert pss.meets(meta, spec, version) == met
                    seen += 1
    assert seen > 100


def test_lean_and_spooled_runs_write_what_the_library_writes(monkeypatch):
    """The CLI's lean path (each document rendered as soon as it is hardened, its data and
    text let go, output spooled) against the careful path (pipeline.run): same bytes on
    stdout, same report, on every corpus and hostile-input file."""
    import json

    from click.testing import CliRunner

    from hardener import cli, report
    from hardener.errors import HardenError
    from hardener.inputs import Source
    from hardener.options import build_options

    monkeypatch.setattr(cli, "SPOOL_AT", 0)  # spool every run
    runner = CliRunner()
    checked = 0
    for f in _inputs():
        raw = f.read_bytes()
        try:
            text = raw.decode("utf-8")
            careful = pipeline.run([Source("<stdin>", text)], build_options(assess=True))
        except (UnicodeDecodeError, HardenError):
            continue
        for kind in ("summary", "json"):
            got = runner.invoke(cli.main, ["--report", kind, "--allow-non-objects"], input=raw)
            assert got.exit_code == 0, (f.name, got.output)
            assert got.stdout_bytes == careful.output.encode("utf-8", "surrogateescape"), f.name
            if kind == "json":
                want = json.loads(report.as_json(careful.results, len(careful.documents)))
                assert json.loads(got.stderr_bytes)["resources"] == want["resources"], f.name
        checked += 1
    assert checked > 40


def test_pyyaml_is_imported_with_its_reader_check_compiled_on_first_use():
    """hardener.pyyaml: in a fresh interpreter, importing the package leaves PyYAML's
    NON_PRINTABLE a LazyPattern and re.compile the standard one; the pure-Python reader that
    uses the pattern still refuses a control character and reads printable text."""
    import subprocess
    import sys

    probe = (
        "import re; standard = re.compile; import hardener, yaml\n"
        "from hardener.pyyaml import LazyPattern\n"
        "assert isinstance(yaml.reader.Reader.NON_PRINTABLE, LazyPattern)\n"
        "assert re.compile is standard\n"
        "try:\n"
        "    yaml.load('a: \"\\x07\"', Loader=yaml.SafeLoader)\n"
        "    raise SystemExit('a control character was read')\n"
        "except yaml.reader.ReaderError:\n"
        "    pass\n"
        "assert yaml.load('a: \"caf\\u00e9 \\U0001F600\"', Loader=yaml.SafeLoader) == {'a': 'caf\\u00e9 \\U0001F600'}\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_the_reader_check_fails_on_a_pattern_that_lets_control_characters_through(monkeypatch):
    """The probe above is not vacuous: with a lazy pattern that accepts everything, the
    pure-Python reader reads the control character."""
    import yaml

    from hardener.pyyaml import LazyPattern

    monkeypatch.setattr(yaml.reader.Reader, "NON_PRINTABLE", LazyPattern("[^\\x00-\\U0010ffff]", 0))
    assert yaml.load('a: "\x07"', Loader=yaml.SafeLoader) == {"a": "\x07"}


def _deployments(n: int) -> str:
    return "".join(SMALL.split("---\n", 1)[1].replace("name: d\n", f"name: d{i}\n") + "---\n" for i in range(n))


def test_documents_that_keep_their_data_share_their_key_strings():
    """A run that keeps every document's data (the policy stages, --verify) holds one copy of
    each key and short value the documents share, not one per document: the reader interns
    them (yamlio/load.py), and so does the patch applier for the keys it adds."""
    from hardener import yamlio
    from hardener.kube.pointer import apply_op

    _, docs = yamlio.split_stream(_deployments(2), "<test>")
    a, b = (d.load() for d in docs[:2])
    assert a is not b
    for path in (("spec",), ("spec", "template"), ("spec", "template", "spec")):
        ka = next(k for k in a if k == path[0])
        kb = next(k for k in b if k == path[0])
        assert ka is kb, path
    ca, cb = a["spec"]["template"]["spec"]["containers"][0], b["spec"]["template"]["spec"]["containers"][0]
    assert ca["image"] is cb["image"]  # a short value: shared too
    apply_op(ca, "add", "/securityContext", {})
    apply_op(cb, "add", "/securityContext", {})
    assert next(k for k in ca if k == "securityContext") is next(k for k in cb if k == "securityContext")


def test_a_long_value_is_not_interned():
    from hardener import yamlio

    long = "x" * 200
    _, docs = yamlio.split_stream(f"a: {long}\n---\na: {long}\n", "<test>")
    assert docs[0].load()["a"] is not docs[1].load()["a"]


def test_the_change_report_is_written_in_pieces_and_reads_as_one_object(monkeypatch):
    """--report json / text of a large stream is several times the stream: it is written in
    batches as it is made, never held whole; the JSON is the bytes `json.dumps` writes."""
    import json

    import click
    from click.testing import CliRunner

    from hardener import cli, report
    from hardener.inputs import Source
    from hardener.options import build_options

    stream = _deployments(400)
    outcome = pipeline.run([Source("<stdin>", stream)], build_options())
    whole = report.as_json(outcome.results, len(outcome.documents))
    assert whole == json.dumps(json.loads(whole), default=str)
    writes: list[int] = []
    real = click.echo

    def echo(message=None, *args, **kw):
        if kw.get("err"):
            writes.append(len(message or ""))
        return real(message, *args, **kw)

    monkeypatch.setattr(cli.click, "echo", echo)
    for kind in ("json", "text"):
        writes.clear()
        result = CliRunner().invoke(cli.main, ["--report", kind], input=stream)
        assert result.exit_code == 0, result.stderr
        assert sum(writes) > 3 << 16 and max(writes) < (1 << 16) + 4096, (kind, writes[:5])
        if kind == "json":
            got = json.loads(result.stderr)
            assert result.stderr == json.dumps(got, default=str) + "\n"
            assert got["resources"] == json.loads(whole)["resources"]
