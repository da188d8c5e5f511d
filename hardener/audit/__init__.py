"""`k8s-harden audit`: evaluate every pod template against the Pod Security Standards.

Reads what the hardener reads (stdin, files, directories, a KRM `ResourceList`), finds the
pod templates with the same workload table (the profile's CRDs included), evaluates each
with :func:`hardener.pss.evaluate` at a level and a policy version, and reports the
violations as text, one JSON object or SARIF 2.1.0. Nothing is written back.

With `--profile`, the profile's own controls are reported as a second rule group
(`profile/<control>`): the hardener runs on a copy of each document and every
change it plans is a finding — "what `k8s-harden --profile X` would change". A change whose
control answers a PSS check that already failed on the same pod template is left out (the
PSS finding says it); skips (host access kept, opt-outs, ...) are not findings. Under a
profile whose conflict rule is `fail`, a conflict is a finding: the hardener would stop.

Each finding carries the line of the offending field in its input file, found by composing
the document's text (nodes keep their marks) and walking the JSON pointer; when the field
does not exist (a missing `runAsNonRoot`), the line of its deepest existing parent —
the container, the pod template's `spec`, or at worst the document.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from .. import pss, yamlio
from ..controls import CONTROLS
from ..errors import ConflictError, UsageError
from ..harden import harden_document
from ..inputs import ChartSource, chart_source
from ..kube.pointer import field_path as _field
from ..kube.pointer import resolve as _resolve
from ..kube.podspec import CONTAINER_LISTS
from ..kube.podspec import containers as podspec_containers
from ..kube.workloads import WorkloadTable, find_pod_templates, reported
from ..profile import Profile, load_profile
from ..results import CONFLICT
from .lines import Lines


def rule_id(group: str, check: str) -> str:
    """The stable rule id of a finding: `pss/<check id>` or `profile/<control id>`."""
    return f"{group}/{check}"


@dataclass
class Resource:
    """One resource that holds pod templates: a document, or an item of a List."""

    document: int
    source: str
    line: int
    api_version: str
    kind: str
    namespace: str
    name: str
    pointer: str = ""  # the resource inside its document ("" or "/items/3")
    templates: list["Template"] = field(default_factory=list)
    #: The Helm chart file it was rendered from (`# Source:` or Helm 4's filename annotation).
    chart: ChartSource | None = None

    @property
    def chart_line(self) -> int | None:
        return self.chart.line(self.line) if self.chart else None

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def findings(self) -> list["Finding"]:
        return [f for t in self.templates for f in t.findings]

    @property
    def meets(self) -> str | None:
        """The strictest PSS level every pod template of the resource meets (None when one
        is malformed: no level is claimed for it)."""
        if any(t.meets is None for t in self.templates):
            return None
        return pss.weakest(t.meets for t in self.templates)

    @property
    def passes(self) -> bool:
        return all(t.passes for t in self.templates)


@dataclass
class Template:
    """One pod template and what the audit found on it."""

    pointer: str  # the pod template (metadata + spec) inside the document
    line: int
    meets: str | None  # strictest PSS level met at the audited version (None: malformed)
    findings: list["Finding"] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)


#: The rule groups of hardener.kube.admission: what the API server rejects, what the kubelet
#: refuses, what would not work once started.
ADMISSION_GROUPS = ("api", "kubelet", "runtime")


@dataclass
class Finding:
    """One violation: a failed PSS check, a change/conflict of the profile's controls, or a
    prediction of the admission rules (api/, kubelet/, runtime/)."""

    group: str  # pss | profile | api | kubelet | runtime
    check: str  # PSS check id or control id
    level: str | None  # PSS level of the check; None for the profile group
    resource: Resource
    template: str  # pointer of the pod template
    container: str | None
    path: str  # JSON pointer in the document of the offending (or to-be-changed) field
    value: Any  # the value there now (None: unset)
    message: str
    fix: str
    line: int
    exact: bool  # line is the field's own (else its deepest existing parent's)
    proposed: Any = None  # profile group: the value the hardener would write
    op: str | None = None  # profile group: add | replace | remove | conflict
    severity: str = "error"  # error | warning (admission predictions the input cannot settle)
    reference: str = ""  # admission groups: the Kubernetes "file: function" the rule mirrors

    @property
    def rule(self) -> str:
        return rule_id(self.group, self.check)

    @property
    def chart_line(self) -> int | None:
        """The line in the resource's chart file (an approximation, see ChartSource)."""
        chart = self.resource.chart
        return chart.line(self.line) if chart else None


