"""Loading YAML safely: no Python or unknown tags, no duplicate keys, timestamps stay
strings, alias bombs refused, errors with the document and the line in the input."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..errors import InputError
from .split import PY_TAG, MAX_EXPANDED_NODES, BaseLoader, Document, mark_error, split_stream

_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag (shared, bounded)


class SafeLoader(BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader: no Python tags, no duplicate keys, timestamps stay strings."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
        for first, resolvers in BaseLoader.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind, value, implicit):  # noqa: D102 - memoised for plain scalars
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR  # quoted: BaseResolver.resolve without path resolvers
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= 64 and len(_PLAIN_TAGS) < 50_000:
                    _PLAIN_TAGS[value] = tag
            return tag
        # a collection: its default tag (no path resolvers are registered: asserted below)
        return _MAP if kind is MappingNode else _SEQ if kind is SequenceNode \
            else super().resolve(kind, value, implicit)

    #: Lines of the file before the document's text: messages name lines of the file (the
    #: marks are of the document's text; load_document adds the offset to them).
    line_offset = 0

    def construct_mapping(self, node, deep=False):  # noqa: D102 - see class docstring
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}  # key as read -> (that key, its first key node)
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                # compared as read, not as written: YAML 1.1 reads `on` and `yes` as the same
                # true (and Python's dict `1` and `true`): a second one would silently replace
                # the first, which sigs.k8s.io/yaml may keep apart
                key = self.construct_object(key_node)
                if key in seen:
                    kept, first = seen[key]
                    also = "" if first.value == key_node.value else (
                        f" as {first.value!r}: both are read as the key {_key_text(kept)}; "
                        "quote keys meant as strings")
                    raise yaml.constructor.ConstructorError(
                        f"while constructing a mapping (started at line {self._line(node)})",
                        node.start_mark,
                        f"duplicate key {key_node.value!r} (first at line {self._line(first)}{also})",
                        key_node.start_mark)
                seen[key] = (key, key_node)
        return super().construct_mapping(node, deep=deep)

    def _line(self, node) -> int:
        return node.start_mark.line + 1 + self.line_offset


def _key_text(key: Any) -> str:
    """A key as YAML would write it (`true`, `null`, `1`), for messages."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return repr(key)


def _guarded(constructor):
    """A scalar constructor whose bad values (`!!int foo`) are YAML errors, not crashes."""
    def construct(loader, node):
        try:
            return constructor(loader, node)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError, IndexError, OverflowError):
            short = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {short} value", node.start_mark) from None
    return construct


def _refuse_python(loader, suffix, node):
    raise yaml.constructor.ConstructorError(
        None, None, f"Python-specific tag {node.tag!r} refused", node.start_mark)


def _refuse_unknown(loader, node):
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported tag {node.tag!r} in a document that may hold a pod template "
        "(only the standard YAML tags can be read there)", node.start_mark)


for _tag in ("null", "bool", "int", "float", "binary", "timestamp"):
    _full = "tag:yaml.org,2002:" + _tag
    SafeLoader.add_constructor(_full, _guarded(SafeLoader.yaml_constructors[_full]))
SafeLoader.add_multi_constructor(PY_TAG, _refuse_python)
SafeLoader.add_constructor(None, _refuse_unknown)
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
# SafeLoader.resolve answers quoted scalars and collections without BaseResolver.resolve,
# which would ask the path resolvers first: there must be none, and the defaults are these
assert not SafeLoader.yaml_path_resolvers
assert (SafeLoader.DEFAULT_SCALAR_TAG, SafeLoader.DEFAULT_MAPPING_TAG, SafeLoader.DEFAULT_SEQUENCE_TAG) == (_STR, _MAP, _SEQ)
_MERGE = "tag:yaml.org,2002:merge"
_SCALARS = {t: c for t, c in SafeLoader.yaml_constructors.items()
            if t in ("tag:yaml.org,2002:" + n for n in ("null", "bool", "int", "float"))}


#: Mapping keys and strings of up to _INTERNED characters are interned: every document
#: spells the same few hundred keys and values, and a run that keeps its documents' data
#: (the policy stages, --verify) would hold a copy of each per document (2,000
#: Deployments: ~4 MB of equal key strings).
_intern = sys.intern
_INTERNED = 64


class _Slow(Exception):
    """The fast builder met something the standard constructor must handle."""


def _build(node, loader):
    """Python data from an alias-free node tree, like SafeConstructor but without its
    generic machinery (block maps and seqs, str/int/float/bool/null scalars)."""
    cls = node.__class__
    if cls is ScalarNode:
        tag = node.tag
        if tag == _STR:
            value = node.value
            return _intern(value) if len(value) <= _INTERNED else value
        ctor = _SCALARS.get(tag)
        if ctor is None:
            raise _Slow
        return ctor(loader, node)
    if cls is MappingNode:
        if node.tag != _MAP:
            raise _Slow
        out = {}
        for k, v in node.value:
            if k.__class__ is not ScalarNode or k.tag == _MERGE:
                raise _Slow
            key = _intern(k.value) if k.tag == _STR else _build(k, loader)
            if key in out:
                raise _Slow  # the standard path words the duplicate-key error
            out[key] = _build(v, loader)
        return out
    if node.tag != _SEQ:
        raise _Slow
    return [_build(v, loader) for v in node.value]


