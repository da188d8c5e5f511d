#!/usr/bin/env python3
"""Generate the reference blocks of README.md and docs/*.md from the code.

Only the text between the markers

    <!-- BEGIN GENERATED: NAME -->
    <!-- END GENERATED: NAME -->

is rewritten; everything around the markers is hand-written prose. NAME is one of the
generators below (GENERATORS), or ``include:PATH`` for a file of the repository copied
verbatim. Every generated block has a home (HOMES): a page that loses one of its blocks
fails the check too.

    .venv/bin/python scripts/gen_docs.py            # rewrite the stale blocks
    .venv/bin/python scripts/gen_docs.py --check    # exit 1 and print a diff when stale
    .venv/bin/python scripts/gen_docs.py --check --root DIR   # the docs of another tree

The content always comes from the code of the checkout this script sits in (its
``hardener`` package, ``profiles/``, ``benchmarks/RESULTS.md``, ``tests/``); ``--root``
only says where README.md and docs/ are.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import fnmatch
import inspect
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # document this checkout's code, not an installed copy

# A marker is a line of its own (a mention in running text or inline code is not one).
MARKER = re.compile(
    r"^(?P<begin><!-- BEGIN GENERATED: (?P<name>[^\s>]+) -->\n)"
    r"(?P<body>.*?)"
    r"^(?P<end><!-- END GENERATED: (?P=name) -->)$",
    re.S | re.M)
LOOSE_MARKER = re.compile(r"^<!-- (BEGIN|END) GENERATED: ([^\s>]+) -->$", re.M)

PSS_ANCHOR = "audit.md#pss-{}"  # controls.md -> the check's row in audit.md
OLDEST = (1, 0)  # the lowest end of the first --emit range


# --------------------------------------------------------------------------- formatting
def yaml_value(v: Any) -> str:
    """A value as YAML flow text: [ALL], {type: container_t}, null, true."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str) and (not v or v != v.strip() or re.search(r"[:#,\[\]{}'\"]", v)):
        return json.dumps(v)
    return str(v)


def prose(text: str) -> str:
    """Docstring or help text as Markdown: `<` outside code spans would start an HTML tag."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;") for p in parts)


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fence(text: str, lang: str = "") -> str:
    text = text if text.endswith("\n") else text + "\n"
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text}{ticks}"


def first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def first_sentence(doc: str | None) -> str:
    para = first_paragraph(doc)
    m = re.search(r"(?<!e\.g)(?<!i\.e)\.(\s|$)", para)
    return para[:m.start() + 1] if m else para


# --------------------------------------------------------------------------- controls
def example_profile(cid: str, cls) -> dict:
    """A profile of that control alone (declaring the node feature it needs, if any)."""
    profile: dict = {"controls": {cid: cls.example_options}}
    if getattr(cls, "requires", None):
        profile["nodeFeatures"] = [cls.requires]
    return profile


def run_example(cid: str, cls) -> tuple[str, str]:
    """(output, report) of the tool on a control's example, with a profile of that control alone."""
    from hardener import pipeline, report
    from hardener.inputs import Source
    from hardener.options import build_options

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{cid}.yaml"
        path.write_text(json.dumps(example_profile(cid, cls)), encoding="utf-8")
        opts = build_options(profile=str(path), emit="none")
        outcome = pipeline.run([Source("example.yaml", cls.example)], opts)
    return outcome.output, report.as_text(outcome.results, len(outcome.documents))


def unified(before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "input", "hardened"))


def pss_link(check_id: str) -> str:
    from hardener.pss import CHECKS

    c = CHECKS[check_id]
    return f"[{c.title}]({PSS_ANCHOR.format(check_id.lower())}) (`{check_id}`, {c.level})"