@dataclass
class AuditReport:
    level: str
    version: tuple[int, int]
    profile: str | None  # the profile whose controls were reported, if any
    documents: int
    resources: list[Resource]
    profile_controls: list[str] = field(default_factory=list)
    node_features: frozenset = frozenset()
    #: what holds pod settings but is not audited (a custom resource no table knows, a
    #: patch over another object): (resource ref, source, line, pointer, Skip kind, message)
    unaudited: list[tuple] = field(default_factory=list)
    #: prefixed to the relative URIs of SARIF locations (the chart's folder in the repository)
    uri_prefix: str = ""

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.resources for f in r.findings]

    @property
    def templates(self) -> list[Template]:
        return [t for r in self.resources for t in r.templates]

    @property
    def failed(self) -> bool:
        return any(not t.passes for t in self.templates)

    def summary(self) -> dict[str, Any]:
        templates = self.templates
        meets = {lvl: 0 for lvl in ("restricted", "baseline", "privileged")}
        for t in templates:
            if t.meets is not None:
                meets[t.meets] += 1
        return {
            "documents": self.documents,
            "resources": len(self.resources),
            "podTemplates": len(templates),
            "passing": sum(1 for t in templates if t.passes),
            "failing": sum(1 for t in templates if not t.passes),
            "findings": len(self.findings),
            "warnings": sum(1 for f in self.findings if f.severity == "warning"),
            "meets": meets,
            "malformed": sum(1 for t in templates if t.meets is None),
        }


def audit_sources(sources, level: str = "restricted", version: tuple[int, int] = pss.LATEST,
                  profile: str | Profile | None = None, node_features=None, images=None,
                  objects_only: bool = True) -> AuditReport:
    """Audit `hardener.inputs.Source` inputs (see :func:`audit_documents`)."""
    from ..pipeline import read, require_objects

    docs = read(sources).documents
    if objects_only:
        require_objects(docs)
    return audit_documents(docs, level, version, profile, node_features, images)


def audit_documents(docs: list[yamlio.Document], level: str = "restricted",
                    version: tuple[int, int] = pss.LATEST,
                    profile: str | Profile | None = None, node_features=None, images=None) -> AuditReport:
    """Evaluate every pod template in the documents (a stream's, or a ResourceList's items,
    whose lines are found in the list's text).

    Every template is checked against the Pod Security Standards (group `pss/`) and the
    admission rules of hardener.kube.admission (`api/`, `kubelet/`, `runtime/`: what the
    API server would reject, what the kubelet of nodes with `node_features` would refuse,
    what would not work once started). `profile` (a name, a path or a loaded
    :class:`Profile`) adds the profile's controls as the `profile/` rule group; without it
    only those, with the workload table (CRDs) of the built-in `restricted` profile.
    `node_features` (names of hardener.profile.NODE_FEATURES) default to the profile's.
    `images` (options.ImageSettings) adds the `image/` group: what the profile (restricted
    without one) would break given each image's config, and the configs not read."""
    from ..kube.admission import NodeFeatures

    if level not in ("baseline", "restricted"):
        raise UsageError(f"--level must be baseline or restricted, got {level!r}")
    prof = profile if isinstance(profile, Profile) else load_profile(profile or "restricted")
    if node_features is not None:
        prof = prof.for_nodes(frozenset(node_features))
    nodes = NodeFeatures(apparmor="appArmor" in prof.node_features,
                         unprivileged_port_sysctl="unprivilegedPortSysctl" in prof.node_features)
    with_profile = profile is not None
    table = WorkloadTable(prof.workloads)
    configs = None
    if images is not None:
        from ..images.lookup import resolve_stream

        configs = resolve_stream(docs, table, images)
    resources: list[Resource] = []
    unaudited: list[tuple] = []
    current: list = [None, None]  # the text document being read and its Lines (its nodes)

    def lines_of(text_doc: yamlio.Document) -> Lines:
        """The Lines of the document being read: the nodes of one document (or of the
        ResourceList whose items are being read) at a time, not the stream's."""
        if current[0] is not text_doc:
            current[:] = [text_doc, Lines(text_doc)]
        return current[1]

    for data_doc in docs:
        text_doc, prefix = data_doc.parent or data_doc, data_doc.pointer
        if not table.may_hold(data_doc):
            continue
        data = data_doc.load(keep_node=True)  # its nodes give the findings their lines
        try:
            _audit_document(data, data_doc, text_doc, prefix, lines_of(text_doc), prof, table, version, level,
                            nodes, with_profile, configs, resources, unaudited)
        finally:
            if data_doc.parent is None:  # audited: its data and nodes are let go
                data_doc.data, data_doc.loaded, data_doc.node = None, False, None
    controls = list(prof.controls) if with_profile else []
    documents = sum(1 for d in docs if d.root != "empty")
    return AuditReport(level, version, prof.name if with_profile else None, documents, resources, controls,
                       prof.node_features, unaudited)


