"""Surgical text edits of one YAML document, so a changed document keeps its comments.

Re-emitting a changed document with PyYAML loses inline comments, quoting and the author's
indentation. :func:`patch_text` instead applies the JSON Patch to the data, compares the old
data with the new data along the composed node tree, and turns each difference into a small
edit at the nodes' character offsets:

* a new key or list item becomes new lines after the last line of its collection (or before
  the item it precedes), indented like its siblings; nested values are written in block style
  with the document's own indent step and list style (indented or indentless);
* a changed scalar is replaced in place, so the rest of its line (an inline comment) stays;
* an empty flow collection (``securityContext: {}``) that gains entries becomes a block one;
  a non-empty flow collection gains ``, key: value`` / ``, item`` before its closing bracket
  (and is rewritten in flow style when it loses one);
* a removed key or list item loses exactly its lines; a list item inserted in front of
  changed items is told apart from them by likeness, so they keep their text.

Diffing the data rather than replaying the operations one by one means one parse for the
whole patch, and values an operation sets to what they already were keep their text.
Everything else stays byte for byte, and inserted lines use the document's line breaks.
The result is loaded again and must equal the patched data — unless every edit is one whose
result is known by construction (new keys after the last line of a block mapping, in plain
ASCII text without aliases, merge keys or tags, the inserted lines read back once per block:
:meth:`_Patcher._proves_insertion`), which is what hardening a manifest mostly does; ops that
only add such keys are then written straight from the loader's nodes (:meth:`_Patcher.insert`).
When the read-back differs, or when an edit is not one this module knows to make safely (a
change at or beside a node an alias shares — its marks are the anchor's —, merge keys,
explicit `? ` keys, ...), the answer is None and the caller re-emits the document. Anchors
and aliases elsewhere in the document stay as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable

import yaml

from ..kube.pointer import unescape
from .blocks import Blocks
from .likeness import Aligner, same
from .load import compose_text, load_text
from .snippets import (
    MEMO,
    STR_TAG,
    Unsafe,
    flow_inner,
    flow_value,
    memoised,
    plain_text,
    quoted_scalar,
    scalar_lines,
)

_OPS = frozenset({"add", "replace", "remove"})
_MISSING = object()
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOM = "\ufeff"
#: where a tag (`!`), an alias (`*`) or a merge key (`<<`) can start a node: at a line's start,
#: or after a space, a flow indicator or a `:`. Anything else holding one of them is inside a
#: scalar (`#!/bin/sh` in a script, `*.conf` in a pattern), which the nodes mirror as they are.
_NODE_PROPERTY = re.compile(r"(?:^|[\s\[\]{},:])(?:[!*]|<<)", re.M)
#: The slot of a node inside a flow collection: replaced by its flow rendering.
_FLOW = ("flow", None)


def patch_text(text: str, ops: list[dict], new: Any = _MISSING, why: list | None = None,
               root: Any = None, rebuild: Callable[[Any], Any] | None = None,
               seq_indent: int | None = None) -> str | None:
    """Apply JSON-Patch `ops` (RFC 6902 'add' / 'replace' / 'remove' only, paths are JSON pointers
    relative to the document root) to the YAML document `text` (one document; it may start with a
    `---` line and comment lines, and end with trailing comments). Return the new text, or None
    when the edit cannot be done safely (the caller then falls back to re-emitting the document);
    then `why`, if given, receives the reason. `root`: the node tree of `text` as compose_text
    reads it, when the caller has it, and `rebuild(root)` its data (no second parse); with
    `new` given too, ops that only add new keys to block mappings are written straight from
    the nodes (:meth:`_Patcher.insert`), without the data before. `seq_indent`: the offset
    of new lists where the document shows none (Document.seq_indent)."""
    reason = "the edit did not read back as planned"
    try:
        if not all(isinstance(op, dict) and op.get("op") in _OPS for op in ops):
            return None
        bom = _BOM if text.startswith(_BOM) else ""  # libyaml's offsets do not count a BOM
        body = text[len(bom):]
        if root is not None and not bom and rebuild is not None:
            if new is not _MISSING:
                direct = _Patcher(body, root, seq_indent).insert(ops, new)
                if direct is not None:
                    return direct
            old = rebuild(root)
        else:
            root, old = compose_text(body)
        if root is None:
            return None
        if new is _MISSING:
            import copy

            from ..kube.pointer import apply_patch
            from ..results import json_copy

            # applied in order to a deep copy, with copies of the ops' values (the applier
            # inserts values by reference: the caller's ops must not become part of `new`)
            new = apply_patch(copy.deepcopy(old), json_copy(ops))
        patcher = _Patcher(body, root, seq_indent)
        result = patcher.patch(old, new)
        if patcher.proven or same(load_text(result), new):
            return bom + result
    except Unsafe as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - the contract: any failure means "re-emit instead"
        reason = f"{type(exc).__name__} while editing"
    if why is not None:
        why.append(reason)
    return None


def blocks_of(text: str, root: Any) -> Blocks | None:
    """The writer of new block values in the layout the patcher finds in `text` (its node
    tree `root`, as compose_text reads it): for values appended after its edits (a KRM
    function's results). None where the patcher would not edit the text."""
    if text.startswith(_BOM) or root is None:
        return None
    try:
        patcher = _Patcher(text, root)
    except Unsafe:
        return None
    if patcher.plain_nodes:  # nothing shared by an alias: the survey is all the patcher needs
        _SURVEYED[:] = [(root, text, patcher.plain_nodes, patcher.step, patcher.seq_indent)]
    return patcher.blocks


#: The survey :func:`blocks_of` made, for the patcher that edits the same text next (one
#: survey of a ResourceList, not two): (root, text, plain_nodes, step, seq_indent).
_SURVEYED: list = []


def _insertion_order(insert: tuple) -> tuple[int, int]:
    """(offset, depth, ...) -> its place: by offset, and at one offset the deeper mapping's
    keys first (they end it; its parent's new keys follow), as the diff's recursion has them."""
    return insert[0], -insert[1]


def _is_block(node: yaml.Node) -> bool:
    """A block collection or block scalar: spans whole lines rather than part of one."""
    if isinstance(node, yaml.ScalarNode):
        return node.style in ("|", ">")
    return not node.flow_style


def _is_flow_collection(node: yaml.Node) -> bool:
    return isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and bool(node.flow_style)


def _span_end(node: yaml.Node) -> int:
    """Offset just past the node's last character. A block collection's end mark lies at the
    next token (after comments), so its last leaf is used instead."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style \
            and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark.index


def _ends_in_multiline_string(value: Any) -> bool:
    """True when the last line written for `value` is inside a literal block, which needs
    its line break even at the end of a document that has no final one."""
    while isinstance(value, (dict, list)) and value:
        value = next(reversed(value.values())) if isinstance(value, dict) else value[-1]
    return isinstance(value, str) and "\n" in value


class _Spans:
    """The entries of a block collection as (offset of the key or dash, offset of the line
    after the value, kept), the middle one found only when asked for: an entry nobody removes
    is never measured (its value may be a node an alias shares, whose marks are elsewhere)."""

    def __init__(self, patcher: "_Patcher", entries: list[tuple[int, yaml.Node, bool]]):
        self.patcher, self.entries, self.after = patcher, entries, {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> tuple[int, int, bool]:
        start, node, kept = self.entries[i]
        if i not in self.after:
            self.after[i] = self.patcher._line_after(node)
        return start, self.after[i], kept

    def start(self, i: int) -> int:
        return self.entries[i][0]


class _Patcher:
    """Collects the text edits that turn the old data of one document into the new data.

    A node's *slot* says what holds it: ("key", key_node) for a block mapping value,
    ("dash", offset of the `-`) for a block list item, _FLOW inside a flow collection, None
    for the root. Edits are (start, stop, replacement) in the original text, emitted in text
    order so that insertions at the same offset (a nested mapping's new key and its parent's)
    come out in the right order.
    """

    def __init__(self, text: str, root: yaml.Node, seq_indent: int | None = None):
        self.text = text
        self.default_seq_indent = seq_indent
        self.root = root
        self.lb = "\r\n" if "\r\n" in text else "\n"
        self.edits: list[tuple[int, int, str]] = []
        self.aligner = Aligner()
        self.shared: set[int] = set()  # nodes reached through an alias (see _survey)
        # without an alias, a merge key (`<<`, or an explicit tag) or any other tag (where one
        # can start a node: _NODE_PROPERTY), the data
        # came from the fast builder (load._build): no node is reached twice, and the
        # constructor rearranged none (it splices merged entries into their mapping)
        surveyed = _SURVEYED.pop() if _SURVEYED else None
        if surveyed is not None and surveyed[0] is root and surveyed[1] == text:
            self.plain_nodes, self.step, self.seq_indent = surveyed[2:]
        else:
            self.plain_nodes = not (("*" in text or "<<" in text or "!" in text) and _NODE_PROPERTY.search(text))
            self.step, self.seq_indent = self._survey()
        self.blocks = Blocks(self.step, self.seq_indent)  # new values' lines, in this document's layout
        #: every edit so far is one whose result is known without reading it back (see
        #: :meth:`_proves_insertion`); any other edit clears it, and the result is then
        #: loaded again and compared with the planned data
        self.proven = self.plain_nodes and plain_text(text)
        self._keys: dict[int, dict] = {}  # id of a mapping node -> key text -> value node (insert)

    def patch(self, old: Any, new: Any) -> str:
        self._diff(self.root, old, new, None)
        return self._apply_edits()

    def insert(self, ops: list[dict], new: Any) -> str | None:
        """The text for `ops` that only add keys missing from block mappings of the text (new
        keys, or values inside new keys), written from the nodes and the planned data `new`
        alone: each such mapping gets its new keys, in `new`'s order, as :meth:`patch` would
        write them — or None when any op or insertion is of another kind (then :meth:`patch`
        diffs the data before and after). Only insertions :meth:`_proves_insertion` proves:
        the result is not read back."""
        if not self.proven:
            return None
        points: dict[int, tuple[yaml.MappingNode, list, set]] = {}
        #: the walk of each op's parent path, shared by the ops below one parent (most of
        #: them: a container's new securityContext fields): (node, its path, missing key or None)
        walks: dict[str, tuple | None] = {}
        for op in ops:
            path = op.get("path")
            if op.get("op") != "add" or not isinstance(path, str) or not path.startswith("/"):
                return None
            cut = path.rfind("/")
            head = path[:cut]
            walk = self._walk(head, walks)
            if walk is None:
                return None  # a list, a flow collection or a scalar on the way
            node, at, missing = walk
            if missing is None:
                key = unescape(path[cut + 1:])
                child = self._child_node(node, key)
                if child is False:
                    return None
                if child is not None:
                    return None  # the path exists: a replacement, not a new key
                missing = key
            entry = points.get(id(node))
            if entry is None:
                entry = points[id(node)] = (node, at, set())
            entry[2].add(missing)
        inserts = []
        for node, at, keys in points.values():
            target: Any = new
            try:
                for part in at:
                    target = target[int(part)] if type(target) is list else target[part]
            except (KeyError, IndexError, ValueError, TypeError):
                return None
            if type(target) is not dict or not keys <= target.keys():
                return None
            added = {key: value for key, value in target.items() if key in keys}
            pos = self._line_after(node)
            try:
                if not self._proves_insertion(node, pos, added):
                    return None
            except Unsafe:
                return None  # the diff decides (and words why)
            inserts.append((pos, len(at), node, added))
        inserts.sort(key=_insertion_order)
        for pos, _, node, added in inserts:
            self._insert_block(pos, added, self._column(node.value[0][0].start_mark.index), True)
        return self._apply_edits() if self.proven else None

    def _walk(self, path: str, walks: dict) -> tuple | None:
        """(node, its path parts, None) for the node at the JSON pointer `path` ("" the
        root); (the last node there is, its parts, the first missing key) when a block
        mapping on the way lacks a key; None when anything else is on the way. `walks`
        holds the walks made so far, by path: a path's walk starts from its parent's, so
        the ops below one list item (a ResourceList's) walk the way there once."""
        found = walks.get(path, False)
        if found is not False:
            return found
        if not path:
            found = (self.root, [], None)
        else:
            cut = path.rfind("/")
            found = parent = self._walk(path[:cut], walks)
            if parent is not None and parent[2] is None:
                node, at, _ = parent
                part = unescape(path[cut + 1:])
                child = self._child_node(node, part)
                if child is False:
                    found = None
                elif child is None:
                    found = (node, at, part)
                else:
                    found = (child, at + [part], None)
        walks[path] = found
        return found

    def _child_node(self, node: yaml.Node, part: str) -> Any:
        """The node at `part` below `node`: None when a block mapping has no such key; False
        when `node` is anything else than a non-empty block mapping, or a list item (an
        insertion there is the diff's), or a key spelled `part` is not a string."""
        cls = node.__class__
        if cls is yaml.MappingNode and not node.flow_style and node.value:
            keys = self._keys.get(id(node))
            if keys is None:  # each op walks from the root: index a mapping's keys once
                # (every key is a scalar: the survey refused the rest)
                keys = self._keys[id(node)] = {key.value: (value if key.tag == STR_TAG else False)
                                               for key, value in reversed(node.value)}
            return keys.get(part)
        if cls is yaml.SequenceNode and not node.flow_style and part.isdigit() and part.isascii():
            i = int(part)
            return node.value[i] if i < len(node.value) and str(i) == part else False
        return False

    def _apply_edits(self) -> str:
        parts, pos = [], 0
        for start, stop, replacement in sorted(self.edits, key=lambda edit: edit[0]):
            if start < pos:
                raise Unsafe("overlapping edits")
            parts += (self.text[pos:start], replacement)
            pos = stop
        parts.append(self.text[pos:])
        return "".join(parts)

    # ---- the document's style
    def _survey(self) -> tuple[int, int]:
        """The document's usual mapping indent step and list offset under a key (0 for
        indentless lists); refuses merge keys, whose data the nodes do not mirror, and notes
        the nodes an alias shares (:attr:`shared`): edits may not touch them, their marks
        are their anchor's."""
        steps: Counter[int] = Counter()
        offsets: Counter[int] = Counter()
        seen: set[int] = set()
        aliases = not self.plain_nodes
        scalar, mapping, text = yaml.ScalarNode, yaml.MappingNode, self.text
        stack = [self.root]
        while stack:
            node = stack.pop()
            if aliases:
                if id(node) in seen:
                    self._share(node)
                    continue
                seen.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                stack += node.value if aliases else [v for v in node.value if v.__class__ is not scalar]
            elif isinstance(node, mapping):
                flow = node.flow_style
                for key, value in node.value:
                    if key.__class__ is not scalar or key.tag == _MERGE_TAG or (aliases and id(key) in seen):
                        raise Unsafe("complex, merge or aliased key")
                    if aliases:
                        stack += (key, value)
                    elif value.__class__ is scalar:
                        continue
                    else:
                        stack.append(value)
                    if flow or value.__class__ is scalar or value.flow_style:
                        continue
                    at = key.start_mark.index
                    col = at - text.rfind("\n", 0, at) - 1
                    if value.__class__ is mapping:
                        at = value.value[0][0].start_mark.index
                        steps[at - text.rfind("\n", 0, at) - 1 - col] += 1
                    elif (dash := self._find_dash(value.value[0])) >= 0:
                        offsets[dash - text.rfind("\n", 0, dash) - 1 - col] += 1
        step = next((s for s, _ in steps.most_common() if s > 0), 2)
        seq_indent = next((o for o, _ in offsets.most_common() if o >= 0),
                          step if self.default_seq_indent is None else self.default_seq_indent)
        return step, seq_indent

    def _share(self, node: yaml.Node) -> None:
        """Mark `node` and everything below it as reached through an alias."""
        stack = [node]
        while stack:
            node = stack.pop()
            if id(node) in self.shared:
                continue
            self.shared.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                stack += node.value
            elif isinstance(node, yaml.MappingNode):
                stack += [n for pair in node.value for n in pair]

    def _unshared(self, node: yaml.Node) -> yaml.Node:
        if id(node) in self.shared:
            raise Unsafe("a change at a node an alias shares (it uses anchors and aliases)")
        return node

    # ---- text positions
    def _line_start(self, pos: int) -> int:
        return self.text.rfind("\n", 0, pos) + 1

    def _line_end(self, pos: int) -> int:
        """Offset just past the line break of the line holding `pos` (or the end of text)."""
        brk = self.text.find("\n", pos)
        return len(self.text) if brk < 0 else brk + 1

    def _column(self, pos: int) -> int:
        return pos - self._line_start(pos)

    def _starts_line(self, pos: int) -> bool:
        return not self.text[self._line_start(pos):pos].strip(" ")

    def _is_compact(self, pos: int) -> bool:
        """True for the first key or item after a dash on its line (`- key: v`, `- - x`);
        False when `pos` starts its line; raises for anything else (an explicit `? ` key)."""
        before = self.text[self._line_start(pos):pos]
        if before.strip(" -"):
            raise Unsafe("explicit key or other content before an entry")
        return bool(before.strip(" "))

    def _line_after(self, node: yaml.Node) -> int:
        """Offset of the line after the node's last line."""
        last = self._unshared(node)
        while isinstance(last, (yaml.MappingNode, yaml.SequenceNode)) and not last.flow_style and last.value:
            last = self._unshared(last.value[-1][1] if isinstance(last, yaml.MappingNode) else last.value[-1])
        end = _span_end(node)
        if end and self.text[end - 1] == "\n":  # a block scalar ends after its last break
            return end
        return self._line_end(end)

    def _find_dash(self, item: yaml.Node) -> int:
        """Offset of the `-` of a block list item, or -1. Comments between the dash and the
        item (`- # the app` / `  name: app`, or whole comment lines) are skipped."""
        i = item.start_mark.index - 1
        while i >= 0:
            while i >= 0 and self.text[i] in " \t\r\n":
                i -= 1
            if i < 0 or self.text[i] == "-":
                break
            start = self._line_start(i)
            line = self.text[start:i + 1]
            hash_at = next((k for k, ch in enumerate(line) if ch == "#" and (k == 0 or line[k - 1] in " \t")), -1)
            if hash_at < 0:
                return -1  # not a comment: something else stands between
            i = start + hash_at - 1
        return i if i >= 0 and self.text[i] == "-" else -1

    def _dash(self, item: yaml.Node) -> int:
        dash = self._find_dash(self._unshared(item))
        if dash < 0:
            raise Unsafe("list item without a dash right before it")
        return dash

    # ---- edits
    def _edit(self, start: int, stop: int, replacement: str, proven: bool = False) -> None:
        self.edits.append((start, stop, replacement))
        self.proven = self.proven and proven

    def _insert_block(self, pos: int, value: dict | list, col: int, proven: bool = False) -> None:
        """New entries or items of a block collection at `col`, as whole lines at `pos`
        (`proven`: see :meth:`_proves_insertion`)."""
        if pos < len(self.text) or self.text.endswith("\n"):
            # the same few securityContext blocks are inserted into every document
            text = memoised(MEMO, ("b", repr(value), col, self.step, self.seq_indent, self.lb),
                             lambda: "".join(line + self.lb for line in self._block(value, col)))
            return self._edit(pos, pos, text, proven)
        lines = self._block(value, col)
        final = self.lb if _ends_in_multiline_string(value) else ""  # keep the literal's break
        self._edit(pos, pos, "".join(self.lb + line for line in lines) + final)

    def _insert_before(self, pos: int, items: list, col: int) -> None:
        """New list items before the item whose dash is at `pos`."""
        if not self._is_compact(pos):
            return self._insert_block(self._line_start(pos), items, col)
        lines = self._block(items, col)  # `- - x`: the new items take the dash's place
        self._edit(pos, pos, lines[0][col:] + "".join(self.lb + line for line in lines[1:])
                   + self.lb + " " * col)

    def _remove_entry(self, spans: "_Spans", i: int) -> int:
        """Delete the lines of entry `i` of a block collection, whose entries are given as
        (offset of the key or dash, offset of the line after the value, kept); answers the
        index of the next entry to look at."""
        start, after, _ = spans[i]
        if not self._is_compact(start):
            self._edit(self._line_start(start), after, "")
            return i + 1
        # `- gone: 1` / `  kept: 2` -> `- kept: 2`: the next kept entry moves up behind the dash
        nxt = next(k for k in range(i, len(spans)) if spans.entries[k][2])
        if not any(self.text[spans[k][1]:self._line_start(spans.start(k + 1))].strip()
                   for k in range(i, nxt)):
            self._edit(start, spans.start(nxt), "")
            return nxt
        # a comment line in between would be lost: leave the dash alone on its line instead
        cut = start
        while self.text[cut - 1] == " ":
            cut -= 1
        self._edit(cut, after, self.lb)
        return i + 1

    # ---- the diff
    def _diff(self, node: yaml.Node, old: Any, new: Any, slot: tuple | None) -> None:
        if same(old, new):
            return
        self._unshared(node)
        if isinstance(node, yaml.MappingNode) and type(old) is dict and type(new) is dict \
                and old and new:
            self._diff_mapping(node, old, new, slot)
        elif isinstance(node, yaml.SequenceNode) and type(old) is list and type(new) is list \
                and old and new:
            self._diff_sequence(node, old, new, slot)
        else:
            self._replace(node, new, slot)

    def _diff_mapping(self, node: yaml.MappingNode, old: dict, new: dict,
                      slot: tuple | None) -> None:
        if len(node.value) != len(old):
            raise Unsafe("duplicate keys")
        entries = [(key_node, value_node, key)
                   for (key_node, value_node), key in zip(node.value, old)]
        added = {key: value for key, value in new.items() if key not in old}
        if node.flow_style:
            return self._diff_flow_mapping(node, entries, old, new, added, slot)
        spans = _Spans(self, [(key_node.start_mark.index, value_node, key in new)
                              for key_node, value_node, key in entries])
        col = self._column(spans.start(0))
        i = 0
        if len(added) == len(new) and self._is_compact(spans.start(0)):
            # `- gone: 1` -> `- new: 2`: no kept entry holds the place behind the dash, so
            # the new entries take the first old one's lines
            start, after, _ = spans[0]
            lines = self._block(added, col)
            ends_line = self.text[after - 1] == "\n" or _ends_in_multiline_string(added)
            brk = self.lb if ends_line else ""
            self._edit(start, after,
                       lines[0][col:] + "".join(self.lb + line for line in lines[1:]) + brk)
            i, added = 1, {}
        while i < len(entries):
            key_node, value_node, key = entries[i]
            if key in new:
                self._diff(value_node, old[key], new[key], ("key", key_node))
                i += 1
            else:
                i = self._remove_entry(spans, i)
        if added:
            pos = self._line_after(node)
            self._insert_block(pos, added, col, self.proven and self._proves_insertion(node, pos, added))

    def _proves_insertion(self, node: yaml.MappingNode, pos: int, added: dict) -> bool:
        """Is the document with `added` written as new lines at `pos` (after the last line of
        the block mapping `node`, keys at its keys' column) known to read back as the old data
        plus `added`, without loading it again?

        It is when the lines go in where no value of the mapping goes on (`pos` starts a line
        after its last leaf, and that leaf is no block scalar, whose kept trailing lines would
        move), and the new lines are keys, dashes and one-line scalars (:func:`plain_shape`)
        that, read alone, give `added` (:meth:`_block_reads_back`, once per block and
        layout): a block mapping's entries are the lines at its keys' column up to the
        first line of less indentation, and a line at that column after its last entry is a
        new entry of it (the parser's rule for block mappings, yaml.parser
        parse_block_mapping_key), so lines that read as `added` alone read as `added` there."""
        last = node
        while last.__class__ is not yaml.ScalarNode and not last.flow_style and last.value:
            last = last.value[-1][1] if last.__class__ is yaml.MappingNode else last.value[-1]
        if last.__class__ is yaml.ScalarNode and last.style in ("|", ">"):
            return False
        if not self._keys_start_lines(node):
            return False
        return (0 < pos < len(self.text) or self.text.endswith("\n")) and self.text[pos - 1] == "\n" \
            and self._block_reads_back(added)

    def _keys_start_lines(self, node: yaml.MappingNode) -> bool:
        """Does every key of the block mapping stand at the start of its line, at one column
        (the first may follow the dashes of compact list items, `- - key:`)? Not an explicit
        `? key`, a key after an anchor, or one on a `---` line: the column of such a key is
        not the mapping's."""
        col = -1
        for i, (key, _) in enumerate(node.value):
            start = key.start_mark.index
            line = self._line_start(start)
            before = self.text[line:start]
            if before.strip(" ") if i else before.strip(" -"):
                return False
            if col >= 0 and start - line != col:
                return False
            col = start - line
        return True

    def _diff_flow_mapping(self, node: yaml.MappingNode, entries: list, old: dict, new: dict,
                           added: dict, slot: tuple | None) -> None:
        if any(key not in new for _, _, key in entries):
            return self._replace(node, new, slot)  # rewritten in flow style
        for _, value_node, key in entries:
            self._diff(value_node, old[key], new[key], _FLOW)
        if added:
            last_key, last_value, _ = entries[-1]
            end = max(last_key.end_mark.index, last_value.end_mark.index)
            self._edit(end, end, ", " + flow_inner(added))

    def _diff_sequence(self, node: yaml.SequenceNode, old: list, new: list,
                       slot: tuple | None) -> None:
        script = self.aligner.align(old, new)
        if node.flow_style:
            return self._diff_flow_sequence(node, script, old, new, slot)
        dashes = [self._dash(item) for item in node.value]
        col = self._column(dashes[0])
        kept = {i for step, i, _ in script if step == "pair"}
        spans = _Spans(self, [(dash, item, i in kept) for i, (dash, item) in enumerate(zip(dashes, node.value))])
        pending: list = []
        resume = 0  # entries before this were removed together with a compact first item
        for step, i, j in script:
            if step == "ins":
                pending.append(new[j])
                continue
            if pending:
                self._insert_before(dashes[i], pending, col)
                pending = []
            if step == "pair":
                self._diff(node.value[i], old[i], new[j], ("dash", dashes[i]))
            elif step == "del" and i >= resume:
                resume = self._remove_entry(spans, i)
        if pending:
            self._insert_block(self._line_after(node), pending, col)

    def _diff_flow_sequence(self, node: yaml.SequenceNode, script: list, old: list, new: list,
                            slot: tuple | None) -> None:
        if any(step == "del" for step, _, _ in script):
            return self._replace(node, new, slot)
        pending: list = []
        for step, i, j in script:
            if step == "ins":
                pending.append(new[j])
                continue
            item = node.value[i]
            if pending:
                start = item.start_mark.index
                self._edit(start, start, flow_inner(pending) + ", ")
                pending = []
            if step == "pair":
                self._diff(item, old[i], new[j], _FLOW)
        if pending:
            end = node.value[-1].end_mark.index
            self._edit(end, end, ", " + flow_inner(pending))

    # ---- replacing a node
    def _replace(self, node: yaml.Node, new: Any, slot: tuple | None) -> None:
        """Write `new` where `node` is: in place when both fit on the node's line (keeping the
        rest of the line), else as the rest of the key's / dash's line plus new lines."""
        start, end = node.start_mark.index, node.end_mark.index
        keeps_flow = _is_flow_collection(node) and node.value and isinstance(new, (dict, list))
        if slot is _FLOW or keeps_flow or (slot is None and not self._starts_line(start)):
            return self._edit(start, end, flow_value(new))  # `{}` may still become a block
        if slot is None:
            return self._replace_root(node, new)
        col, slot_start = self._slot_geometry(slot)
        head, below = self._render(new, col, in_seq=slot[0] == "dash")
        block = _is_block(node)
        if not below and not block:
            if start == slot_start:  # an empty (null) node sits right at the `:` or `-`
                rest = self.text[start:self._line_end(start)]
                spaced = rest[:1] == " " and not rest.strip()  # use a trailing space
                return self._edit(start + spaced, end + spaced, head[spaced:])
            value = head[1:]
            if isinstance(new, str) and getattr(node, "style", None) in ("'", '"'):
                value = quoted_scalar(new, node.style) or value
            return self._edit(start, end, value)
        # A comment right after `key:` stays on the key's line; one after the old value does
        # too unless the value was a block (its last line's comment goes with it).
        first_line = self.text[slot_start:start].split("\n", 1)[0].rstrip("\r")
        if first_line.strip() and not first_line.lstrip().startswith("#"):
            raise Unsafe("unexpected text between the indicator and the value")
        stop, comment, brk = self._tail(node, new)
        if first_line.strip():
            comment = first_line
        self._edit(slot_start, stop,
                   head + comment + "".join(self.lb + line for line in below) + brk)

    def _replace_root(self, node: yaml.Node, new: Any) -> None:
        start = node.start_mark.index
        col = self._column(start)
        if isinstance(new, (dict, list)) and new:
            lines = self._block(new, col)
            lines[0] = lines[0][col:]
        else:
            lines = scalar_lines(new)
        stop, comment, brk = self._tail(node, new)
        self._edit(start, stop, self.lb.join(lines) + comment + brk)

    def _tail(self, node: yaml.Node, new: Any) -> tuple[int, str, str]:
        """Where the text of `node` ends for a replacement: the offset to replace up to, the
        comment after it worth keeping and the line break to end the replacement with."""
        last = _span_end(node)
        if last and self.text[last - 1] == "\n":  # a block scalar ends after its last break
            return last, "", self.lb
        stop = self._line_end(last)
        rest = self.text[last:stop]
        kept = rest.rstrip("\r\n")
        brk = rest[len(kept):] or (self.lb if _ends_in_multiline_string(new) else "")
        return stop, ("" if _is_block(node) else kept), brk

    def _slot_geometry(self, slot: tuple) -> tuple[int, int]:
        """The column of the key or dash holding a node, and the offset just past its `:`/`-`."""
        kind, holder = slot
        if kind == "dash":
            return self._column(holder), holder + 1
        i = holder.end_mark.index
        while self.text[i] in " \t":
            i += 1
        if self.text[i] != ":":
            raise Unsafe("explicit key")
        return self._column(holder.start_mark.index), i + 1

    # ---- new values in block style (yamlio.blocks)
    def _render(self, value: Any, col: int, in_seq: bool) -> tuple[str, list[str]]:
        return self.blocks.render(value, col, in_seq)

    def _block(self, value: dict | list, col: int) -> list[str]:
        return self.blocks.lines(value, col)

    def _block_reads_back(self, added: dict) -> bool:
        return self.blocks.reads_back(added)
