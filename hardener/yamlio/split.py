"""Splitting a stream into documents that keep their exact text.

The stream is split into documents and every document is validated before anything is
written: libyaml parses the whole stream once in C (no Python objects), and each
document's top-level `kind`/`apiVersion` is sniffed from its text when its shape is
unambiguous (a block mapping at column 0, plain keys, no tags or aliases); any other
document is sniffed from libyaml's events. Every document is refused if it holds a Python
tag, an alias bomb, a recursive or undefined alias, or its `kind`/`apiVersion` twice —
whether or not it is loaded later.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

import yaml

from ..errors import InputError
from ..record import Record

BaseLoader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

#: A document whose aliases would expand to more nodes than this is refused (billion laughs).
MAX_EXPANDED_NODES = 1_000_000
BOM = "\ufeff"
PY_TAG = "tag:yaml.org,2002:python/"


class Document(Record):
    """One document of the input stream: its exact text and what the split pass learned.

    `index`: 0-based, across all inputs; `source`: file name or <stdin>; `text`: the exact
    segment (separator line, comments, body, trailing comments); `first_line`: 1-based line
    of `text` in `source`; `body_start`: offset in text of the first node (-1: empty
    document); `body_end`: offset just past the last scalar/alias/flow node; `root`: mapping
    | sequence | scalar | empty; `data`: set by load(); `spans_exact`: False when the split
    sniffed the document from its text (body_start is exact but body_end is a placeholder
    until load() computes both from the parsed nodes); `parent` and `pointer`: for an item
    of a ResourceList, the list's document and the item's pointer in it; `index_in_source`:
    0-based index of the document within its own source (`index` counts across all inputs),
    what messages about one file name (defaults to `index`). A document the split sniffed
    holds its text as a span of the stream's (`_src[_s:_e]`), sliced when read: the stream
    is not held twice."""

    _fields = ("index", "source", "text", "first_line", "body_start", "body_end", "root", "kind",
               "api_version", "has_aliases", "data", "loaded", "spans_exact", "parent", "pointer",
               "index_in_source")
    __slots__ = tuple(f for f in _fields if f != "text") + ("_text", "_src", "_s", "_e", "node", "seq_indent")
    _hidden = frozenset(("data", "spans_exact", "parent"))

    @property
    def text(self) -> str:
        """The exact segment: separator line, comments, body, trailing comments."""
        t = self._text
        return self._src[self._s:self._e] if t is None else t

    @text.setter
    def text(self, value: str) -> None:
        self._text, self._src = value, None

    @classmethod
    def span(cls, src: str, s: int, e: int, index: int, source: str, first_line: int,
             **kw: Any) -> "Document":
        """A document whose text is `src[s:e]`, not copied until read."""
        doc = cls(index, source, None, first_line, **kw)  # type: ignore[arg-type]
        doc._src, doc._s, doc._e = src, s, e
        return doc

    def __init__(self, index: int, source: str, text: str, first_line: int, body_start: int = -1,
                 body_end: int = -1, root: str = "empty", kind: str | None = None,
                 api_version: str | None = None, has_aliases: bool = False, data: Any = None,
                 loaded: bool = False, spans_exact: bool = True, parent: "Document | None" = None,
                 pointer: str = "", index_in_source: int = -1) -> None:
        self.index, self.source, self._text, self._src, self.first_line = index, source, text, None, first_line
        self.body_start, self.body_end, self.root, self.kind = body_start, body_end, root, kind
        self.api_version, self.has_aliases, self.data, self.loaded = api_version, has_aliases, data, loaded
        self.spans_exact, self.parent, self.pointer = spans_exact, parent, pointer
        self.index_in_source = index if index_in_source < 0 else index_in_source
        self.node = None  # its node tree, kept by load(keep_node=True) until it is rendered
        #: where the document shows no list under a key, the offset its new lists take (a
        #: ResourceList item's: its list's); None: the mapping step
        self.seq_indent: int | None = None

    @property
    def line_break(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def load(self, keep_node: bool = False) -> Any:
        """Load (once) and return this document's data (`keep_node`: see load_document)."""
        if not self.loaded:
            from .load import load_document

            self.data = load_document(self, keep_node)
            self.loaded = True
        return self.data


