"""`k8s-harden audit`: evaluate every pod template against the Pod Security Standards.

Reads what the hardener reads (stdin, files, directories, a KRM `ResourceList`), finds the
pod templates with the same workload table (the profile's CRDs included), evaluates each
with :func:`hardener.pss.evaluate` at a level and a policy version, and reports the
violations as text, one JSON object or SARIF 2.1.0. Nothing is written back.

With `--profile`, the profile's own controls are reported as a second rule group
(`profile/<control>`): the hardener's planner runs on a copy of each document and every
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
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from . import pss, yamlio
from .errors import ConflictError, UsageError
from .harden import harden_document
from .kube.pointer import field_path as _field
from .kube.pointer import resolve as _resolve
from .kube.pointer import tokens as _tokens
from .kube.podspec import CONTAINER_LISTS
from .kube.workloads import WorkloadTable, find_pod_templates
from .profile import Profile, load_profile
from .results import CONFLICT

PSS_URI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

# --------------------------------------------------------------------------- rules
# PSS check id (upstream pod-security-admission) -> (level, title, what the standard asks).
PSS_CHECKS: dict[str, tuple[str, str, str]] = {
    "appArmorProfile": ("baseline", "AppArmor",
                        "AppArmor must not be disabled or overridden: securityContext.appArmorProfile.type "
                        "(pod and containers) is RuntimeDefault or Localhost, and the "
                        "container.apparmor.security.beta.kubernetes.io/* annotations are unset, "
                        "runtime/default or localhost/*."),
    "capabilities_baseline": ("baseline", "Capabilities",
                              "Adding capabilities beyond the default set must be disallowed: "
                              "capabilities.add may hold only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, "
                              "FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, "
                              "SYS_CHROOT."),
    "hostNamespaces": ("baseline", "Host Namespaces",
                       "Sharing the host namespaces must be disallowed: hostNetwork, hostPID and "
                       "hostIPC are unset or false."),
    "hostPathVolumes": ("baseline", "HostPath Volumes", "HostPath volumes must be forbidden."),
    "hostPorts": ("baseline", "Host Ports",
                  "HostPorts should be disallowed: containers[*].ports[*].hostPort is unset or 0."),
    "hostProbesAndHostLifecycle": ("baseline", "Host Probes / Lifecycle Hooks",
                                   "The host field of probes and lifecycle handlers must not be set "
                                   "(policy version 1.34 and later)."),
    "privileged": ("baseline", "Privileged Containers",
                   "Privileged pods disable most security mechanisms and must be disallowed: "
                   "securityContext.privileged is unset or false."),
    "procMount": ("baseline", "/proc Mount Type",
                  "The default /proc masks must be kept: securityContext.procMount is unset or "
                  "Default (from 1.35 any value is allowed for pods with hostUsers: false)."),
    "seLinuxOptions": ("baseline", "SELinux",
                       "Setting a custom SELinux user or role is forbidden and the type is limited to "
                       "container_t, container_init_t, container_kvm_t (and container_engine_t from "
                       "1.31)."),
    "seccompProfile_baseline": ("baseline", "Seccomp",
                                "The seccomp profile must not be explicitly set to Unconfined."),
    "sysctls": ("baseline", "Sysctls",
                "Sysctls can disable security mechanisms or affect the whole node: only the safe "
                "subset allowed at the policy version may be set."),
    "windowsHostProcess": ("baseline", "HostProcess",
                           "Windows HostProcess containers give privileged access to the host and must "
                           "be disallowed: windowsOptions.hostProcess is unset or false."),
    "allowPrivilegeEscalation": ("restricted", "Privilege Escalation",
                                 "Privilege escalation (set-user-ID or set-group-ID binaries) must not "
                                 "be allowed: securityContext.allowPrivilegeEscalation is false "
                                 "(Windows pods exempt from 1.25)."),
    "capabilities_restricted": ("restricted", "Capabilities (restricted)",
                                "Containers must drop ALL capabilities and may add back only "
                                "NET_BIND_SERVICE (policy version 1.22 and later)."),
    "procMount_restricted": ("restricted", "/proc Mount Type (restricted)",
                             "securityContext.procMount is unset or Default, user namespaces or not "
                             "(policy version 1.35 and later)."),
    "restrictedVolumes": ("restricted", "Volume Types",
                          "Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
                          "persistentVolumeClaim, projected and secret volumes are allowed."),
    "runAsNonRoot": ("restricted", "Running as Non-root",
                     "Containers must run as non-root users: runAsNonRoot is true at pod level or on "
                     "every container (from 1.35 not required with hostUsers: false)."),
    "runAsUser": ("restricted", "Running as Non-root user",
                  "Containers must not set runAsUser to 0 (policy version 1.23 and later)."),
    "seccompProfile_restricted": ("restricted", "Seccomp (restricted)",
                                  "A seccomp profile must be set explicitly to RuntimeDefault or "
                                  "Localhost, at pod level or on every container (Windows pods exempt "
                                  "from 1.25)."),
}

# profile control -> the PSS checks whose finding already says what the control changes
COVERED_BY: dict[str, frozenset[str]] = {
    "hostAccess": frozenset(("hostNamespaces", "hostPathVolumes", "hostPorts", "restrictedVolumes",
                             "hostProbesAndHostLifecycle", "windowsHostProcess")),
    "privileged": frozenset(("privileged",)),
    "capabilities": frozenset(("capabilities_baseline", "capabilities_restricted")),
    "allowPrivilegeEscalation": frozenset(("allowPrivilegeEscalation",)),
    "runAsNonRoot": frozenset(("runAsNonRoot",)),
    "runAsUser": frozenset(("runAsUser",)),
    "seccompProfile": frozenset(("seccompProfile_baseline", "seccompProfile_restricted")),
    "appArmor": frozenset(("appArmorProfile",)),
    "seLinux": frozenset(("seLinuxOptions",)),
}


def rule_id(group: str, check: str) -> str:
    """The stable rule id of a finding: `pss/<check id>` or `profile/<control id>`."""
    return f"{group}/{check}"


# --------------------------------------------------------------------------- results
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

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def findings(self) -> list["Finding"]:
        return [f for t in self.templates for f in t.findings]

    @property
    def meets(self) -> str:
        """The strictest PSS level every pod template of the resource meets."""
        return pss.weakest(t.meets for t in self.templates)

    @property
    def passes(self) -> bool:
        return all(t.passes for t in self.templates)


@dataclass
class Template:
    """One pod template and what the audit found on it."""

    pointer: str  # the pod template (metadata + spec) inside the document
    line: int
    meets: str  # strictest PSS level met at the audited version
    findings: list["Finding"] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return not self.findings


@dataclass
class Finding:
    """One violation: a failed PSS check, or a change/conflict of the profile's controls."""

    group: str  # pss | profile
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

    @property
    def rule(self) -> str:
        return rule_id(self.group, self.check)


