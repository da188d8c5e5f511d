"""The one applier: JSON Patch operations planned by controls, applied to document data."""

from __future__ import annotations

from typing import Any

from .controls.base import Change


def apply_change(data: Any, change: Change) -> None:
    """Apply one planned change in place (values are deep-copied: no shared references,
    so the writer never needs `&id001` anchors)."""
    import jsonpatch  # imported on first change: documents needing none never pay for it

    jsonpatch.apply_patch(data, [change.as_patch()], in_place=True)