def _spans(root) -> tuple[int, int]:
    """(body_start, body_end) of a document from its nodes, as the event pass finds them:
    the first node's start, the end of the last scalar or flow collection."""
    node = root
    while True:
        if node.__class__ is ScalarNode or node.flow_style or not node.value:
            return root.start_mark.index, node.end_mark.index
        last = node.value[-1]
        node = last[1] if node.__class__ is MappingNode else last


def _expanded_size(root) -> int:
    """Number of nodes `root` stands for once every alias is expanded (iterative; a node
    that contains itself raises ValueError)."""
    memo: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            if node.__class__ is ScalarNode:
                size = 1
            elif node.__class__ is SequenceNode:
                size = 1 + sum(memo[id(n)] for n in node.value)
            else:
                size = 1 + sum(memo[id(k)] + memo[id(v)] for k, v in node.value)
            memo[key] = min(size, MAX_EXPANDED_NODES + 1)
            continue
        seen = memo.get(key)
        if seen is not None:
            if seen < 0:
                raise ValueError("recursive")
            continue
        memo[key] = -1
        stack.append((node, True))
        if node.__class__ is SequenceNode:
            stack.extend((n, False) for n in node.value)
        elif node.__class__ is MappingNode:
            for k, v in node.value:
                stack.append((k, False))
                stack.append((v, False))
    return memo[id(root)]


class _AliasBomb(ValueError):
    """Aliases expand to more than MAX_EXPANDED_NODES nodes."""


@contextmanager
def _loader(text: str) -> Iterator[Any]:
    """A loader of `text`, with the cyclic GC off while it works: building a large acyclic
    tree, the collector only costs time."""
    loader = SafeLoader(text)
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        yield loader
    finally:
        loader.dispose()
        if gc_was_on:
            gc.enable()


def _compose_and_build(text: str, aliases: bool, line_offset: int = 0) -> tuple[Any, Any, bool]:
    """The one load core: (node tree, data, whether the fast builder built it) of one YAML
    document. With `aliases` false the fast builder is tried first; with it true the
    expanded size is checked first. Raises
    yaml.YAMLError, ValueError (a node that contains itself), _AliasBomb, RecursionError.
    `line_offset` (the lines of the file before `text`) goes into the lines that messages
    name in their text; the marks stay relative to `text`."""
    with _loader(text) as loader:
        loader.line_offset = line_offset
        node = loader.get_single_node()
        if node is None:
            return None, None, False
        if aliases:
            if _expanded_size(node) > MAX_EXPANDED_NODES:
                raise _AliasBomb
        else:
            try:
                return node, _build(node, loader), True
            except (_Slow, RecursionError):
                pass
        return node, loader.construct_document(node), False


def rebuild(node: Any) -> Any:
    """The data of a node tree :func:`load_document` kept (``doc.node``: one the fast
    builder built, which leaves the nodes as they were composed; the standard constructor
    rearranges merge keys), built again: a changed document's "before", without a second
    parse."""
    with _loader("") as loader:
        return _build(node, loader)


def load_document(doc: Document, keep_node: bool = False) -> Any:
    """Safely load one document's data; errors name the source, the document's index within
    it and the line in it. With `keep_node`, its node tree stays in ``doc.node`` (for the
    text edit of a document rendered right after planning: one parse, not two)."""
    def refuse(message: str) -> InputError:
        return InputError(message, source=doc.source, document=doc.index_in_source, line=doc.first_line)

    try:
        node, data, fast = _compose_and_build(doc.text, doc.has_aliases, doc.first_line - 1)
    except yaml.MarkedYAMLError as exc:
        raise mark_error(exc, doc.source, doc.index_in_source, doc.first_line - 1, doc.text) from None
    except _AliasBomb:
        raise refuse(f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                     "(an alias bomb?); refusing the document") from None
    except ValueError:
        raise refuse("an alias refers to a node that contains it (a recursive "
                     "structure); refusing the document") from None
    except RecursionError:
        raise refuse("nesting too deep to process") from None
    if keep_node and fast:
        doc.node = node
    if node is not None and not doc.spans_exact:
        doc.body_start, doc.body_end = _spans(node)
        doc.spans_exact = True
    return data


def compose_text(text: str) -> tuple[Any, Any]:
    """(node tree, data) of one YAML document, built from the same nodes with the loader
    :func:`load_document` uses (same tags, same refusals, the fast builder when there can be
    no alias). For callers that edit text at node positions (textpatch). Raises
    yaml.YAMLError or ValueError (a recursive alias or an alias bomb)."""
    return _compose_and_build(text, "*" in text)[:2]


def load_text(text: str) -> Any:
    """The data of one YAML document, read as :func:`compose_text` reads it."""
    return compose_text(text)[1]


def load_data(text: str, source: str) -> Any:
    """Load a small standalone YAML file (a profile, a config) safely."""
    _, docs = split_stream(text, source)
    real = [d for d in docs if d.root != "empty"]
    if len(real) > 1:
        raise InputError("expected one YAML document, found several", source=source)
    return real[0].load() if real else None


