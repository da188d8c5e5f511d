"""The entries of a ResourceList's `items`, cut apart by their text: documents of their own.

A KRM ResourceList is one YAML document that holds every resource as an entry of `items`.
Read whole, every item is composed and built (most hold no pod template) and the list's
node tree is kept for the edit: several times the time and the memory the same resources
cost as a stream. :func:`cut` cuts the `items` block sequence at its entries' lines and
moves each entry's text left to column 0, so each one is a document like a stream's:
sniffed by the splitter, loaded only when it may hold a pod template, edited on its own.
The rest of the list becomes a *skeleton*, the list's text with one marker entry where the
items were, small to read and to edit. :func:`paste` puts the entries back, each moved to
its column again (an entry nothing changed as the exact text it came as).

The cut is made only where it is exact: the list a block mapping at column 0 with a plain
``items:`` key, its entries ``-`` at one column with content on the same line, every other
line of an entry indented at least to that content's column, or empty (comments and blank
lines between entries stay where they are, as text between them), no block scalar that keeps
its final empty lines (`|+`: they would sit between the entries) and a line break after the
last entry (what the edit puts after it would join its last line). Moving a block of lines
left or right by the same number of columns changes nothing a YAML reader reads (block
scalar indentation indicators count from the parent's column). A cut in a wrong place
cannot pass unseen: each entry must read on its own as one mapping (a cut inside a quoted
scalar or a flow collection leaves it unterminated, a `---` it exposes makes two
documents), and the skeleton as the list with the marker as its one item. Anything else
gives None, and the caller reads the list whole.
"""

from __future__ import annotations

import re

from ..errors import InputError
from .split import Document, split_stream

#: The one item of a skeleton (what :func:`paste` replaces with the entries).
MARKER = "k8s-harden-items-marker-5b0e2f17"

#: the list's `items:` key (a block sequence follows), at column 0
_ITEMS_LINE = re.compile(r"(?m)^items:[ ]*(?:#[^\r\n]*)?\r?\n")
#: blank and comment lines, then the first entry: `-` at its column, content on its line
_FIRST_ENTRY = re.compile(r"(?:[ ]*(?:#[^\r\n]*)?\r?\n)*(( *)- +)(?=[^ #\r\n])")
_BREAKS = ("\n", "\r\n")
#: a block scalar's keep indicator (`|+`, `>2+`): its empty lines at the end are its value
_KEEP = re.compile(r"[|>][1-9]?\+")
#: a block scalar's header line
_BLOCK = re.compile(r"(?m)[:-] +[|>][-+1-9]*[ ]*(?:#[^\r\n]*)?\r?$")


class Cut:
    """A list cut at its entries: the `skeleton` text and its `marker_line`; each entry's
    span in the list's text, its first line's prefix (`- ` at its column), its content
    column and the text that follows it before the next entry (`gaps`); the entries as
    documents (`docs`: each one's text is ``---`` and the entry at column 0)."""

    __slots__ = ("text", "skeleton", "marker_line", "spans", "prefixes", "columns", "gaps", "docs", "separator")

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int]] = []
        self.prefixes: list[str] = []
        self.columns: list[int] = []
        self.gaps: list[str] = []
        self.docs: list[Document] = []


