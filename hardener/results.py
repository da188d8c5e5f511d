"""What every stage hands on: the planned changes, the skips and the per-resource result.

Plain records, no behaviour. Controls yield :class:`Change` and :class:`Skip`; the
hardener collects them per resource in a :class:`ResourceResult`; the report, KRM
results, the policy emitter and the audit read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any



def json_copy(value: Any) -> Any:
    """A deep copy of JSON-like data: no shared references (so the writer never needs
    `&id001` anchors), far cheaper than copy.deepcopy."""
    t = type(value)
    if t is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if t is list:
        return [json_copy(v) for v in value]
    return value


@dataclass
class Change:
    """One JSON Patch operation planned by a control."""

    control: str
    op: str  # add | replace | remove
    path: str  # JSON pointer inside the document
    value: Any = None
    reason: str = ""
    container: str | None = None

    def as_patch(self) -> dict:
        d = {"op": self.op, "path": self.path}
        if self.op != "remove":
            d["value"] = json_copy(self.value)
        return d


# ---- why a control was not applied: the kinds of Skip
OPT_OUT = "opt-out"  # an opt-out annotation said so
CONFLICT = "conflict"  # an explicit setting conflicts and the rule `keep` kept it
HOST_ACCESS = "host-access"  # the workload is built on host access: reported, never removed
NOT_APPLICABLE = "not-applicable"  # does not apply here (Windows pod, target version, hostNetwork)
BLOCKED = "blocked"  # the API or the runtime forbids the change next to another setting
MALFORMED = "malformed"  # the API server cannot decode or always rejects the workload
UNFIXABLE = "unfixable"  # fixing would change what the workload does (a volume type)
UNFIXED = "unfixed"  # a PSS check of the profile's level no control of the profile fixes
UNSUPPORTED = "unsupported"  # the resource's controller does not accept the setting (a CRD)
UNKNOWN_WORKLOAD = "unknown-workload"  # looks like a pod template in a kind no table knows
SKIP_KINDS = (OPT_OUT, CONFLICT, HOST_ACCESS, NOT_APPLICABLE, BLOCKED, MALFORMED, UNFIXABLE,
              UNFIXED, UNSUPPORTED, UNKNOWN_WORKLOAD)


@dataclass
class Skip:
    """A control the profile asked for that was not applied, why, and what kind of reason
    (one of :data:`SKIP_KINDS`). For a conflict, `setting` names the explicit setting kept;
    `check` is the Pod Security Standards check id (:data:`hardener.pss.CHECKS`) the template
    still fails because of it, when it fails one."""

    control: str
    reason: str
    container: str | None = None
    kind: str = field(kw_only=True)
    setting: str | None = field(default=None, kw_only=True)
    check: str | None = field(default=None, kw_only=True)


@dataclass
class Warning:
    """What hardening could not make safe to predict: the change is made, and this is what
    may still break (an image that expects another user, writes to its root filesystem,
    ...). Separate from Skip: nothing was left out."""

    control: str
    message: str
    container: str | None = None


@dataclass
class ResourceResult:
    """What happened to one resource (a document, or one item of a List)."""

    document: int
    api_version: str
    kind: str
    namespace: str
    name: str
    pointer: str = ""  # the resource inside the document
    source: str = ""  # the input it came from (a file, <stdin>)
    source_index: int = -1  # the document's index in that input
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    templates: list = field(default_factory=list)  # the PodTemplates found (kube.workloads)
    template_skips: dict = field(default_factory=dict)  # template pointer -> its own skips
    extra: dict = field(default_factory=dict)  # e.g. PSS levels before/after

    @property
    def ref(self) -> str:
        """`Kind namespace/name`, as messages name a resource."""
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def where(self) -> str:
        """Where the resource is: `FILE, document N` (N counted in that file), or `document N`
        for stdin; a List item adds its pointer."""
        index = self.source_index if self.source_index >= 0 else self.document
        place = f"document {index}" if self.source in ("", "<stdin>") else f"{self.source}, document {index}"
        return place + (f", {self.pointer.lstrip('/')}" if self.pointer else "")
