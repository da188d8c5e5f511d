"""All YAML handling of k8s-harden lives here.

Why one module: fidelity and safety depend on the same few decisions being made once —

* the stream is split into documents by one pass of the libyaml parser (events only, no
  objects built), which also validates every document and sniffs its top-level `kind` and
  `apiVersion`; the bytes of each document are kept, so a document nobody changes is written
  back exactly as it came (comments, quoting, key order, `# Source:` lines);
* only documents that may need a change are loaded, with a safe loader that refuses Python
  tags, duplicate keys and alias bombs, keeps timestamps as strings and gives errors with the
  document number and the line in the input;
* changed documents are written with a dumper that keeps key order, writes multi-line strings
  as literal blocks, never writes `&id001` anchors, quotes strings YAML 1.1 would misread
  (`"on"`, `"0755"`, `"1.10"`) and keeps the document's line breaks (CRLF stays CRLF).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from .errors import InputError

_CLoader = getattr(yaml, "CSafeLoader", None)
_CDumper = getattr(yaml, "CSafeDumper", None)
BaseLoader = _CLoader or yaml.SafeLoader
BaseDumper = _CDumper or yaml.SafeDumper

#: A document whose aliases would expand to more nodes than this is refused (billion laughs).
MAX_EXPANDED_NODES = 1_000_000
BOM = "\ufeff"


# --------------------------------------------------------------------------- documents
@dataclass
class Document:
    """One document of the input stream: its exact text and what the split pass learned."""

    index: int  # 0-based, across all inputs
    source: str  # file name or <stdin>
    text: str  # the exact segment: separator line, comments, body, trailing comments
    first_line: int  # 1-based line of `text` in `source`
    body_start: int = -1  # offset in text of the first node (-1: empty document)
    body_end: int = -1  # offset in text just past the last scalar/alias/flow node
    root: str = "empty"  # mapping | sequence | scalar | empty
    kind: str | None = None
    api_version: str | None = None
    has_aliases: bool = False
    data: Any = field(default=None, repr=False)  # set by load()
    loaded: bool = False

    @property
    def line_break(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def load(self) -> Any:
        """Load (once) and return this document's data."""
        if not self.loaded:
            self.data = load_document(self)
            self.loaded = True
        return self.data


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    """Offset just past the line break of the line holding offset i-1 (or len(text))."""
    if i > 0 and text[i - 1] == "\n":
        return i
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _mark_error(exc: yaml.MarkedYAMLError, source: str, document: int | None,
                line_offset: int = 0) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 + line_offset if mark is not None else None
    parts = [p for p in (exc.context, exc.problem) if p]
    reason = ", ".join(parts) or str(exc)
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
    separately so the caller can write it again. One pass of the libyaml parser validates
    every document; invalid YAML raises :class:`InputError` with document and line.
    """
    bom = ""
    if text.startswith(BOM):
        bom, text = BOM, text[1:]
    starts: list[int] = []  # segment start offsets
    docs_info: list[dict] = []
    info: dict | None = None
    depth = 0
    top_key: str | None = None
    expect_key = True
    prev_end_explicit_at: int | None = None
    try:
        for ev in yaml.parse(text, Loader=BaseLoader):
            cls = ev.__class__
            if cls is yaml.ScalarEvent or cls is yaml.AliasEvent:
                end = ev.end_mark.index
                if info["body_start"] < 0:
                    info["body_start"] = ev.start_mark.index
                    info["root"] = "scalar"
                if end > info["body_end"]:
                    info["body_end"] = end
                if cls is yaml.AliasEvent:
                    info["has_aliases"] = True
                if depth == 1:
                    if expect_key:
                        top_key = ev.value if cls is yaml.ScalarEvent else None
                        expect_key = False
                    else:
                        if top_key == "kind" and cls is yaml.ScalarEvent:
                            info["kind"] = ev.value
                        elif top_key == "apiVersion" and cls is yaml.ScalarEvent:
                            info["api_version"] = ev.value
                        expect_key = True
                continue
            if cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                if info["body_start"] < 0:
                    info["body_start"] = ev.start_mark.index
                    info["root"] = "mapping" if cls is yaml.MappingStartEvent else "sequence"
                if depth == 1:
                    if expect_key:
                        top_key = None
                        expect_key = False
                    else:
                        expect_key = True
                depth += 1
                continue
            if cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                depth -= 1
                if ev.end_mark.index > ev.start_mark.index and ev.end_mark.index > info["body_end"]:
                    info["body_end"] = ev.end_mark.index  # flow collection: `]` or `}`
                continue
            if cls is yaml.DocumentStartEvent:
                if not starts:
                    seg = 0
                elif ev.explicit:
                    seg = _line_start(text, ev.start_mark.index)
                else:
                    seg = prev_end_explicit_at if prev_end_explicit_at is not None else ev.start_mark.index
                starts.append(seg)
                info = {"body_start": -1, "body_end": -1, "root": "empty", "kind": None,
                        "api_version": None, "has_aliases": False}
                docs_info.append(info)
                depth, expect_key, top_key = 0, True, None
                continue
            if cls is yaml.DocumentEndEvent:
                prev_end_explicit_at = _line_end(text, ev.end_mark.index) if ev.explicit else None
                continue
    except yaml.MarkedYAMLError as exc:
        raise _mark_error(exc, source, first_index + max(len(starts) - 1, 0)) from None
    except RecursionError:
        raise InputError("nesting too deep", source=source,
                         document=first_index + max(len(starts) - 1, 0)) from None
    except yaml.YAMLError as exc:  # reader errors without a mark
        raise InputError(f"invalid YAML: {exc}", source=source) from None

    docs: list[Document] = []
    if not starts:
        # A stream of only comments / whitespace: keep it as one empty document.
        if text:
            docs.append(Document(first_index, source, text, 1))
        return bom, docs
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
    return bom, docs


# --------------------------------------------------------------------------- loading
class _SafeLoader(BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader: no Python tags, no duplicate keys, timestamps stay strings."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
        for first, resolvers in BaseLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):  # noqa: D102 - see class docstring
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        f"while constructing a mapping (started at line {node.start_mark.line + 1})",
                        node.start_mark,
                        f"duplicate key {key_node.value!r} (first at line {seen[key].line + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node, memo: dict[int, int], depth: int = 0) -> int:
    """Number of nodes `node` stands for once every alias is expanded."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 5000:
        raise RecursionError
    if isinstance(node, yaml.ScalarNode):
        size = 1
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(n, memo, depth + 1) for n in node.value)
    else:
        size = 1 + sum(_expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
                       for k, v in node.value)
    memo[key] = min(size, MAX_EXPANDED_NODES + 1)
    return memo[key]