def gen_controls() -> str:
    from hardener.controls import CONTROLS
    from hardener.controls.base import COMMON_OPTIONS

    out = ["Every control also takes these options (set them under the control's id in a profile):",
           "",
           table(["option", "default", "what"],
                 [[f"`{n}`", f"`{yaml_value(o.default)}`", prose(o.doc)] for n, o in COMMON_OPTIONS.items()]),
           "",
           "| control | acts on | PSS checks it answers |",
           "|---|---|---|"]
    for cid, cls in CONTROLS.items():
        checks = ", ".join(f"`{c}`" for c in sorted(cls.pss_checks)) or "—"
        out.append(f"| [`{cid}`](#{cid.lower()}) | {cls.scope} | {checks} |")
    for cid, cls in CONTROLS.items():
        out += ["", f"### `{cid}`", ""]
        checks = [pss_link(c) for c in sorted(cls.pss_checks)]
        out.append(f"Acts on: **{cls.scope}**. "
                   + ("Pod Security Standards checks it answers: " + "; ".join(checks) + "."
                      if checks else "Answers no Pod Security Standards check."))
        if not cls.linux_only:
            out[-1] += " Applied to Windows pods too."
        if getattr(cls, "requires", None):
            out[-1] += (f" Applied only where the nodes have the feature `{cls.requires}`"
                        f" (`nodeFeatures:` in the profile, or `--node-features`).")
        out += ["", prose(inspect.cleandoc(cls.__doc__ or "")), ""]
        if cls.options:
            out.append(table(["option", "default", "what"],
                             [[f"`{n}`", f"`{yaml_value(o.default)}`", prose(o.doc)]
                              for n, o in cls.options.items()]))
        else:
            out.append("No options besides `enabled` and `conflicts`.")
        output, rep = run_example(cid, cls)
        profile = yaml_value(example_profile(cid, cls))
        out += ["", f"Example, with the profile `{profile}` — input:", "", fence(cls.example, "yaml"), ""]
        diff = unified(cls.example, output)
        if diff:
            out += ["Output (as `k8s-harden --diff` shows it) and the change report:", "",
                    fence(diff, "diff"), ""]
        else:
            out += ["Output: the input, byte for byte. The change report:", ""]
        out.append(fence(rep, "text"))
    return "\n".join(out)


def gen_workloads() -> str:
    from hardener.kube.workloads import BUILTIN_WORKLOADS

    rows = []
    for kind, (groups, pointer) in BUILTIN_WORKLOADS.items():
        grp = ", ".join(f"`{g}`" if g else "core (`v1`)" for g in groups)
        rows.append([f"`{kind}`", grp, f"`{pointer}`" if pointer else "the resource itself"])
    return table(["kind", "API group", "pod template at"], rows)


def gen_crds() -> str:
    """The built-in CRD table (hardener/kube/crds.yaml): kinds, group, where the pods are."""
    from hardener.kube import crds

    rows = []
    for e in crds.entries():
        where = [f"`{p}`" if p else "the resource itself" for p in e.get("podTemplates") or ()]
        for ps in e.get("pods") or ():
            conts = [c for k in crds.CONTAINER_KEYS for c in ps.get(k) or ()]
            level = (" (pod securityContext: first of " + ", ".join(f"`{p}`" for p in ps["podLevel"]) + ")"
                     if ps.get("podLevel") else " (no pod level: per container)")
            only = f"{'/'.join(ps['versions'])}: " if ps.get("versions") else ""
            where.append(only + "pods at " + ", ".join(f"`{a}`" for a in ps["at"]) + "; containers "
                         + ", ".join(f"`{c}`" for c in conts) + level)
        for r in e.get("report") or ():
            where.append(f"reported, not changed: `{r['at']}`")
        if e.get("restrictions"):
            where.append(f"only what the {e['restrictions']} webhook admits")
        rows.append([", ".join(f"`{k}`" for k in e["kinds"]), f"`{e['group']}`",
                     ", ".join(e["versions"]), "<br>".join(where), e.get("source", "")])
    return table(["kinds", "API group", "versions", "pods", "source (API types)"], rows)


