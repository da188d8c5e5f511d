"""Plan once per pod template *shape* (issue #22).

A chart renders the same pod template many times over: replicas of one Deployment per
team, per tenant, per region, that differ in their names and labels only. The controls'
plan and the Pod Security accounting read the template's spec and annotations and the
resource's kind, never its names or labels, so two templates equal in everything else get
the same changes, skips, warnings and levels. `ShapeCache` keeps them per run: the first
template of a shape is planned by the controls, every later one replays the recorded
outcome (the same changes applied to its own data, copies of its skips and warnings).

The key is the repr of the template with the metadata's `labels` left out, with the
resource's apiVersion, kind and webhook restrictions, the template's pointer and the
opt-outs that apply to it. A repr, not JSON: it keeps types apart (`1`, `'1'`, `True`,
an int key and a str key). Only plain pod templates are cached: a synthetic view (Argo,
Tekton, Kruise) is made of the resource's own dicts and translated field by field.

`tests/test_shapes.py` runs every corpus stream, golden case and example through every
built-in profile with the cache and without it and compares output bytes and reports.
"""

from __future__ import annotations

from typing import Any

from .kube.workloads import PodTemplate

#: Entries kept per run: a stream of all-distinct templates must not grow memory with it
#: (the CLI holds one document at a time); past it the cache starts over.
MAX_SHAPES = 512


def _clone(record: Any) -> Any:
    """A shallow copy of a slotted Record (Skip, Warning): a later pass may set a field
    (`check`) on one resource's skip, never on another's."""
    new = record.__class__.__new__(record.__class__)
    for f in record._fields:
        object.__setattr__(new, f, getattr(record, f))
    return new


class Plan:
    """What planning one template shape gave: the changes as applied, the warnings and
    skips appended to its result (accounting included), the count of changes that change
    what runs, and the PSS level met after."""

    __slots__ = ("changes", "warnings", "skipped", "changes_what_runs", "after")

    def __init__(self) -> None:
        self.changes: list = []
        self.warnings: list = []
        self.skipped: list = []
        self.changes_what_runs = 0
        self.after: str | None = None


class ShapeCache:
    """Plans by template shape, for one run (one profile, one target version, one image map)."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._before: dict[str, str] = {}

    def key(self, pt: PodTemplate, skip_controls: frozenset, skip_containers: frozenset) -> str | None:
        """The template's shape, or None when it is not cached (a synthetic pod view)."""
        if type(pt) is not PodTemplate:
            return None
        tpl = pt.template
        if not isinstance(tpl, dict):
            return None
        meta = tpl.get("metadata")
        if isinstance(meta, dict) and "labels" in meta:
            tpl = {k: (v if k != "metadata" else {mk: mv for mk, mv in meta.items() if mk != "labels"})
                   for k, v in tpl.items()}
        try:
            return repr((pt.api_version, pt.kind, pt.restrictions, pt.pointer,
                         sorted(skip_controls), sorted(skip_containers), tpl))
        except RecursionError:  # nested as deep as the reader allows: planned, not cached
            return None

    def before(self, key: str, level) -> str:
        """The PSS level the template met before hardening (`level()` the first time)."""
        found = self._before.get(key)
        if found is None:
            if len(self._before) >= MAX_SHAPES:
                self._before.clear()
            found = self._before[key] = level()
        return found

    def get(self, key: str | None) -> Plan | None:
        return None if key is None else self._plans.get(key)

    def put(self, key: str | None, plan: Plan) -> None:
        if key is None:
            return
        if len(self._plans) >= MAX_SHAPES:
            self._plans.clear()
        self._plans[key] = plan

    @staticmethod
    def record(result: Any, changes_from: int, warnings_from: int, skipped_from: int,
               changes_what_runs: int, after: str | None) -> Plan:
        plan = Plan()
        plan.changes = result.changes[changes_from:]
        plan.warnings = [_clone(w) for w in result.warnings[warnings_from:]]
        plan.skipped = [_clone(s) for s in result.skipped[skipped_from:]]
        plan.changes_what_runs, plan.after = changes_what_runs, after
        return plan

    @staticmethod
    def replay(plan: Plan, result: Any, apply) -> str | None:
        """Apply the plan's changes to this template's data (`apply(change)`) and report
        them on `result`; returns the level met after."""
        for change in plan.changes:
            apply(change)
            result.changes.append(change)
        result.warnings.extend(_clone(w) for w in plan.warnings)
        result.skipped.extend(_clone(s) for s in plan.skipped)
        if plan.changes:
            result.extra["changesWhatRuns"] = result.extra.get("changesWhatRuns", 0) + plan.changes_what_runs
        return plan.after
