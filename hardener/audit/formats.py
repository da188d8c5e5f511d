"""The audit report as text (one line per finding), one JSON object, or SARIF 2.1.0."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import pss
from ..controls import CONTROLS
from . import AuditReport, Finding, Resource, rule_id

PSS_URI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _jsonable(v: Any) -> Any:
    """`v` as JSON can hold it: YAML 1.1 keys that JSON cannot (`!!binary`) as strings, the
    way sigs.k8s.io/yaml turns every key into a string; `.nan`/`.inf` as their YAML text
    (JSON has no NaN: SARIF consumers refuse it)."""
    if isinstance(v, dict):
        return {(k if isinstance(k, (str, int, float, bool)) or k is None else _key(k)): _jsonable(x)
                for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return ".nan" if v != v else ".inf" if v > 0 else "-.inf"
    if isinstance(v, bytes):
        return _key(v)
    return v


def _key(k: Any) -> str:
    return k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)


def _value(v: Any) -> str:
    return "(unset)" if v is None else json.dumps(_jsonable(v), default=str, ensure_ascii=False)


def _where(r: Resource) -> str:
    item = f", {r.pointer.lstrip('/')}" if r.pointer else ""
    chart = f", {r.chart.file}" if r.chart else ""
    return f"document {r.document}{item}{chart}"


def as_text(report: AuditReport) -> str:
    """One line per finding, then one summary line."""
    return "".join(text_lines(report))


def text_lines(report: AuditReport) -> list[str]:
    """The lines of :func:`as_text`, each with its line break: what the CLI writes one by
    one (a second, joined copy of a large report is not made)."""
    out = []
    for f in report.findings:
        r = f.resource
        who = f" [{f.container}]" if f.container else ""
        value = _value(f.value)
        if f.group == "profile" and f.op in ("add", "replace"):
            value += f" -> {_value(f.proposed)}"
        tail = f"; fix: {f.fix}" if f.fix else f" ({f.severity}; mirrors {f.reference})"
        where = _where(r) + (f":{f.chart_line}" if r.chart else "")
        out.append(f"{r.source}:{f.line}: {r.ref} ({where}){who} {f.rule}: {f.path} = {value}: "
                   f"{f.message}{tail}")
    for ref, source, line, _, kind, message in report.unaudited:
        out.append(f"{source}:{line}: {ref} not audited ({kind}): {message}")
    s = report.summary()
    v = f"{report.version[0]}.{report.version[1]}"
    prof = f" + profile {report.profile}" if report.profile else ""
    out.append(f"k8s-harden audit: {s['podTemplates']} pod template(s) in {s['resources']} resource(s), "
               f"PSS {report.level} v{v}{prof}: {s['passing']} pass, {s['failing']} fail, "
               f"{s['findings']} finding(s)" + (f" ({s['warnings']} warning(s))" if s["warnings"] else "")
               + f"; meet restricted {s['meets']['restricted']}, "
               f"baseline {s['meets']['baseline']}, privileged {s['meets']['privileged']}"
               + (f", malformed {s['malformed']}" if s["malformed"] else ""))
    for i, line in enumerate(out):  # in place: one line's two copies at a time
        out[i] = line + "\n"
    return out


def _finding_json(f: Finding) -> dict[str, Any]:
    r = f.resource
    d: dict[str, Any] = {
        "rule": f.rule, "group": f.group, "check": f.check,
        **({"level": f.level} if f.level else {}),
        "source": r.source, "line": f.line, "exactLine": f.exact, "document": r.document,
        **({"chartFile": r.chart.file, "chartLine": f.chart_line} if r.chart else {}),
        "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
        **({"item": r.pointer} if r.pointer else {}),
        "podTemplate": f.template, "container": f.container, "path": f.path, "value": _jsonable(f.value),
        "message": f.message, "fix": f.fix, "severity": f.severity,
        **({"reference": f.reference} if f.reference else {}),
    }
    if f.group == "profile":
        d["op"] = f.op
        if f.op in ("add", "replace"):
            d["proposedValue"] = _jsonable(f.proposed)
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
            **({"chartFile": r.chart.file, "chartLine": r.chart_line} if r.chart else {}),
            "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
            **({"item": r.pointer} if r.pointer else {}),
            "meets": r.meets, "passes": r.passes, "findings": len(r.findings),
            "podTemplates": [{"pointer": t.pointer, "line": t.line, "meets": t.meets,
                              "passes": t.passes, "findings": len(t.findings)} for t in r.templates],
        } for r in report.resources],
        "summary": report.summary(),
    }
    if report.unaudited:
        obj["notAudited"] = [{"resource": ref, "source": source, "line": line, "path": at, "kind": kind,
                              "message": message} for ref, source, line, at, kind, message in report.unaudited]
    return json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n"


def _first_paragraph(doc: str | None) -> str:
    text = (doc or "").strip().split("\n\n")[0]
    return re.sub(r"\s+", " ", text)


def sarif_rules(report: AuditReport) -> list[dict[str, Any]]:
    """The rules of the run: the PSS checks of the level, then the profile's controls."""
    rules = []
    for cid, lvl, title, text, _ in pss.CHECKS.values():
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
    from ..kube.admission import RULES
    from . import IMAGE_RULES

    def listed(rid: str, title: str, text: str, kind: str, level: str, tags: list[str], precision: str,
               severity: str) -> dict:
        """A rule of a table of (title, text) by id: the admission rules, the image rules."""
        return {"id": rid, "name": rid.split("/", 1)[1],
                "shortDescription": {"text": f"{kind}: {title}"},
                "fullDescription": {"text": text},
                "help": {"text": text, "markdown": f"**{title}** (`{rid}`)\n\n{text}"},
                "defaultConfiguration": {"level": level},
                "properties": {"tags": ["security", "kubernetes", *tags], "precision": precision,
                               "security-severity": severity}}

    for rid, (title, text) in RULES.items():
        group = rid.split("/")[0]
        what = {"api": "the API server rejects", "kubelet": "the kubelet refuses",
                "runtime": "does not work once started"}[group]
        rules.append(listed(rid, title, text, f"Admission ({what})", "error", ["k8s-harden-admission", group],
                            "high", "5.0"))
    if any(f.group == "image" for f in report.findings):
        rules += [listed(rid, title, text, "Image config (--images)", "warning", ["k8s-harden-images"],
                         "medium", "3.0") for rid, (title, text) in IMAGE_RULES.items()]
    seen = set(report.profile_controls) | {f.check for f in report.findings if f.group == "profile"}
    for cid in [c for c in CONTROLS if c in seen]:
        text = _first_paragraph(CONTROLS[cid].__doc__) or cid
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