# --------------------------------------------------------------------------- profiles
def _profiles():
    from hardener.profile import builtin_names, load_profile

    return [load_profile(n) for n in builtin_names()]


def _listed(p) -> dict:
    """Every control the profile enables, active on its nodes or not."""
    return getattr(p, "listed", None) or p.controls


def _inactive_text(cid: str) -> str:
    from hardener.controls import CONTROLS

    return f"needs node feature `{CONTROLS[cid].requires}`"


def _non_default(cid: str, opts: dict) -> dict:
    from hardener.controls import CONTROLS

    defaults = CONTROLS[cid].defaults()
    return {k: v for k, v in opts.items() if k != "enabled" and v != defaults.get(k)}


def _default_profile() -> str:
    from hardener.cli import main

    return next(p.default for p in main.params if p.name == "profile")


def _profile_name(p, default: str) -> str:
    return f"`{p.name}`" + (" (default)" if p.name == default else "")


def _emit(p) -> str:
    return ", ".join(p.emit) if isinstance(p.emit, list) else str(p.emit)


def _matrix(profiles, short: bool) -> str:
    from hardener.controls import CONTROLS

    rows = []
    for cid, cls in CONTROLS.items():
        row = [f"`{cid}`", cls.scope]
        for p in profiles:
            if cid not in _listed(p):
                row.append("—")
                continue
            if cid not in p.controls:
                row.append("off: " + _inactive_text(cid))
                continue
            extra = _non_default(cid, p.controls[cid])
            text = ", ".join(f"`{k}: {yaml_value(v)}`" for k, v in extra.items())
            if short and len(text) > 40:
                text = "own options"
            row.append("✓" + (" " + text if text else ""))
        rows.append(row)
    return table(["control", "acts on"] + [f"`{p.name}`" for p in profiles], rows)


def _identity(profiles) -> str:
    parts = []
    for p in profiles:
        ids = [f"`{c}: {p.controls[c]['value']}`" for c in ("runAsUser", "runAsGroup", "fsGroup")
               if c in p.controls]
        if ids:
            parts.append(f"`{p.name}` sets " + ", ".join(ids))
    return "; ".join(parts) + "." if parts else "No built-in profile sets an identity."


def gen_profiles() -> str:
    profiles, default = _profiles(), _default_profile()
    rows = []
    for p in profiles:
        ctrls = []
        for cid, opts in _listed(p).items():
            extra = [f"`{k}: {yaml_value(v)}`" for k, v in _non_default(cid, opts).items()]
            if cid not in p.controls:
                extra.append("off: " + _inactive_text(cid))
            ctrls.append(f"`{cid}`" + (" (" + ", ".join(extra) + ")" if extra else ""))
        crds = ", ".join(f"`{w.kind}` (`{w.group}`) at `{', '.join(w.pod_templates)}`" if w.group
                         else f"`{w.kind}` at `{', '.join(w.pod_templates)}`" for w in p.workloads) or "—"
        row = [_profile_name(p, default), p.description, p.level, f"`{p.conflicts}`", f"`{_emit(p)}`"]
        if hasattr(p, "node_features"):
            row.append(", ".join(f"`{f}`" for f in sorted(p.node_features)) or "none")
        rows.append(row + [crds, ", ".join(ctrls)])
    header = ["profile", "description", "level", "conflicts", "emit"]
    if profiles and hasattr(profiles[0], "node_features"):
        header.append("node features")
    return "\n".join([
        table(header + ["CRDs (`workloads:`)", "controls (options that differ from the control's defaults)"],
              rows),
        "",
        "Control by control (✓: applied with the control's defaults, plus the options shown;"
        " —: not in the profile; off: in the profile, but not applied on the nodes it assumes):",
        "",
        _matrix(profiles, short=False),
        "",
        _identity(profiles),
    ])