def start_of_line(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def end_of_line(text: str, i: int) -> int:
    """Offset just past the line break of the line holding offset i-1 (or len(text))."""
    if i > 0 and text[i - 1] == "\n":
        return i
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def mark_error(exc: yaml.MarkedYAMLError, source: str, document: int | None,
                line_offset: int = 0, text: str | None = None) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 + line_offset if mark is not None else None
    parts = [p for p in (exc.context, exc.problem) if p]
    reason = ", ".join(parts) or str(exc)
    if text is not None and exc.problem_mark is not None:
        i = exc.problem_mark.index
        start = text.rfind("\n", 0, i) + 1
        indent = text[start:len(text) - len(text[start:].lstrip(" \t"))] if start < len(text) else ""
        if "\t" in indent[:i - start + 1] or text[i:i + 1] == "\t":
            reason += " (a tab: YAML indents with spaces only)"
    return InputError(f"invalid YAML: {reason}", source=source, document=document, line=line)


def decode(raw: bytes, source: str) -> str:
    """Decode input bytes as UTF-8, with a clear error naming the line of a bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start}); manifests must be UTF-8", source=source,
                         line=line) from None


def split_stream(text: str, source: str = "<stdin>", first_index: int = 0) -> tuple[str, list[Document]]:
    """Split a YAML stream into :class:`Document` segments whose concatenation is `text`.

    Returns (bom, documents): a leading byte-order mark is taken off and given back
    separately so the caller can write it again. Every document is validated (libyaml);
    invalid YAML, Python tags, alias bombs and a doubled `kind` raise :class:`InputError`
    with document and line.
    """
    bom = ""
    if text.startswith(BOM):
        bom, text = BOM, text[1:]
    docs = _split_fast(text, source, first_index)
    if docs is None:
        docs = _split_events(text, source, first_index)
    return bom, docs


# ---- the reference splitter: libyaml events (exact for every stream libyaml accepts)
def _scan_events(text: str, source: str, first_index: int, line_offset: int = 0):
    """One pass of libyaml events: (segment starts, per-document info). Also refuses
    Python tags, aliases that are undefined, recursive or expand too far, and a top-level
    `kind`/`apiVersion` given twice."""
    starts: list[int] = []  # segment start offsets
    docs_info: list[dict] = []
    info: dict = {}
    depth = 0
    top_key: str | None = None
    expect_key = True
    prev_end_explicit_at: int | None = None
    n = 0  # nodes so far in this document, aliases expanded
    anchors: dict[str, int | None] = {}  # anchor -> expanded size (None while still open)
    opened: list[tuple[str | None, int]] = []  # open collections: (anchor, n before it)
    seen_top: set[str] = set()
    ScalarEvent, AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
    MappingStartEvent, SequenceStartEvent = yaml.MappingStartEvent, yaml.SequenceStartEvent
    MappingEndEvent, SequenceEndEvent = yaml.MappingEndEvent, yaml.SequenceEndEvent

    def refuse(message: str, ev) -> InputError:
        return InputError(message, source=source, document=first_index + len(starts) - 1,
                          line=ev.start_mark.line + 1 + line_offset)

    def top_value(ev) -> None:
        if top_key in seen_top:
            raise refuse(f"duplicate top-level key {top_key!r}", ev)
        seen_top.add(top_key)  # type: ignore[arg-type]
        if ev.__class__ is ScalarEvent:
            info["kind" if top_key == "kind" else "api_version"] = ev.value

    try:
        for ev in yaml.parse(text, Loader=BaseLoader):
            cls = ev.__class__
            if cls is ScalarEvent or cls is AliasEvent:
                end = ev.end_mark.index
                if info["body_start"] < 0:
                    info["body_start"] = ev.start_mark.index
                    info["root"] = "scalar"
                if end > info["body_end"]:
                    info["body_end"] = end
                if cls is ScalarEvent:
                    n += 1
                    if ev.anchor is not None:
                        anchors[ev.anchor] = 1
                    if ev.tag is not None and ev.tag.startswith(PY_TAG):
                        raise refuse(f"Python-specific tag {ev.tag!r} refused", ev)
                else:
                    info["has_aliases"] = True
                    size = anchors.get(ev.anchor, 0)
                    if size is None:
                        raise refuse(f"alias {ev.anchor!r} refers to a node that contains it "
                                     "(a recursive structure); refusing the document", ev)
                    if not size:
                        raise refuse(f"found undefined alias {ev.anchor!r}", ev)
                    n += size
                    if n > MAX_EXPANDED_NODES:
                        raise refuse(f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                                     "(an alias bomb?); refusing the document", ev)
                if depth == 1:
                    if expect_key:
                        top_key = ev.value if cls is ScalarEvent else None
                        expect_key = False
                    else:
                        if top_key == "kind" or top_key == "apiVersion":
                            top_value(ev)
                        expect_key = True
                continue
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                if info["body_start"] < 0:
                    info["body_start"] = ev.start_mark.index
                    info["root"] = "mapping" if cls is MappingStartEvent else "sequence"
                if ev.tag is not None and ev.tag.startswith(PY_TAG):
                    raise refuse(f"Python-specific tag {ev.tag!r} refused", ev)
                if depth == 1:
                    if expect_key:
                        top_key = None
                        expect_key = False
                    else:
                        if top_key == "kind" or top_key == "apiVersion":
                            top_value(ev)
                        expect_key = True
                if ev.anchor is not None:
                    anchors[ev.anchor] = None
                opened.append((ev.anchor, n))
                n += 1
                depth += 1
                continue
            if cls is MappingEndEvent or cls is SequenceEndEvent:
                depth -= 1
                if ev.end_mark.index > ev.start_mark.index and ev.end_mark.index > info["body_end"]:
                    info["body_end"] = ev.end_mark.index  # flow collection: `]` or `}`
                anchor, before = opened.pop()
                if anchor is not None:
                    anchors[anchor] = n - before
                continue
            if cls is yaml.DocumentStartEvent:
                if not starts:
                    seg = 0
                elif ev.explicit:
                    seg = start_of_line(text, ev.start_mark.index)
                else:
                    seg = prev_end_explicit_at if prev_end_explicit_at is not None else ev.start_mark.index
                starts.append(seg)
                info = {"body_start": -1, "body_end": -1, "root": "empty", "kind": None,
                        "api_version": None, "has_aliases": False}
                docs_info.append(info)
                depth, expect_key, top_key = 0, True, None
                n, anchors, opened, seen_top = 0, {}, [], set()
                continue
            if cls is yaml.DocumentEndEvent:
                prev_end_explicit_at = end_of_line(text, ev.end_mark.index) if ev.explicit else None
                continue
    except yaml.MarkedYAMLError as exc:
        raise mark_error(exc, source, first_index + max(len(starts) - 1, 0), line_offset,
                          text) from None
    except RecursionError:
        raise InputError("nesting too deep", source=source,
                         document=first_index + max(len(starts) - 1, 0)) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark, an offset
        raise InputError(f"invalid YAML: {exc.reason}: {_char(exc.character)}", source=source,
                         line=_offset_line(text, exc.position) + line_offset) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", source=source) from None
    return starts, docs_info


def _char(c) -> str:
    code = c if isinstance(c, int) else ord(c) if isinstance(c, str) and len(c) == 1 else None
    return f"U+{code:04X}" if code is not None else repr(c)


def _offset_line(text: str, position: int) -> int:
    """1-based line of an offset that libyaml reports in UTF-8 bytes (or characters)."""
    raw = text.encode("utf-8", "surrogatepass")
    return raw.count(b"\n", 0, max(0, min(position, len(raw)))) + 1


def _split_events(text: str, source: str, first_index: int, line_offset: int = 0) -> list[Document]:
    starts, docs_info = _scan_events(text, source, first_index, line_offset)
    docs: list[Document] = []
    if not starts:
        # A stream of only comments / whitespace: keep it as one empty document.
        if text:
            docs.append(Document(first_index, source, text, 1))
        return docs
    starts[0] = 0
    bounds = starts + [len(text)]
    line = 1
    for i, inf in enumerate(docs_info):
        seg_start, seg_end = bounds[i], bounds[i + 1]
        seg = text[seg_start:seg_end]
        doc = Document(first_index + i, source, seg, line,
                       body_start=inf["body_start"] - seg_start if inf["body_start"] >= 0 else -1,
                       body_end=inf["body_end"] - seg_start if inf["body_end"] >= 0 else -1,
                       root=inf["root"], kind=inf["kind"], api_version=inf["api_version"],
                       has_aliases=inf["has_aliases"])
        docs.append(doc)
        line += seg.count("\n")
    return docs


# ---- the fast splitter: libyaml validates in C, the text gives boundaries and kinds
# Patterns start with a literal `\n` (so `re` scans for it quickly); line 0 is matched apart.
_KEY = r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*:(?:[ \t]|\r?$)"
_MARKER_AT = r"(?:(---)|\.\.\.)(?=[ \t\r\n]|\Z)"  # `---` / `...` then a blank or the end
_MARKER0, _MARKER = re.compile(_MARKER_AT), re.compile(r"\n" + _MARKER_AT)
_MARKER_REST = re.compile(r"[ \t]*(?:#[^\n]*)?\r?(?:\n|\Z)")
# A column-0 line that is not: indented, blank, a comment, a plain `key:`, a `- ` entry, a marker.
_ODD_AT = r"(?![ \t\r\n#]|\Z|" + _KEY + r"|-(?:[ \t]|\r?$)|(?:---|\.\.\.)(?:[ \t]|\r?$))"
_ODD0, _ODD_LINE = re.compile(_ODD_AT, re.M), re.compile(r"\n" + _ODD_AT, re.M)
# The first line of a document's body: not blank, not a comment, not a marker.
_CONTENT = re.compile(r"^(?![ \t]*(?:#|\r?$)|(?:---|\.\.\.)(?:[ \t]|\r?$))", re.M)
_KEY_LINE = re.compile(_KEY, re.M)
_FIELD_AT = r"(kind|apiVersion):([^\n]*)"
_FIELD0, _TOP_FIELD = re.compile(_FIELD_AT), re.compile(r"\n" + _FIELD_AT)
_WORD = r"[A-Za-z0-9][A-Za-z0-9.\-/]*"
_FIELD_VALUE = re.compile(rf"[ \t]+(?:\"({_WORD})\"|'({_WORD})'|({_WORD}))(?:[ \t]+(?:#.*)?)?\r?")
# An indented, non-comment line after a plain value continues that value.
_CONTINUED = re.compile(r"\n(?:[ \t]*\r?\n)*[ \t]+[^ \t\r\n#]")
# Aliases (`*name` where a token may start) and `!!` / `!<...>` tags need the events.
_ALIAS = re.compile(r"\*[0-9A-Za-z_\-]")
_TAG = re.compile(r"![!<]")
_TOKEN_START = frozenset(" \t\r\n[{,:")


def _odd_text(text: str) -> bool:
    """Line breaks other than \n and \r\n, inner BOMs and directives move libyaml's notion
    of lines and documents: such streams take the event path."""
    if "\x85" in text or "\u2028" in text or "\u2029" in text or BOM in text:
        return True
    if text.startswith("%") or "\n%" in text:
        return True
    cr = text.count("\r")
    return bool(cr) and cr != text.count("\r\n")


class _Chunks:
    """`text` as a file libyaml reads in pieces: no UTF-8 copy of the whole stream."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def read(self, size: int = -1) -> str:
        start = self.pos
        self.pos = len(self.text) if size < 0 else min(len(self.text), start + max(size, 1 << 16))
        return self.text[start:self.pos]


def _raw_validate(text: str) -> bool:
    """libyaml parses the whole stream in C without building events; False if it fails."""
    parser = BaseLoader(_Chunks(text))
    try:
        parser.raw_parse()
        return True
    except yaml.YAMLError:
        return False
    finally:
        parser.dispose()


def _split_fast(text: str, source: str, first_index: int) -> list[Document] | None:
    """The split by text, or None when the stream is not one this fast path is exact for
    (the caller then uses :func:`_split_events`, which also reports errors precisely)."""
    if not hasattr(BaseLoader, "raw_parse") or _odd_text(text) or not _raw_validate(text):
        return None
    # ---- segment boundaries, replaying how libyaml opens and closes documents
    starts: list[int] = []
    is_open = False
    after_end: int | None = None
    pos = 0
    first = _MARKER0.match(text)
    markers = ([(0, first)] if first else []) + [(m.start() + 1, m) for m in _MARKER.finditer(text)]
    for line_start, m in markers:
        rest = _MARKER_REST.match(text, m.end())
        if rest is None:  # a marker with content on its line (`--- |`, `--- {a: 1}`)
            return None
        if not is_open and _CONTENT.search(text, pos, line_start):
            starts.append(0 if not starts else after_end)  # an implicit document
            is_open = True
        if m.group(1):  # ---
            starts.append(0 if not starts else line_start)
            is_open = True
        elif is_open:  # ... closes the open document
            is_open = False
            after_end = rest.end()
        pos = rest.end()
    if not is_open and _CONTENT.search(text, pos):
        starts.append(0 if not starts else after_end)  # type: ignore[arg-type]
    if not starts:
        return [Document(first_index, source, text, 1)] if text else []
    if None in starts:
        return None
    # ---- per-segment facts from whole-text scans, mapped to segments
    # (a `\n`-led match belongs to the segment of the line after its `\n`)
    slow = {bisect_right(starts, m.start() + 1) - 1 for m in _ODD_LINE.finditer(text)}
    if _ODD0.match(text):
        slow.add(0)
    slow.update(bisect_right(starts, m.start()) - 1 for m in _TAG.finditer(text))
    slow.update(bisect_right(starts, m.start()) - 1 for m in _ALIAS.finditer(text)
                if m.start() == 0 or text[m.start() - 1] in _TOKEN_START)
    fields: dict[int, list[re.Match]] = {}
    first_field = _FIELD0.match(text)
    for m in ([first_field] if first_field else []) + list(_TOP_FIELD.finditer(text)):
        fields.setdefault(bisect_right(starts, m.start(1)) - 1, []).append(m)
    bounds = starts + [len(text)]
    docs: list[Document] = []
    line = 1
    for i in range(len(starts)):
        s, e = bounds[i], bounds[i + 1]
        doc = None
        if i not in slow:
            doc = _sniff_text(text, s, e, fields.get(i, ()), first_index + i, source, line)
        if doc is None:
            found = _split_events(text[s:e], source, first_index + i, line - 1)
            if len(found) != 1:
                return None
            doc = found[0]
            doc.first_line = line
        docs.append(doc)
        line += text.count("\n", s, e)
    return docs


def _sniff_text(text: str, s: int, e: int, fields, index: int, source: str,
                line: int) -> Document | None:
    """A document sniffed from its text: a block mapping at column 0 whose top-level
    `kind`/`apiVersion` are plain or simply quoted words. None when unsure."""
    c = _CONTENT.search(text, s, e)
    if c is None or not _KEY_LINE.match(text, c.start(), e):
        return None
    found = {"kind": None, "apiVersion": None}
    for m in fields:
        name = m.group(1)
        if found[name] is not None:
            return None  # given twice: the events report it
        v = _FIELD_VALUE.fullmatch(m.group(2))
        if v is None:
            return None
        if v.group(3) is not None and _CONTINUED.match(text, m.end(), e):
            return None  # a plain scalar continued on the next line
        found[name] = v.group(1) or v.group(2) or v.group(3)
    body = c.start() - s
    return Document.span(text, s, e, index, source, line, body_start=body, body_end=body, root="mapping",
                         kind=found["kind"], api_version=found["apiVersion"], has_aliases=False,
                         spans_exact=False)


def split_sources(sources) -> tuple[str, list[Document]]:
    """Split every source (`.name`, `.text`) into documents, indexed across all sources in
    order, as one stream: each source's first document gets a `---` line of its own when it
    has none, so the joined output is still a valid stream. The BOM is the first source's.
    Each document also keeps its index within its source (`index_in_source`), and errors
    name the source and that index."""
    docs: list[Document] = []
    bom = ""
    for i, src in enumerate(sources):
        b, part = split_stream(src.text, src.name)  # errors: the document within the file
        for d in part:
            d.index_in_source, d.index = d.index, d.index + len(docs)
        if i == 0:
            bom = b
        if docs and part:
            prev = docs[-1]
            if not prev.text.endswith("\n"):
                prev.text += "\n"
            if not part[0].text.startswith("---"):
                part[0].text = "---\n" + part[0].text
                part[0].first_line -= 1
                if part[0].body_start >= 0:
                    part[0].body_start += 4
                    part[0].body_end += 4
        docs.extend(part)
    return bom, docs