def _audit_document(data: Any, data_doc: yamlio.Document, text_doc: yamlio.Document, prefix: str,
                    where: Lines, prof: Profile, table: WorkloadTable, version: tuple[int, int], level: str,
                    nodes: Any, with_profile: bool, configs: Any, resources: list[Resource],
                    unaudited: list[tuple]) -> None:
    """The resources and findings of one document (or ResourceList item), appended."""
    from ..kube.admission import check

    for resource, at, skip in reported(data, table):
        ns = (resource.get("metadata") or {}).get("namespace") if isinstance(resource.get("metadata"), dict) else None
        ref = f"{resource.get('kind')} {ns + '/' if ns else ''}{(resource.get('metadata') or {}).get('name', '')}"
        unaudited.append((ref, text_doc.source, where.line(prefix + at)[0], prefix + at, skip.kind, skip.reason))
    found = list(find_pod_templates(data, table))
    if not found:
        return
    here: dict[str, Resource] = {}
    templates: dict[str, tuple[Resource, Template]] = {}
    for pt in found:
        res = here.get(pt.resource_pointer)
        if res is None:
            pointer = prefix + pt.resource_pointer
            line = where.line(pointer)[0]
            res = here[pt.resource_pointer] = Resource(
                text_doc.index, text_doc.source, line, pt.api_version, pt.kind,
                pt.namespace, pt.name, pointer, chart=chart_source(text_doc, pt.resource, line))
            resources.append(res)
        tpl = pt.template
        meta, spec = tpl.get("metadata"), tpl["spec"]
        line = where.line(prefix + pt.pointer)[0]
        if pt.problems:
            res.templates.append(_malformed(pt, res, Template(prefix + pt.pointer, line, None),
                                            data, prefix, where))
            continue
        t = Template(prefix + pt.pointer, line, pss.meets(meta, spec, version))
        res.templates.append(t)
        templates[pt.pointer] = (res, t)
        for v in pss.evaluate(meta, spec, level, version):
            path = t.pointer + v.path
            line, exact = where.line(path)
            t.findings.append(Finding("pss", v.check, v.level, res, t.pointer, v.container, path,
                                      v.value, v.message, v.fix, line, exact))
        for a in check(tpl, version, nodes):
            path = t.pointer + a.path
            line, exact = where.line(path)
            group, _, rule = a.rule.partition("/")
            t.findings.append(Finding(group, rule, None, res, t.pointer, a.container, path,
                                      _resolve(data, path[len(prefix):]), a.message, "",
                                      line, exact, severity=a.severity, reference=a.source))
    if with_profile:
        _profile_findings(data, data_doc, prof, table, version, prefix, templates, where, configs)
    if configs:
        _image_findings(data, data_doc, prof, table, version, prefix, templates, where, configs)


def _malformed(pt, res: Resource, t: Template, data: Any, prefix: str, where: Lines) -> Template:
    """The template's api/malformed findings: no PSS level, no other rule (each would
    judge a reading of the object that the API server never makes)."""
    from ..kube.admission import MALFORMED

    group, _, rule = MALFORMED.partition("/")
    for p in pt.problems:
        path = (pt.pointer if p.in_template else pt.resource_pointer) + p.path
        line, exact = where.line(prefix + path)
        t.findings.append(Finding(group, rule, None, res, t.pointer, None, prefix + path,
                                  _resolve(data, path), p.message, "", line, exact,
                                  reference=p.source))
    return t


def _with_rules(profile: Profile, fail_only: str | None) -> Profile:
    """The profile with every `fail` conflict rule turned to `keep`, except `fail_only`'s."""
    def keep(rule: str, cid: str | None) -> str:
        return rule if rule != "fail" or (cid is not None and cid == fail_only) else "keep"

    controls = {cid: {**opts, "conflicts": keep(profile.rule(cid), cid)}
                for cid, opts in profile.controls.items()}
    if controls.get("runAsUser", {}).get("onImageRoot") == "fail" and fail_only != "runAsUser":
        controls["runAsUser"]["onImageRoot"] = "warn"  # the audit reports the prediction
    return profile.replace(controls=controls, conflicts=keep(profile.conflicts, None))


def _plan(data: Any, doc: yamlio.Document, profile: Profile, table: WorkloadTable, version: tuple[int, int],
          images: dict | None = None):
    """Harden a copy: (results, conflicts as (result, Skip) pairs)."""
    index = doc.index

    def harden(prof: Profile):
        return harden_document(copy.deepcopy(data), index, prof, table, version, doc=doc, images=images)

    try:
        return harden(profile), []
    except ConflictError:
        pass
    # The hardener would stop here. Plan with conflicts kept to see the rest, and find
    # which `fail` controls conflict by planning again with only that control failing.
    results = harden(_with_rules(profile, None))
    candidates = {s.control for r in results for s in r.skipped
                  if s.kind == CONFLICT and profile.rule(s.control) == "fail"}
    failing = set()
    for cid in sorted(candidates):
        try:
            harden(_with_rules(profile, cid))
        except ConflictError:
            failing.add(cid)
    conflicts = [(r, s) for r in results for s in r.skipped
                 if s.control in failing and s.kind == CONFLICT]
    return results, conflicts