def gen_profiles_short() -> str:
    profiles, default = _profiles(), _default_profile()
    rows = [[_profile_name(p, default), p.level, f"`{p.conflicts}`", p.description] for p in profiles]
    return "\n".join([
        table(["profile", "PSS level", "conflicts", "what"], rows),
        "",
        _matrix(profiles, short=True),
        "",
        _identity(profiles),
    ])


def gen_profile_keys() -> str:
    from hardener import profile

    out = [table(["key", "what"], [[f"`{k}`", prose(v)] for k, v in profile.TOP_KEYS.items()])]
    features = getattr(profile, "NODE_FEATURES", None)
    if features:
        default = getattr(profile, "DEFAULT_NODE_FEATURES", ())
        out += ["", "The node features (`nodeFeatures:`, `--node-features`):", "",
                table(["feature", "default", "what it means"],
                      [[f"`{k}`", "yes" if k in default else "no", prose(v)] for k, v in features.items()])]
    return "\n".join(out)


# --------------------------------------------------------------------------- usage
def _envvar(param, ctx) -> str:
    """The environment variable click reads for an option (click.core.Option.resolve_envvar_value)."""
    import click

    if not isinstance(param, click.Option):
        return ""
    if param.envvar:
        return ", ".join(f"`{e}`" for e in ([param.envvar] if isinstance(param.envvar, str) else param.envvar))
    if param.allow_from_autoenv and ctx.auto_envvar_prefix and param.name:
        return f"`{ctx.auto_envvar_prefix}_{param.name.upper()}`"
    return ""


def _value(param, ctx) -> str:
    import click

    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(param.type, click.Choice):
        return " | ".join(f"`{c}`" for c in param.type.choices)
    return f"`{param.make_metavar(ctx)}`"


def _default(param, ctx) -> str:
    import click

    if isinstance(param, click.Option) and param.is_flag:
        return "off"
    value = param.get_default(ctx)
    if value is None or value == () or not isinstance(value, (str, int, float, bool, list, tuple)):
        return "—"
    return f"`{value}`"


def _command_doc(path: str, cmd, ctx) -> list[str]:
    import click

    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(cmd.help or "").split("\n\n")]
    out = [f"### `{path}`", ""] + [prose(p) + "\n" for p in paragraphs if p]
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    if args:
        out += ["Arguments: " + ", ".join(f"`{a.make_metavar(ctx)}`" for a in args) + ".", ""]
    opts = [p for p in cmd.params if isinstance(p, click.Option)]
    if opts:
        rows = []
        for p in opts:
            flags = ", ".join(f"`{o}`" for o in p.opts + p.secondary_opts)
            if getattr(p, "multiple", False):
                flags += " (repeatable)"
            rows.append([flags, _value(p, ctx), _default(p, ctx), _envvar(p, ctx), prose(p.help or "")])
        out += [table(["option", "value", "default", "environment", "what"], rows), ""]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            subctx = click.Context(sub, parent=ctx, info_name=name, **sub.context_settings)
            out += _command_doc(f"{path} {name}", sub, subctx)
    return out


def gen_usage() -> str:
    import click

    from hardener.cli import main

    ctx = click.Context(main, info_name="k8s-harden", **main.context_settings)
    out = _command_doc("k8s-harden", main, ctx)
    return "\n".join(out).rstrip("\n")


# --------------------------------------------------------------------------- policy
def _ranges():
    """Version ranges bounded by the policy gates, as (low, high) tuples."""
    from hardener.kube.versions import LATEST, MAP_V1, MAP_V1BETA1, PSP_REMOVED, VAP_V1

    gates = sorted({PSP_REMOVED, VAP_V1, MAP_V1BETA1, MAP_V1})
    lows = [OLDEST] + gates
    highs = [(g[0], g[1] - 1) for g in gates] + [LATEST]
    return list(zip(lows, highs))


def _range_text(low, high) -> str:
    from hardener.kube.versions import LATEST, fmt

    if low == OLDEST:
        return f"≤ {fmt(high)}"
    if high == LATEST:
        return f"≥ {fmt(low)}"
    return f"{fmt(low)} – {fmt(high)}"