def cut(rl: Document) -> Cut | None:
    """The entries of `rl`'s `items` as documents, or None where the cut is not exact (see
    the module docstring). Their index is their place in the list; errors in them name the
    list's source, document and the line in the input.

    Only the lines left of the entries' content column are looked at one by one (the
    entries' first lines, blank lines, comments, the list's next key); the entries' other
    lines are moved by one substitution."""
    text = rl.text
    lb = "\r\n" if "\r\n" in text else "\n"
    at = _ITEMS_LINE.search(text)
    if at is None or _ITEMS_LINE.search(text, at.end()) is not None:
        return None
    first = _FIRST_ENTRY.match(text, at.end())
    if first is None:
        return None
    column, col = len(first.group(2)), first.end() - first.start(2)
    entry = re.compile(" " * column + "-" + " " * (col - column - 1) + "(?=[^ #\r\n])")
    out = Cut(text)
    out.separator = "---" + lb
    starts: list[int] = []  # offset of each entry's first line
    last = -1  # the end of the current entry's last content line
    pending_comment = False  # a comment left of the content since `last`
    prev = first.start(2)  # the end of the last line looked at
    for m in re.compile(f"(?m)^(?! {{{col}}})[^\n]*\n?").finditer(text, first.start(2)):
        s, line = m.start(), m.group()
        if s > prev:  # entry lines at or right of the content column came before this one
            if pending_comment:
                return None  # a comment left of the content, inside an entry
            last = s
        prev = m.end()
        if not line:
            break  # the end of the text
        if entry.match(line):
            if starts:
                out.spans[-1] = (out.spans[-1][0], last)
            starts.append(s)
            out.spans.append((s, -1))
            last, pending_comment = m.end(), False
            continue
        stripped = line.strip()
        if not stripped:
            if line not in _BREAKS:
                return None  # a whitespace-only line: moving it would not give its bytes
            continue
        if stripped.startswith("#"):
            pending_comment = True
            continue
        if line[0] not in " -":
            break  # the list's next key
        return None  # a line left of the content that is not an entry's first line
    else:  # the text ends inside the last entry, without a final line break
        if prev < len(text):
            return None  # whatever the edit puts after it would join its last line
    out.spans[-1] = (out.spans[-1][0], last)
    ends = [e for _, e in out.spans]
    out.gaps = [text[e:s] for e, s in zip(ends, starts[1:])] + [""]
    n = len(starts)
    out.prefixes, out.columns = [text[s:s + col] for s in starts], [col] * n
    end = ends[-1]
    out.marker_line = out.prefixes[0] + MARKER + lb
    out.skeleton = text[:starts[0]] + out.marker_line + text[end:]
    # every entry's lines but its first are right of the content column (or empty): one
    # substitution moves them all
    # (after a line break: str.replace, where a regex over the whole list took four times as long)
    pad = " " * col
    region = text[starts[0]:end]
    if "\n" + pad + "\n" in region or "\n" + pad + "\r\n" in region:
        return None  # a line of just the column's spaces: moved left and back, it would lose them
    if _KEEP.search(region):
        return None  # a block scalar that keeps its final empty lines, which the gap after its entry holds
    if text[end:end + 1] in ("\n", "\r") and _BLOCK.search(text, starts[-1], end):
        return None  # empty lines after the last entry, which may end in a block scalar: the reader
        # counts them to the scalar's node, and the whole list's edit writes after them
    joined = "".join(out.separator + text[s + col:e] for s, e in out.spans).replace("\n" + pad, "\n")
    try:
        _, docs = split_stream(joined, rl.source)
    except InputError:
        return None  # cut where it must not be: the list read whole says what is wrong, if anything
    if len(docs) != n or any(d.root != "mapping" for d in docs):
        return None
    line, counted = rl.first_line - 1, 0
    for i, (d, s) in enumerate(zip(docs, starts)):
        d.index, d.index_in_source = i, rl.index_in_source
        d.parent, d.pointer = rl, f"/items/{i}"
        d.seq_indent = column  # the list's own: its items' dashes under `items:`
        line += text.count("\n", counted, s)
        counted = s
        d.first_line = line  # its `---` line stands where the line before the entry's first is
    out.docs = docs
    return out


def paste(c: Cut, texts: dict[int, str]) -> list[str] | None:
    """The text of the list's items, in pieces: each entry as it came, or as `texts` (index
    -> an entry document's new text; taken out of it as it is used) has it, moved to its
    column again; None (and `texts` as it was) when a new text is not one that can be moved
    back: it must start with the document's `---` line and then the entry's first key, and
    end in a line break where the entry did."""
    for i, new in texts.items():
        s, e = c.spans[i]
        if not _movable(new, c.separator, c.text[e - 1:e] == "\n"):
            return None
    parts = []
    for i, ((s, e), prefix, col, gap) in enumerate(zip(c.spans, c.prefixes, c.columns, c.gaps)):
        new = texts.pop(i, None)
        if new is None:
            parts.append(c.text[s:e])
        else:  # the entry's first line behind its dash, every other line but empty ones moved right
            parts.append(prefix + _moved_right(new[len(c.separator):], " " * col))
        if gap:
            parts.append(gap)
    return parts


def _moved_right(body: str, pad: str) -> str:
    """Every line of `body` but its first and the empty ones (a line break alone) behind
    `pad` (str.replace, then the empty lines it padded given back)."""
    moved = body.replace("\n", "\n" + pad)
    if body.endswith("\n"):  # the final line break has no line after it
        moved = moved[:-len(pad)]
    for empty in ("\n" + pad + "\n", "\n" + pad + "\r\n"):
        while empty in moved:
            moved = moved.replace(empty, empty.replace(pad, ""))
    return moved


def _movable(text: str, separator: str, broken: bool) -> bool:
    if not text.startswith(separator):
        return False
    body = text[len(separator):]
    return bool(body) and body[0] not in " #-?%!&*\r\n" and not body.startswith("...") \
        and body.endswith("\n") == broken