@dataclass
class AuditReport:
    level: str
    version: tuple[int, int]
    profile: str | None  # the profile whose controls were reported, if any
    documents: int
    resources: list[Resource]
    profile_controls: list[str] = field(default_factory=list)

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
            meets[t.meets] += 1
        return {
            "documents": self.documents,
            "resources": len(self.resources),
            "podTemplates": len(templates),
            "passing": sum(1 for t in templates if t.passes),
            "failing": sum(1 for t in templates if not t.passes),
            "findings": len(self.findings),
            "meets": meets,
        }


# --------------------------------------------------------------------------- lines
class _Lines:
    """Line numbers in the input file of JSON pointers inside one document's text."""

    def __init__(self, doc: yamlio.Document):
        self.doc = doc
        self._root: Any = False

    @property
    def root(self) -> yaml.Node | None:
        if self._root is False:
            try:
                self._root = yaml.compose(self.doc.text, Loader=yamlio.BaseLoader) if self.doc.text else None
            except (yaml.YAMLError, RecursionError):  # the document loaded, so unlikely
                self._root = None
        return self._root

    def line(self, pointer: str) -> tuple[int, bool]:
        """(1-based line in the input file, whether the pointer's own node was found)."""
        node = self.root
        if node is None:
            return self.doc.first_line, False
        line = node.start_mark.line
        for token in _tokens(pointer):
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == token:
                        line, node = key.start_mark.line, value
                        break
                else:
                    return line + self.doc.first_line, False
            elif isinstance(node, yaml.SequenceNode) and token.isdigit() and int(token) < len(node.value):
                node = node.value[int(token)]
                line = node.start_mark.line
            else:
                return line + self.doc.first_line, False
        return line + self.doc.first_line, True