def _emit_at(version) -> tuple[frozenset, list[str], list[str]]:
    """(auto kinds, kinds accepted on request, kinds refused without --force) at a version."""
    from hardener.errors import UsageError
    from hardener.options import Options
    from hardener.policy import requested_kinds
    from hardener.profile import EMIT_KINDS, load_profile

    profile = load_profile("restricted")
    auto = requested_kinds(Options(profile, version, emit="auto"))
    accepted, refused = [], []
    for kind in EMIT_KINDS:
        try:
            requested_kinds(Options(profile, version, emit=kind))
        except UsageError:
            refused.append(kind)
        else:
            accepted.append(kind)
    return auto, accepted, refused


def gen_emit() -> str:
    from hardener.kube import versions
    from hardener.profile import EMIT_KINDS

    rows = []
    for low, high in _ranges():
        at_low, at_high = _emit_at(low), _emit_at(high)
        if at_low != at_high:  # a gate the table does not know about
            raise AssertionError(f"--emit changes inside {versions.fmt(low)}..{versions.fmt(high)}: "
                                 "add its gate to gen_docs._ranges")
        auto, accepted, refused = at_low
        order = [k for k in EMIT_KINDS if k in auto]
        rows.append([_range_text(low, high), "`" + ",".join(order) + "`",
                     ", ".join(f"`{k}`" for k in accepted if k not in auto) or "—",
                     ", ".join(f"`{k}`" for k in refused) or "—"])
    gates = [("PSP_REMOVED", "PodSecurityPolicy (`policy/v1beta1`) no longer served"),
             ("VAP_V1", "ValidatingAdmissionPolicy (`admissionregistration.k8s.io/v1`) served"),
             ("MAP_V1BETA1", "MutatingAdmissionPolicy `admissionregistration.k8s.io/v1beta1` (feature gate "
                             "`MutatingAdmissionPolicy` off by default; `--force` emits it); below it `map` is "
                             "refused even with `--force`"),
             ("MAP_V1", "MutatingAdmissionPolicy (`admissionregistration.k8s.io/v1`) served, on by default")]
    return "\n".join([
        table(["target `--kube-version`", "`--emit auto`", "also on request", "refused (exit 2) unless `--force`"],
              rows),
        "",
        "The version gates behind it (`hardener/kube/versions.py`): "
        + "; ".join(f"`{n}` = {versions.fmt(getattr(versions, n))}: {what}" for n, what in gates)
        + f". The newest version known is {versions.fmt(versions.LATEST)}.",
    ])


def gen_vap_checks() -> str:
    from hardener.kube.versions import LATEST
    from hardener.policy.envelope import Envelope
    from hardener.policy.vap import cel_validations
    from hardener.profile import load_profile

    names = ["restricted", "strict"]
    seen: dict[tuple[str, str], set[str]] = {}
    for name in names:
        profile = load_profile(name)
        for key, _, message in cel_validations(Envelope.of(profile, LATEST)):
            control = key if key.startswith("pss:") else key.split(":", 1)[0]
            prefix = f"k8s-harden profile {profile.name}, "
            what = message[len(prefix):].split(": ", 1)[1]  # after `CONTROL: ` / `PSS LEVEL check ID: `
            seen.setdefault((control, what), set()).add(name)
    rows = [[f"`{c}`", what] + ["✓" if n in used else "—" for n in names]
            for (c, what), used in seen.items()]
    return "\n".join([
        table(["control or PSS check", "message (after `k8s-harden profile NAME, CONTROL: ` or "
                                         "`..., PSS LEVEL check ID: `)"] + [f"`{n}`" for n in names],
              rows),
    ])


