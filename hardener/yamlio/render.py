"""The text of a changed document: edited in place where provably exact, else re-written."""

from __future__ import annotations

from typing import Any

from .dump import render_document
from .load import load_text
from .split import Document


def render_changed(doc: Document, data: Any, patch: list[dict]) -> tuple[str, str | None]:
    """Text of a changed document, and why comments inside it were lost (None when none
    were): a surgical edit of its text when that is provably equal to `data`, otherwise the
    document re-written from its nodes (every unchanged value keeps its style and text;
    leading and trailing comments kept)."""
    from .likeness import same
    from .textpatch import patch_text  # imported on the first changed document

    from .load import rebuild

    why: list[str] = []
    root, doc.node = doc.node, None  # kept by the load: no second parse
    text = patch_text(doc.text, patch, data, why, root, rebuild, doc.seq_indent)
    if text is not None:
        return text, None
    from .rewrite import rewrite

    try:
        body = rewrite(doc.text, data, doc.line_break)
        if not same(load_text(body), data):
            body = None
    except Exception:  # noqa: BLE001 - the node rewrite is best effort; a plain dump follows
        body = None
    note = (f"the document was re-written, not edited in place ({why[0]}): comments inside it "
            "were not kept")
    return render_document(doc, data, body), note