# --------------------------------------------------------------------------- evaluation
def parse_version(value: str | None) -> tuple[int, int]:
    """`--kube-version`: `latest`, `1.30`, `v1.30` or `1.30.2` -> (1, 30)."""
    from .kube.versions import parse_kube_version

    try:
        v = parse_kube_version(value)
    except ValueError as exc:
        raise UsageError(f"--kube-version: {exc}") from None
    if v[0] != 1:
        raise UsageError(f"--kube-version: {value!r}: the Pod Security Standards exist for "
                         "Kubernetes 1.x only")
    return v


def audit_sources(sources, level: str = "restricted", version: tuple[int, int] = pss.LATEST,
                  profile: str | Profile | None = None) -> AuditReport:
    """Audit `hardener.inputs.Source` inputs (see :func:`audit_documents`)."""
    from .pipeline import read

    return audit_documents(read(sources).documents, level, version, profile)


def audit_documents(docs: list[yamlio.Document], level: str = "restricted",
                    version: tuple[int, int] = pss.LATEST,
                    profile: str | Profile | None = None) -> AuditReport:
    """Evaluate every pod template in the documents (a stream's, or a ResourceList's items,
    whose lines are found in the list's text).

    `profile` (a name, a path or a loaded :class:`Profile`) adds the profile's controls as
    the `profile/` rule group; without it only PSS is checked, with the workload table
    (CRDs) of the built-in `restricted` profile."""
    if level not in ("baseline", "restricted"):
        raise UsageError(f"--level must be baseline or restricted, got {level!r}")
    prof = profile if isinstance(profile, Profile) else load_profile(profile or "restricted")
    with_profile = profile is not None
    table = WorkloadTable(prof.workloads)
    lines: dict[int, _Lines] = {}
    resources: list[Resource] = []
    for data_doc in docs:
        text_doc, prefix = data_doc.parent or data_doc, data_doc.pointer
        if data_doc.root != "mapping" or not table.may_contain(data_doc.kind):
            continue
        data = data_doc.load()
        found = list(find_pod_templates(data, table))
        if not found:
            continue
        where = lines.setdefault(text_doc.index, _Lines(text_doc))
        here: dict[str, Resource] = {}
        templates: dict[str, tuple[Resource, Template]] = {}
        for pt in found:
            res = here.get(pt.resource_pointer)
            if res is None:
                pointer = prefix + pt.resource_pointer
                res = here[pt.resource_pointer] = Resource(
                    text_doc.index, text_doc.source, where.line(pointer)[0], pt.api_version, pt.kind,
                    pt.namespace, pt.name, pointer)
                resources.append(res)
            tpl = pt.template
            meta, spec = tpl.get("metadata"), tpl["spec"]
            t = Template(prefix + pt.pointer, where.line(prefix + pt.pointer)[0],
                         pss.meets(meta, spec, version))
            res.templates.append(t)
            templates[pt.pointer] = (res, t)
            for v in pss.evaluate(meta, spec, level, version):
                path = t.pointer + v.path
                line, exact = where.line(path)
                t.findings.append(Finding("pss", v.check, v.level, res, t.pointer, v.container, path,
                                          v.value, v.message, v.fix, line, exact))
        if with_profile:
            _profile_findings(data, data_doc.index, prof, table, version, prefix, templates, where)
    controls = list(prof.controls) if with_profile else []
    return AuditReport(level, version, prof.name if with_profile else None, len(docs), resources, controls)


def _with_rules(profile: Profile, fail_only: str | None) -> Profile:
    """The profile with every `fail` conflict rule turned to `keep`, except `fail_only`'s."""
    def keep(rule: str, cid: str | None) -> str:
        return rule if rule != "fail" or (cid is not None and cid == fail_only) else "keep"

    controls = {cid: {**opts, "conflicts": keep(profile.rule(cid), cid)}
                for cid, opts in profile.controls.items()}
    return dataclasses.replace(profile, controls=controls, conflicts=keep(profile.conflicts, None))