# --------------------------------------------------------------------------- audit
def gen_pss_checks() -> str:
    from hardener.controls import CONTROLS
    from hardener.pss import CHECKS

    answered: dict[str, list[str]] = {}
    for cid, cls in CONTROLS.items():
        for check in cls.pss_checks:
            answered.setdefault(check, []).append(cid)
    rows = []
    for cid, c in CHECKS.items():
        first = c.versions[0][0]
        since = "" if first == (1, 0) else f" (from {first[0]}.{first[1]})"
        rows.append([f'<a id="pss-{cid.lower()}"></a>`{cid}`', c.level + since, prose(c.title), prose(c.description),
                     ", ".join(f"[`{x}`](controls.md#{x.lower()})" for x in answered.get(cid, [])) or "—"])
    return table(["check", "level", "title", "what the standard asks", "control that fixes it"], rows)


def gen_admission_rules() -> str:
    from hardener.kube.admission import RULES

    rows = [[f"`{rid}`", prose(title), prose(text)] for rid, (title, text) in RULES.items()]
    return table(["rule", "title", "what goes wrong"], rows)


def _seed() -> tuple[str, str]:
    path = "examples/seed-pods.yaml"
    return path, (REPO / path).read_text(encoding="utf-8")


def run_cli(args: list[str], stdin: str | None = None):
    """The real command in-process (click's runner), from the repository root, with no
    K8S_HARDEN_* variable of the caller's environment in the way."""
    import os

    from click.testing import CliRunner

    from hardener.cli import main

    env = {k: None for k in os.environ if k.startswith("K8S_HARDEN")}
    here = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner().invoke(main, args, input=stdin, env=env, catch_exceptions=False)
    finally:
        os.chdir(here)
    return result


def gen_audit_example() -> str:
    name, _ = _seed()
    first = run_cli(["audit", "-f", name]).stdout
    hardened = run_cli(["-f", name, "--report", "none"]).stdout
    second = run_cli(["audit", "--profile", "strict"], stdin=hardened).stdout.splitlines()
    shown = second[:3] + (["…"] if len(second) > 4 else []) + second[-1:]
    return fence(f"$ k8s-harden audit -f {name}\n{first}\n"
                 f"$ k8s-harden -f {name} | k8s-harden audit --profile strict\n" + "\n".join(shown), "console")


def gen_report_example() -> str:
    name, _ = _seed()
    return fence(f"$ k8s-harden -f {name} > /dev/null\n" + run_cli(["-f", name]).stderr, "console")


# --------------------------------------------------------------------------- architecture
#: (stage, what it does, file patterns under hardener/ in reading order). A file matches the
#: first stage with a matching pattern; files no pattern names are listed under "other".
STAGES = (
    ("entry", "the commands, a run's settings, and the pipeline that drives the stages",
     ["__init__.py", "__main__.py", "cli.py", "options.py", "config.py", "errors.py", "pipeline.py"]),
    ("read", "stdin, files and directories in; split into documents; a ResourceList unwrapped",
     ["inputs.py", "pyyaml.py", "yamlio/__init__.py", "yamlio/split.py", "yamlio/load.py", "krm.py",
      "yamlio/items.py"]),
    ("find pod templates", "Kubernetes facts: where pod templates live, their shape, names, versions",
     ["kube/__init__.py", "kube/workloads.py", "kube/crds.py", "kube/shape.py", "kube/podspec.py", "kube/pointer.py",
      "kube/names.py",
      "kube/versions.py", "kube/kubelet.py", "kube/nodes.py", "kube/mesh.py"]),
    ("image facts", "with --images: each image's config (user, exposed ports) from a registry, "
                    "the disk cache or a folder, fetched once per run before planning; where "
                    "well-known images write outside their volumes (a read-only root's warning)",
     ["images/__init__.py", "images/lookup.py", "images/reference.py", "images/registry.py",
      "images/auth.py", "images/cache.py", "images/writes.py"]),
    ("plan", "the profile and its controls yield changes and skips as data",
     ["profile.py", "controls/__init__.py", "controls/base.py", "controls/context.py", "controls/*.py",
      "results.py", "record.py"]),
    ("apply", "each planned change applied to the pod template, before the next control reads it",
     ["harden.py", "shapes.py", "kube/effect.py"]),
    ("policy", "admission objects that hold the cluster to the profile; PSA labels on Namespaces",
     ["policy/__init__.py", "policy/stream.py", "policy/usage.py", "policy/envelope.py",
      "policy/naming.py", "policy/*.py"]),
    ("write", "changed documents edited in place or re-emitted; the change report",
     ["yamlio/render.py", "yamlio/textpatch.py", "yamlio/likeness.py", "yamlio/snippets.py",
      "yamlio/blocks.py", "yamlio/rewrite.py", "yamlio/dump.py", "report.py"]),
    ("audit", "beside the pipeline: the Pod Security Standards evaluator, the admission "
              "predictions (API server, kubelet, runtime) and `k8s-harden audit`",
     ["pss/__init__.py", "pss/check.py", "pss/registry.py", "pss/pod.py", "pss/checks/*.py",
      "kube/admission/__init__.py", "kube/admission/view.py", "kube/admission/*.py",
      "audit/__init__.py", "audit/*.py"]),
)