def _uri(source: str, prefix: str = "") -> str:
    if source in ("<stdin>", "-"):
        return "stdin"
    p = Path(source)
    if p.is_absolute():
        return p.as_uri()
    return quote(prefix + p.as_posix(), safe="/")


def _display(source: str) -> str:
    return "stdin" if source in ("<stdin>", "-") else source


def _chart_location(f: Finding, prefix: str = "") -> dict[str, Any]:
    """The finding in its chart file: a relative URI as Helm names the file (CHART/templates/
    FILE, relative to the directory holding the chart) and the line inside the rendered
    document, counted from Helm's header (see hardener.inputs.ChartSource)."""
    return {"artifactLocation": {"uri": quote(prefix + f.resource.chart.file, safe="/")},
            "region": {"startLine": f.chart_line}}


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
        rendered = {"artifactLocation": {"uri": _uri(r.source, report.uri_prefix)}, "region": {"startLine": f.line}}
        result = {
            "ruleId": f.rule, "ruleIndex": index[f.rule], "level": f.severity,
            "message": {"text": f"{r.ref}: {who}{f.message}" + (f". Fix: {f.fix}." if f.fix else ".")},
            "locations": [{
                "physicalLocation": _chart_location(f, report.uri_prefix) if r.chart else rendered,
                "logicalLocations": [{"name": r.name, "kind": "resource",
                                      "fullyQualifiedName": f"{r.api_version}/{r.kind}/"
                                                            f"{r.namespace + '/' if r.namespace else ''}{r.name}"}],
            }],
            "partialFingerprints": {"k8sHardenFinding/v1": hashlib.sha256(key.encode()).hexdigest()[:32]},
            "properties": {k: v for k, v in _finding_json(f).items()
                           if k in ("document", "item", "podTemplate", "container", "path", "value",
                                    "proposedValue", "op", "fix", "level", "exactLine", "reference")},
        }
        if r.chart:
            # the exact place stays known: the rendered stream, as a related location
            result["relatedLocations"] = [{
                "id": 1, "physicalLocation": rendered,
                "message": {"text": f"the rendered manifest ({_display(r.source)}, line {f.line})"}}]
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


#: What the CLI writes for each --format: a text, or its lines.
FORMATS = {"text": text_lines, "json": as_json, "sarif": as_sarif}