def _plan(data: Any, index: int, profile: Profile, table: WorkloadTable, version: tuple[int, int]):
    """Run the planner on a copy: (results, conflicts as (result, Skip) pairs)."""
    try:
        return harden_document(copy.deepcopy(data), index, profile, table, version), []
    except ConflictError:
        pass
    # The hardener would stop here. Plan with conflicts kept to see the rest, and find
    # which `fail` controls conflict by planning again with only that control failing.
    results = harden_document(copy.deepcopy(data), index, _with_rules(profile, None), table, version)
    candidates = {s.control for r in results for s in r.skipped
                  if s.kind == CONFLICT and profile.rule(s.control) == "fail"}
    failing = set()
    for cid in sorted(candidates):
        try:
            harden_document(copy.deepcopy(data), index, _with_rules(profile, cid), table, version)
        except ConflictError:
            failing.add(cid)
    conflicts = [(r, s) for r in results for s in r.skipped
                 if s.control in failing and s.kind == CONFLICT]
    return results, conflicts


def _profile_findings(data, index, profile, table, version, prefix, templates, where) -> None:
    results, conflicts = _plan(data, index, profile, table, version)

    def template_of(path: str):
        best = max((p for p in templates if path == p or path.startswith(p + "/")), key=len, default=None)
        return templates[best] if best is not None else (None, None)

    covered = {t.pointer: {f.check for f in t.findings} for _, t in templates.values()}
    for r in results:
        for c in r.changes:
            res, t = template_of(c.path)
            if t is None:
                continue
            if COVERED_BY.get(c.control, frozenset()) & covered[t.pointer]:
                continue
            path = prefix + c.path
            line, exact = where.line(path)
            rel = _field(c.path[len(t.pointer) - len(prefix):])
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


# --------------------------------------------------------------------------- output
def _value(v: Any) -> str:
    return "(unset)" if v is None else json.dumps(v, default=str, ensure_ascii=False)


def _where(r: Resource) -> str:
    item = f", {r.pointer.lstrip('/')}" if r.pointer else ""
    return f"document {r.document}{item}"


def as_text(report: AuditReport) -> str:
    """One line per finding, then one summary line."""
    out = []
    for f in report.findings:
        r = f.resource
        who = f" [{f.container}]" if f.container else ""
        value = _value(f.value)
        if f.group == "profile" and f.op in ("add", "replace"):
            value += f" -> {_value(f.proposed)}"
        out.append(f"{r.source}:{f.line}: {r.ref} ({_where(r)}){who} {f.rule}: {f.path} = {value}: "
                   f"{f.message}; fix: {f.fix}")
    s = report.summary()
    v = f"{report.version[0]}.{report.version[1]}"
    prof = f" + profile {report.profile}" if report.profile else ""
    out.append(f"k8s-harden audit: {s['podTemplates']} pod template(s) in {s['resources']} resource(s), "
               f"PSS {report.level} v{v}{prof}: {s['passing']} pass, {s['failing']} fail, "
               f"{s['findings']} finding(s); meet restricted {s['meets']['restricted']}, "
               f"baseline {s['meets']['baseline']}, privileged {s['meets']['privileged']}")
    return "\n".join(out) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    r = f.resource
    d: dict[str, Any] = {
        "rule": f.rule, "group": f.group, "check": f.check,
        **({"level": f.level} if f.level else {}),
        "source": r.source, "line": f.line, "exactLine": f.exact, "document": r.document,
        "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
        **({"item": r.pointer} if r.pointer else {}),
        "podTemplate": f.template, "container": f.container, "path": f.path, "value": f.value,
        "message": f.message, "fix": f.fix,
    }
    if f.group == "profile":
        d["op"] = f.op
        if f.op in ("add", "replace"):
            d["proposedValue"] = f.proposed
    return d


def as_json(report: AuditReport) -> str:
    """One object: settings, findings, one summary per resource, totals."""
    obj = {
        "level": report.level,
        "kubeVersion": f"{report.version[0]}.{report.version[1]}",
        "profile": report.profile,
        "findings": [_finding_json(f) for f in report.findings],
        "resources": [{
            "document": r.document, "source": r.source, "line": r.line,
            "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
            **({"item": r.pointer} if r.pointer else {}),
            "meets": r.meets, "passes": r.passes, "findings": len(r.findings),
            "podTemplates": [{"pointer": t.pointer, "line": t.line, "meets": t.meets,
                              "passes": t.passes, "findings": len(t.findings)} for t in r.templates],
        } for r in report.resources],
        "summary": report.summary(),
    }
    return json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n"