def gen_architecture() -> str:
    pkg = REPO / "hardener"
    files = sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py") if "__pycache__" not in p.parts)
    placed: dict[str, list[tuple[int, str]]] = {}
    for rel in files:
        for stage, _, patterns in STAGES:
            hit = next((i for i, pat in enumerate(patterns) if fnmatch.fnmatchcase(rel, pat)), None)
            if hit is not None:
                placed.setdefault(stage, []).append((hit, rel))
                break
        else:
            raise SystemExit(f"gen_docs: hardener/{rel} belongs to no stage: add it to STAGES in "
                             "scripts/gen_docs.py")
    out = []
    total = 0
    for n, (stage, what, _) in enumerate(STAGES, 1):
        if stage not in placed:
            continue
        rows = []
        for _, rel in sorted(placed[stage]):
            text = (pkg / rel).read_text(encoding="utf-8")
            lines = len(text.splitlines())
            total += lines
            doc = prose(first_sentence(ast.get_docstring(ast.parse(text)))) or "—"
            rows.append([f"`hardener/{rel}`", lines, doc])
        out += [f"### {n}. {stage}: {what}", "", table(["file", "lines", "what"], rows), ""]
    out.append(f"{len(files)} files, {total:,} lines in all.")
    return "\n".join(out)


# --------------------------------------------------------------------------- development
def gen_tests() -> str:
    rows = []
    for folder in ("", "e2e", "server"):
        for path in sorted((REPO / "tests" / folder).glob("test_*.py")):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            rows.append([f"`{path.relative_to(REPO).as_posix()}`", prose(first_paragraph(doc)) or "—"])
    return table(["tests", "what"], rows)


def gen_benchmarks() -> str:
    """The header lines and the tables of benchmarks/RESULTS.md, as the last run wrote them."""
    text = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    out, in_table = [], False
    for line in text.splitlines():
        if line.startswith(("Command:", "Machine:")):
            out += [line, ""]
        elif line.startswith("|"):
            out.append(line)
            in_table = True
        elif in_table:
            out.append("")
            in_table = False
        elif line.startswith("Where the time goes"):
            out += [line, ""]
    return "\n".join(out).strip()


def gen_include(path: str) -> str:
    target = (REPO / path).resolve()
    if REPO not in target.parents or not target.is_file():
        raise ValueError(f"include:{path}: not a file of the repository")
    lang = {".yaml": "yaml", ".yml": "yaml", ".sh": "sh", ".py": "python"}.get(target.suffix, "")
    return fence(target.read_text(encoding="utf-8"), lang)