def load_document(doc: Document) -> Any:
    """Safely load one document's data; errors carry the document number and input line."""
    loader = _SafeLoader(doc.text)
    offset = doc.first_line - 1
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if doc.has_aliases and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise InputError(f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                             "(an alias bomb?); refusing the document",
                             source=doc.source, document=doc.index, line=doc.first_line)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _mark_error(exc, doc.source, doc.index, offset) from None
    except RecursionError:
        raise InputError("nesting too deep to process", source=doc.source,
                         document=doc.index, line=doc.first_line) from None
    finally:
        loader.dispose()


def load_data(text: str, source: str) -> Any:
    """Load a small standalone YAML file (a profile, a config) safely."""
    _, docs = split_stream(text, source)
    real = [d for d in docs if d.root != "empty"]
    if len(real) > 1:
        raise InputError("expected one YAML document, found several", source=source)
    return real[0].load() if real else None


# --------------------------------------------------------------------------- dumping
class _Dumper(BaseDumper):  # type: ignore[misc, valid-type]
    """Dumper for changed documents: literal blocks, no anchors, order kept."""

    def ignore_aliases(self, data):  # noqa: D102 - never write &id001 anchors
        return True


def _represent_str(dumper: yaml.BaseDumper, data: str):
    style = "|" if "\n" in data.rstrip("\n") or (data.endswith("\n") and len(data) > 1) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_data(data: Any, line_break: str = "\n") -> str:
    """Write one document body (no `---`), the way changed documents are written."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=1 << 30, default_flow_style=False, line_break=line_break)


def render_document(doc: Document, data: Any) -> str:
    """The text of `doc` with its body replaced by `data`, keeping its separator line,
    leading comments and trailing comments."""
    text = doc.text
    if doc.body_start < 0:
        return text
    body_line = _line_start(text, doc.body_start)
    prefix = text[:body_line]
    if body_line < doc.body_start and text[body_line:doc.body_start].strip():
        # body starts on the `---` line (e.g. `--- {a: 1}`): keep the marker on its own line
        prefix = text[:doc.body_start].rstrip(" ") + doc.line_break
    suffix = text[_line_end(text, doc.body_end):]
    body = dump_data(data, doc.line_break)
    if suffix and not body.endswith("\n"):
        body += doc.line_break
    return prefix + body + suffix


def is_trailing_only(text: str) -> bool:
    """True when text holds only comments, blank lines or document end markers."""
    return all(not ln.strip() or ln.lstrip().startswith("#") or ln.strip() == "..."
               for ln in text.splitlines())


# A `kind:` sniffer for callers that only have text (e.g. the benchmark's peers).
KIND_RE = re.compile(r"^kind:[ \t]*['\"]?([A-Za-z0-9]+)", re.M)

LoadPredicate = Callable[[Document], bool]