#: The rules of the image/ group (--images): what an image's config predicts.
IMAGE_RULES = {
    "image/user": ("the image expects another user",
                   "The image's config runs it as root or as a named user; the profile's uid would "
                   "replace it, and an image that owns its files as that user, chowns them or "
                   "switches user at start fails with \"permission denied\"."),
    "image/config": ("the image's config could not be read",
                     "Without the config the image's user and ports are unknown: the profile's uid "
                     "is applied blind."),
}


def _image_findings(data, doc, profile, table, version, prefix, templates, where, configs) -> None:
    """The hardener's image warnings (a copy hardened with the profile) as findings:
    warnings, since only running the image settles them."""
    results, _ = _plan(data, doc, _with_rules(profile, None), table, version, configs)
    for r in results:
        for w in r.warnings:
            if not w.image and w.control != "images":
                continue
            for pt in r.templates:
                refs = [(ln, i) for ln, i, c in podspec_containers(pt.template.get("spec") or {})
                        if str(c.get("name", "")) == w.container]
                if refs and pt.pointer in templates:
                    res, t = templates[pt.pointer]
                    path = f"{t.pointer}/spec/{refs[0][0]}/{refs[0][1]}"
                    line, exact = where.line(path)
                    check = "config" if w.control == "images" else "user"
                    fix = ("set the uid the image expects (securityContext.runAsUser) or opt out with "
                           "k8s-harden.io/skip-controls: runAsUser") if check == "user" else (
                           "make the image's config readable (credentials, --insecure-registry) or "
                           "list it in the --images folder")
                    t.findings.append(Finding("image", check, None, res, t.pointer, w.container, path,
                                              w.image, w.message, fix, line, exact, severity="warning",
                                              reference="the image's config"))
                    break


def _profile_findings(data, doc, profile, table, version, prefix, templates, where, configs=None) -> None:
    results, conflicts = _plan(data, doc, profile, table, version, configs)

    owners = {pt.pointer: pt for r in results for pt in r.templates}

    def template_of(path: str):
        best = max((p for p in templates if path == p or path.startswith(p + "/")), key=len, default=None)
        if best is None:  # a CRD pod's securityContext outside its template (TaskRun podTemplate)
            best = next((p for p in templates if p in owners and owners[p].owns(path)), None)
        return templates[best] if best is not None else (None, None)

    covered = {t.pointer: {f.check for f in t.findings} for _, t in templates.values()}
    for r in results:
        for c in r.changes:
            res, t = template_of(c.path)
            if t is None:
                continue
            if CONTROLS[c.control].pss_checks & covered[t.pointer]:
                continue
            path = prefix + c.path
            line, exact = where.line(path)
            inside = c.path.startswith(t.pointer[len(prefix):] + "/")
            rel = _field(c.path[len(t.pointer) - len(prefix):] if inside else c.path)
            if c.op == "remove":
                fix = f"remove {rel}"
            elif c.path.endswith("/-"):
                fix = f"append {json.dumps(c.value, default=str)} to {rel[:-3]}"
            else:
                fix = f"set {rel} to {json.dumps(c.value, default=str)}"
            msg = f"k8s-harden --profile {profile.name} would {c.op} {rel}: {c.reason}"
            t.findings.append(Finding("profile", c.control, None, res, t.pointer, c.container, path,
                                      _resolve(data, c.path), msg, fix, line, exact, c.value, c.op))
    for r, s in conflicts:
        res, t = template_of(r.templates[0].pointer) if r.templates else (None, None)
        if t is None:
            continue
        path = t.pointer + "/spec"
        spec = _resolve(data, path[len(prefix):])
        if s.container and isinstance(spec, dict):
            for list_name in CONTAINER_LISTS:
                items = spec.get(list_name)
                hit = [i for i, x in enumerate(items if isinstance(items, list) else [])
                       if isinstance(x, dict) and str(x.get("name", "")) == s.container]
                if hit:
                    path = f"{path}/{list_name}/{hit[0]}"
                    break
        line, exact = where.line(path)
        what = s.setting
        msg = (f"{what} conflicts with control {s.control} (rule: fail): "
               f"k8s-harden --profile {profile.name} would stop with an error")
        fix = (f"change {what}, opt out with the annotation k8s-harden.io/skip-controls: {s.control}, "
               f"or set controls.{s.control}.conflicts: keep in the profile")
        t.findings.append(Finding("profile", s.control, None, res, t.pointer, s.container, path,
                                  None, msg, fix, line, False, None, "conflict"))