GENERATORS: dict[str, Callable[[], str]] = {
    "controls": gen_controls,
    "workloads": gen_workloads,
    "crds": gen_crds,
    "profiles": gen_profiles,
    "profiles-short": gen_profiles_short,
    "profile-keys": gen_profile_keys,
    "usage": gen_usage,
    "report-example": gen_report_example,
    "emit": gen_emit,
    "vap-checks": gen_vap_checks,
    "pss-checks": gen_pss_checks,
    "admission-rules": gen_admission_rules,
    "audit-example": gen_audit_example,
    "architecture": gen_architecture,
    "tests": gen_tests,
    "benchmarks": gen_benchmarks,
}

#: Where each generated block lives; a page that lost its block fails the check.
HOMES = {
    "controls": "docs/controls.md",
    "workloads": "docs/controls.md",
    "crds": "docs/controls.md",
    "profiles": "docs/profiles.md",
    "profiles-short": "README.md",
    "profile-keys": "docs/profiles.md",
    "usage": "docs/usage.md",
    "report-example": "docs/usage.md",
    "emit": "docs/policy.md",
    "vap-checks": "docs/policy.md",
    "pss-checks": "docs/audit.md",
    "admission-rules": "docs/audit.md",
    "audit-example": "docs/audit.md",
    "architecture": "docs/architecture.md",
    "tests": "docs/development.md",
    "benchmarks": "docs/performance.md",
}


# --------------------------------------------------------------------------- driver
class DocsError(Exception):
    pass


def render(name: str, cache: dict[str, str]) -> str:
    if name not in cache:
        if name.startswith("include:"):
            cache[name] = gen_include(name[len("include:"):])
        elif name in GENERATORS:
            cache[name] = GENERATORS[name]()
        else:
            raise DocsError(f"unknown generated block {name!r}; known: {', '.join(GENERATORS)}, include:PATH")
    return cache[name]


def rewrite(text: str, where: str, cache: dict[str, str]) -> tuple[str, list[str]]:
    """The text with every generated block brought up to date, and the block names found."""
    found: list[str] = []

    def repl(m: re.Match) -> str:
        found.append(m.group("name"))
        body = render(m.group("name"), cache)
        return f"{m.group('begin')}\n{body}\n\n{m.group('end')}"

    new = MARKER.sub(repl, text)
    loose = [f"{kind} {name}" for kind, name in LOOSE_MARKER.findall(text)]
    if len(loose) != 2 * len(found):
        raise DocsError(f"{where}: unmatched generated-block markers ({', '.join(loose)})")
    return new, found


def pages(root: Path) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 and print a unified diff when a block is stale")
    ap.add_argument("--root", type=Path, default=REPO,
                    help="the folder holding README.md and docs/ (default: this checkout)")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    cache: dict[str, str] = {}
    stale, problems = [], []
    homes_seen: dict[str, set[str]] = {}
    for page in pages(root):
        if not page.is_file():
            problems.append(f"{page}: missing")
            continue
        rel = page.relative_to(root).as_posix()
        old = page.read_text(encoding="utf-8")
        try:
            new, found = rewrite(old, rel, cache)
        except DocsError as exc:
            problems.append(str(exc))
            continue
        homes_seen[rel] = set(found)
        if new != old:
            stale.append(rel)
            if args.check:
                sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                           f"a/{rel}", f"b/{rel}"))
            else:
                page.write_text(new, encoding="utf-8")
    for name, home in HOMES.items():
        if name not in homes_seen.get(home, set()):
            problems.append(f"{home}: the generated block {name!r} is missing "
                            f"(<!-- BEGIN GENERATED: {name} --> … <!-- END GENERATED: {name} -->)")
    for problem in problems:
        print(f"gen_docs: error: {problem}", file=sys.stderr)
    if args.check and stale:
        print(f"gen_docs: stale: {', '.join(stale)} (run .venv/bin/python scripts/gen_docs.py)",
              file=sys.stderr)
    elif stale:
        print(f"gen_docs: rewrote {', '.join(stale)}", file=sys.stderr)
    if problems:
        return 2
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
