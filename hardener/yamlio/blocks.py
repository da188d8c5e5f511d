"""New values written in block style, with the document's own indent step and list offset.

What the text patcher inserts (a container's new securityContext block) and what a KRM
function appends (its `results`, one mapping per change), and the proofs that such lines
read back as the value they were written for without loading the document again."""

from __future__ import annotations

from typing import Any

from .likeness import same
from .load import load_text
from .snippets import key_text, memoised, plain_shape, scalar_lines

_PROVEN: dict = {}  # (the block's repr, indent step, list offset) -> whether it reads back as itself
#: ((key, value) or (key, None, repr of the value), (indent step, list offset)) -> the
#: entry's proven lines at column 0
_PAIRS: dict = {}


def _entry_key(key: Any, value: Any) -> tuple:
    """The memo key of one mapping entry in _PAIRS: (key, value) for a string value, else
    (key, None, repr of the value), as repr tells 1 from 1.0, True and "1"."""
    return (key, value) if value.__class__ is str else (key, None, repr(value))


class Blocks:
    """Block-style lines of new values for one document's layout: mappings indented by
    `step`, lists by `seq_indent` under their key (0: indentless)."""

    __slots__ = ("step", "seq_indent")

    def __init__(self, step: int, seq_indent: int) -> None:
        self.step, self.seq_indent = step, seq_indent

    def render(self, value: Any, col: int, in_seq: bool) -> tuple[str, list[str]]:
        """`value` as the rest of the line of a key at column `col` (or of a dash at `col`
        when `in_seq`) and the lines below it."""
        if isinstance(value, (dict, list)) and value:
            if in_seq:  # `- a: 1` / `- - x`: the first line shares the dash's line
                lines = self.lines(value, col + 2)
                return " " + lines[0][col + 2:], lines[1:]
            inner = col + (self.step if isinstance(value, dict) else self.seq_indent)
            return "", self.lines(value, inner)
        first, *rest = scalar_lines(value)
        return " " + first, [" " * col + line if line else line for line in rest]

    def lines(self, value: dict | list, col: int) -> list[str]:
        """Block-style lines of a non-empty mapping or list whose keys or dashes sit at `col`."""
        pad, lines = " " * col, []
        if isinstance(value, dict):
            for key, item in value.items():
                head, below = self.render(item, col, in_seq=False)
                lines.append(f"{pad}{key_text(key)}:{head}")
                lines += below
        else:
            for item in value:
                head, below = self.render(item, col, in_seq=True)
                lines.append(f"{pad}-{head}")
                lines += below
        return lines

    def reads_back(self, added: dict) -> bool:
        """Are the lines :meth:`lines` writes for `added` of :func:`plain_shape`, and do they
        (at column 0; at any other column they are the same lines, indented alike) load as
        `added`? Decided once per block and layout; repr tells 1 from 1.0, True and "1"."""
        def read() -> bool:
            if not plain_shape(added):
                return False
            try:
                return same(load_text("".join(line + "\n" for line in self.lines(added, 0))), added)
            except Exception:  # noqa: BLE001 - not provable: the careful path reads it back
                return False
        return memoised(_PROVEN, (repr(added), self.step, self.seq_indent), read)

    def mapping_list(self, items: list, col: int, lb: str) -> str | None:
        """:meth:`mapping_parts` joined."""
        parts = self.mapping_parts(items, col, lb)
        return None if parts is None else "".join(parts)

    def mapping_parts(self, items: list, col: int, lb: str) -> list[str] | None:
        """The lines (each ending in `lb`) of a block list of mappings whose dashes sit at
        `col`, as :meth:`lines` writes them — or None when a part is not provably read back
        as itself (then the caller takes the careful path).

        For a long list whose items share most of their entries (a KRM function's results:
        thousands of mappings, each a message, a severity, a resourceRef, ...): each distinct
        entry (key and value) is written once at column 0 and proven once, for all of them
        in one load (:meth:`_prove`), then indented. That proves the list: an item is its
        entries' lines at one column, the first behind its dash (`- key: ...`), and a line
        at that column after an entry's last line starts the next entry (the parser's rule
        for block mappings, yaml.parser parse_block_mapping_key), so entries that read back
        alone read back together; a mapping's keys are distinct.

        In pieces, one per entry: the text of an entry many items hold is one string they
        share (a function's output is mostly its results: never held as one copy per entry)."""
        inner = " " * (col + 2)
        layout = (self.step, self.seq_indent)
        found: dict = {}  # memo key -> the entry's lines at column 0 (None: not proven yet)
        unproven: dict = {}  # memo key -> (key, value)
        shared: dict = {}  # (key, id of a value several items hold) -> (its memo key, the value)
        same: dict = {}  # memo key -> itself (one key object per distinct entry); (memo,) likewise
        flat: list = []  # the memo key of each entry in order; an item's first as (memo,)
        append = flat.append
        for item in items:  # may be made one by one: nothing here holds an item
            if item.__class__ is not dict or not item:
                return None
            first = True
            for key, value in item.items():
                if value.__class__ is str:
                    memo = (key, value)  # as _entry_key, without its call on the most common entry
                else:  # a value several items hold is keyed once (and held: its id stays its own)
                    held = shared.get((key, id(value)))
                    if held is None:
                        if key.__class__ is not str:
                            return None
                        held = shared[(key, id(value))] = (_entry_key(key, value), value)
                    memo = held[0]
                memo = same.setdefault(memo, memo)
                if memo not in found:
                    if key.__class__ is not str:
                        return None
                    found[memo] = _PAIRS.get((memo, layout))
                    if found[memo] is None:
                        unproven[memo] = (key, value)
                if first:
                    head = (memo,)
                    append(same.setdefault(head, head))
                    first = False
                else:
                    append(memo)
        if unproven:
            proven = self._prove(unproven)
            if proven is None:
                return None
            found.update(proven)
        dash = " " * col + "- "
        texts = {}
        for memo, lines in found.items():
            texts[memo] = text = "".join(inner + line + lb for line in lines)
            texts[(memo,)] = dash + text[len(inner):]
        return list(map(texts.__getitem__, flat))

    def _prove(self, pairs: dict) -> dict | None:
        """The lines (at column 0) of each (key, value) of `pairs` as a one-entry block
        mapping, each proven to read back as itself — or None. Proven ones are kept in
        _PAIRS for later lists too.

        Values of :func:`plain_shape` only (no block scalar, whose lines depend on their
        column). A scalar or list value is written and read back: all of them, each behind
        a dash, in one load. A mapping value is proven by its parts: its key's line
        (`key:`, read back alone in the same load) and each of its entries, proven the same
        way and indented by the step below it, which are the lines :meth:`lines` writes for
        it (so 2,000 resourceRefs that differ in their names read back as 2,000 one-line
        names, not 2,000 blocks)."""
        layout = (self.step, self.seq_indent)
        leaves: dict = {}  # memo -> (key, value): written and read back
        heads: dict = {}  # key of a mapping value -> None: its `key:` line read back
        nested: dict = {}  # memo of a mapping-valued pair -> (key, memos of its entries), innermost first

        def plan(memo: tuple, key: Any, value: Any) -> bool:
            if key.__class__ is not str:
                return False
            if value.__class__ is not dict or not value:
                leaves[memo] = (key, value)
                return plain_shape(value)
            parts = []
            for k, v in value.items():
                part = _entry_key(k, v)
                if (part, layout) not in _PAIRS and part not in leaves and part not in nested:
                    if not plan(part, k, v):
                        return False
                parts.append(part)
            heads[key] = None
            nested[memo] = (key, parts)
            return True

        for memo, (key, value) in pairs.items():
            if not plan(memo, key, value):
                return None
        written = {memo: self.lines({key: value}, 0) for memo, (key, value) in leaves.items()}
        text = "".join("- " + lines[0] + "\n" + "".join("  " + line + "\n" for line in lines[1:])
                       for lines in written.values())
        text += "".join(f"- {key_text(key)}:\n" for key in heads)
        try:
            back = load_text(text)
        except Exception:  # noqa: BLE001 - not provable: the careful path reads it back
            return None
        if type(back) is not list or len(back) != len(written) + len(heads):
            return None
        expected = [{key: value} for key, value in leaves.values()] + [{key: None} for key in heads]
        if not all(map(same, back, expected)):
            return None
        pad = " " * self.step
        for memo, (key, parts) in nested.items():  # innermost first: their parts are written
            written[memo] = [key_text(key) + ":"] + [
                pad + line for part in parts for line in written.get(part) or _PAIRS[(part, layout)]]
        if len(_PAIRS) > 50_000:
            _PAIRS.clear()
        for memo, lines in written.items():
            _PAIRS[(memo, layout)] = lines
        return {memo: written[memo] for memo in pairs}
