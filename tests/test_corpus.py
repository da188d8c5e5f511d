"""Every real rendered stream in ../shared/corpus: hardened, faithful, idempotent, and
every pod template passes PSS restricted or is a reported exception."""

from __future__ import annotations

import pytest

from hardener import pss, yamlio
from hardener.profile import load_profile
from hardener.kube.workloads import WorkloadTable, find_pod_templates
from helpers import CORPUS_FILES, harden, leaves, load_all

pytestmark = pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus not present")


@pytest.fixture(scope="module", params=CORPUS_FILES, ids=lambda p: p.name)
def hardened(request):
    text = request.param.read_text()
    return text, harden(text)


def test_output_parses_and_keeps_document_count(hardened):
    text, out = hardened
    assert len(load_all(out.output)) == len(load_all(text))


def test_every_pod_template_passes_restricted_or_is_reported(hardened):
    _, out = hardened
    table = WorkloadTable(load_profile("restricted").workloads)
    reported = {(r.document, r.pointer) for r in out.results if r.skipped}
    for i, data in enumerate(load_all(out.output)):
        for pt in find_pod_templates(data, table):
            violations = pss.evaluate(pt.template.get("metadata"), pt.template["spec"], "restricted")
            if violations:
                assert (i, pt.resource_pointer) in reported, (pt.kind, pt.name, violations)


def test_untouched_documents_byte_identical_and_no_field_lost(hardened):
    text, out = hardened
    _, before = yamlio.split_stream(text)
    _, after = yamlio.split_stream(out.output)
    changed = {r.document for r in out.results if r.changes}
    assert len(before) == len(after)
    for b, a in zip(before, after):
        if b.index not in changed:
            assert a.text == b.text
        elif b.root == "mapping":
            new = dict(leaves(a.load()))
            for path, value in leaves(b.load()):
                assert new.get(path, object()) == value, (b.index, path)


def test_second_run_is_identical(hardened):
    _, out = hardened
    again = harden(out.output)
    assert again.output == out.output
    assert not any(r.changes for r in again.results)