def _first_paragraph(doc: str | None) -> str:
    text = (doc or "").strip().split("\n\n")[0]
    return re.sub(r"\s+", " ", text)


def sarif_rules(report: AuditReport) -> list[dict[str, Any]]:
    """The rules of the run: the PSS checks of the level, then the profile's controls."""
    from . import controls as _controls

    rules = []
    for cid, (lvl, title, text) in PSS_CHECKS.items():
        if lvl == "restricted" and report.level == "baseline":
            continue
        rules.append({
            "id": rule_id("pss", cid), "name": cid,
            "shortDescription": {"text": f"Pod Security Standards {lvl}: {title}"},
            "fullDescription": {"text": text},
            "help": {"text": f"{text} See {PSS_URI}",
                     "markdown": f"**Pod Security Standards, {lvl} level — {title}** (check `{cid}`)\n\n"
                                 f"{text}\n\nSee [Pod Security Standards]({PSS_URI})."},
            "helpUri": PSS_URI,
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "kubernetes", "pod-security-standards", lvl],
                           "precision": "very-high",
                           "security-severity": "8.0" if lvl == "baseline" else "6.0"},
        })
    seen = set(report.profile_controls) | {f.check for f in report.findings if f.group == "profile"}
    for cid in [c for c in _controls.CONTROLS if c in seen]:
        text = _first_paragraph(_controls.CONTROLS[cid].__doc__) or cid
        rules.append({
            "id": rule_id("profile", cid), "name": cid,
            "shortDescription": {"text": f"k8s-harden profile control {cid}"},
            "fullDescription": {"text": text},
            "help": {"text": f"{text} `k8s-harden --profile {report.profile}` sets it; see the "
                             "README's Controls section.",
                     "markdown": f"**k8s-harden control `{cid}`** (profile `{report.profile}`)\n\n{text}\n\n"
                                 f"Run `k8s-harden --profile {report.profile}` to apply it, or set the "
                                 "field by hand."},
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["security", "kubernetes", "k8s-harden-profile"],
                           "precision": "very-high", "security-severity": "4.0"},
        })
    return rules


def _uri(source: str) -> str:
    if source in ("<stdin>", "-"):
        return "stdin"
    p = Path(source)
    if p.is_absolute():
        return p.as_uri()
    return quote(p.as_posix(), safe="/")


def _tool_version() -> str:
    try:
        from importlib.metadata import version

        return version("k8s-harden")
    except Exception:  # noqa: BLE001 - not installed: running from a checkout
        return "0+unknown"


def as_sarif(report: AuditReport) -> str:
    """SARIF 2.1.0: one run, rules with stable ids, one result per finding."""
    rules = sarif_rules(report)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        r = f.resource
        who = f'container "{f.container}": ' if f.container and f'"{f.container}"' not in f.message else ""
        key = "\0".join((f.rule, r.source, str(r.document), r.pointer, f.path, f.container or ""))
        result = {
            "ruleId": f.rule, "ruleIndex": index[f.rule], "level": "error",
            "message": {"text": f"{r.ref}: {who}{f.message}. Fix: {f.fix}."},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": _uri(r.source)},
                                     "region": {"startLine": f.line}},
                "logicalLocations": [{"name": r.name, "kind": "resource",
                                      "fullyQualifiedName": f"{r.api_version}/{r.kind}/"
                                                            f"{r.namespace + '/' if r.namespace else ''}{r.name}"}],
            }],
            "partialFingerprints": {"k8sHardenFinding/v1": hashlib.sha256(key.encode()).hexdigest()[:32]},
            "properties": {k: v for k, v in _finding_json(f).items()
                           if k in ("document", "item", "podTemplate", "container", "path", "value",
                                    "proposedValue", "op", "fix", "level", "exactLine")},
        }
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "k8s-harden", "version": _tool_version(), "rules": rules}},
            "results": results,
            "properties": {"level": report.level,
                           "kubeVersion": f"{report.version[0]}.{report.version[1]}",
                           "profile": report.profile, "summary": report.summary()},
        }],
    }
    return json.dumps(log, indent=2, default=str, ensure_ascii=False) + "\n"


FORMATS = {"text": as_text, "json": as_json, "sarif": as_sarif}
