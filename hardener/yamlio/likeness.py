"""Which item of an old list is which item of the new one, and equality that tells 1 from 1.0.

What the text patcher and the re-emitter use to keep an unchanged item's text when items
are inserted in front of it or removed."""

from __future__ import annotations

import math
from typing import Any, Callable

#: How many item comparisons the list diffs of one patch may make before pairing by position,
#: and how many levels deep they compare items.
_LIKENESS_BUDGET = 50_000
_LIKENESS_DEPTH = 4


def same(a: Any, b: Any) -> bool:
    """Equality that tells 1 from 1.0 and True, as a faithful YAML round trip must."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return ({(type(k), k) for k in a} == {(type(k), k) for k in b}
                and all(same(v, b[k]) for k, v in a.items()))
    if type(a) is list:
        return len(a) == len(b) and all(map(same, a, b))
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _identity(item: Any) -> tuple:
    """What names a list item as an object: a resource's apiVersion, kind, name and
    namespace; a container's, volume's or env var's `name` (empty for anything else)."""
    if type(item) is not dict:
        return ()
    meta = item.get("metadata")
    meta = meta if type(meta) is dict else {}
    ident = tuple((k, item[k]) for k in ("apiVersion", "kind", "name") if isinstance(item.get(k), str))
    return ident + tuple((f"metadata.{k}", meta[k]) for k in ("name", "namespace")
                         if isinstance(meta.get(k), str))


def _may_be_same(a: Any, b: Any) -> bool:
    """Could `b` be `a` changed? Not when they name different objects: a ResourceList item
    removed next to another one added must not have its text (and comments) edited into
    the other."""
    ia, ib = _identity(a), _identity(b)
    return not (ia and ib) or ia == ib


class Aligner:
    """Pairs the items of an old list with those of its new version.

    Equal items at both ends are paired first. When the list kept its length the rest is
    paired by position (items changed in place); otherwise by likeness, so an item inserted or
    removed next to changed items does not take their text (and comments).
    Likeness looks a few levels deep and the comparisons of one patch have a budget, past
    which lists are paired by position: a pathological document cannot make the diff slow.
    """

    def __init__(self) -> None:
        self.budget = _LIKENESS_BUDGET

    def align(self, old: list, new: list) -> list[tuple[str, int, int]]:
        """An edit script from `old` to `new`, in list order: ("pair", i, j) when new[j] is
        old[i], maybe changed; ("del", i, -1); ("ins", -1, j), which goes before the next old
        item."""
        n, m = len(old), len(new)
        pre = 0
        while pre < min(n, m) and same(old[pre], new[pre]):
            pre += 1
        suf = 0
        while suf < min(n, m) - pre and same(old[n - 1 - suf], new[m - 1 - suf]):
            suf += 1
        if n == m and all(_may_be_same(old[k], new[k]) for k in range(pre, n - suf)):
            # no item inserted or removed, none swapped for another object: changed in place
            middle = [(k, k) for k in range(n - pre - suf)]
        else:
            _, middle = self._best_pairs(
                old[pre:n - suf], new[pre:m - suf],
                lambda a, b: 1 + self._likeness(a, b, _LIKENESS_DEPTH) if _may_be_same(a, b) else 0)
        pairs = ([(k, k) for k in range(pre)] + [(pre + a, pre + b) for a, b in middle]
                 + [(n - suf + k, m - suf + k) for k in range(suf)])
        return _script(pairs, n, m)

    def _likeness(self, a: Any, b: Any, depth: int) -> int:
        """How much of `a` is still in `b`: roughly, the number of equal nodes in the same
        places (list items matched up by the most alike pairs), `depth` levels down."""
        if type(a) is not type(b):
            return 0
        if depth == 0 or not isinstance(a, (dict, list)):
            return 2 if same(a, b) else 1
        if type(a) is dict:
            return 1 + sum(self._likeness(value, b[key], depth - 1)
                           for key, value in a.items() if key in b)
        return 1 + self._best_pairs(a, b, lambda x, y: self._likeness(x, y, depth - 1))[0]

    def _best_pairs(self, old: list, new: list,
                    gain: Callable[[Any, Any], int]) -> tuple[int, list[tuple[int, int]]]:
        """The order-keeping pairing of items of `old` with items of `new` of the highest total
        gain (pairs of gain 0 are never made), and that total; by position when over budget."""
        n, m = len(old), len(new)
        self.budget -= n * m
        if self.budget < 0:
            pairs = [(k, k) for k in range(min(n, m))]
            return sum(gain(old[k], new[k]) for k, _ in pairs), pairs
        gains = [[gain(a, b) for b in new] for a in old]
        best = [[0] * (m + 1) for _ in range(n + 1)]
        for i in range(n - 1, -1, -1):
            for j in range(m - 1, -1, -1):
                paired = best[i + 1][j + 1] + gains[i][j] if gains[i][j] else 0
                best[i][j] = max(best[i + 1][j], best[i][j + 1], paired)
        pairs, i, j = [], 0, 0
        while i < n and j < m:
            if gains[i][j] and best[i][j] == best[i + 1][j + 1] + gains[i][j]:
                pairs.append((i, j))
                i, j = i + 1, j + 1
            elif best[i][j] == best[i + 1][j]:
                i += 1
            else:
                j += 1
        return best[0][0], pairs


def _script(pairs: list[tuple[int, int]], n: int, m: int) -> list[tuple[str, int, int]]:
    """The edit script of an ordered pairing of n old items with m new items."""
    script: list[tuple[str, int, int]] = []
    i = j = 0
    for pi, pj in pairs:
        script += [("del", k, -1) for k in range(i, pi)] + [("ins", -1, k) for k in range(j, pj)]
        script.append(("pair", pi, pj))
        i, j = pi + 1, pj + 1
    return script + [("del", k, -1) for k in range(i, n)] + [("ins", -1, k) for k in range(j, m)]
