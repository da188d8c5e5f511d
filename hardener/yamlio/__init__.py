"""All YAML handling of k8s-harden lives here.

Why one package: fidelity, safety and speed depend on the same few decisions being made once —

* :mod:`.split`: the stream is split into documents and every document is validated before
  anything is written. The bytes of each document are kept, so a document nobody changes is
  written back exactly as it came (comments, quoting, key order, `# Source:` lines, CRLF);
  Python tags, alias bombs, recursive or undefined aliases and a doubled `kind` are refused
  whether or not the document is loaded;
* :mod:`.load`: only documents that may need a change are loaded, with a safe loader that
  refuses Python and unknown tags and duplicate keys, keeps timestamps as strings and gives
  errors with the document number and the line in the input — one load core for whole
  documents and for the surgical editor;
* :mod:`.textpatch`: a changed document is edited in place where that is provably exact;
* :mod:`.dump`: otherwise it is re-emitted with a dumper that keeps key order, writes
  multi-line strings as literal blocks, never writes `&id001` anchors, quotes strings YAML
  1.1 would misread (`"on"`, `"0755"`, `"1.10"`) and keeps the document's line breaks.
"""

from __future__ import annotations

from .dump import dump_data, render_document
from .load import compose_text, load_data, load_document, load_text
from .render import render_changed
from .split import BOM, MAX_EXPANDED_NODES, BaseLoader, Document, decode, split_sources, split_stream

__all__ = ["BOM", "MAX_EXPANDED_NODES", "BaseLoader", "Document", "compose_text", "decode",
           "dump_data", "load_data", "load_document", "load_text", "render_changed", "render_document",
           "split_sources", "split_stream"]
