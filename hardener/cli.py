"""The command line, every command of it: parses options, calls the library, maps errors
to exit codes. Each command imports the library on the path it runs, so the hardening path
(run on every `helm install`) does not pay for the audit's formats and vice versa.

stdout carries only manifests (or the --diff), written once at the end so a failure
never leaves half a stream for Helm to install; the report and errors go to stderr.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from .errors import EXIT_CHANGES, EXIT_ERROR, EXIT_FINDINGS, HardenError

ENV_PREFIX = "K8S_HARDEN"
CONTEXT = {"auto_envvar_prefix": ENV_PREFIX, "help_option_names": ["-h", "--help"],
           "max_content_width": 100}


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"k8s-harden: error: {message}", err=True)
    sys.exit(code)


def _write_stdout(text: str) -> None:
    """Write the finished output in 1 MiB pieces: no second, encoded copy of the stream."""
    step = 1 << 20
    try:
        out = sys.stdout.buffer
        for i in range(0, len(text), step):
            out.write(text[i:i + step].encode("utf-8", "surrogateescape"))
        out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): end quietly, without a traceback at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)


def _explicit(ctx: click.Context, name: str) -> bool:
    """Was the option given on the command line or through its environment variable?"""
    src = ctx.get_parameter_source(name)
    return src in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


def _resolve_config(config_path: str | None, stream):
    """The Hardener config in force: --config, else a ResourceList's functionConfig."""
    from . import config

    if config_path:
        return config.load_config_file(config_path)
    if stream.resource_list is not None:
        return config.parse_config(stream.function_config, "functionConfig")
    return None


@click.group(invoke_without_command=True, context_settings=CONTEXT)
@click.option("-f", "--filename", multiple=True, metavar="PATH",
              help="Input file or directory, '-' for stdin; repeatable. Default: stdin.")
@click.option("-p", "--profile", default="restricted", show_default=True, metavar="NAME|PATH",
              help="A built-in profile name or a profile file.")
@click.option("--kube-version", metavar="X.Y", default=None,
              help="Target Kubernetes minor version (default: the newest known).")
@click.option("--report", type=click.Choice(["text", "json", "none"]), default="text",
              show_default=True, help="Change report on stderr.")
@click.option("--emit", default=None, metavar="auto|none|LIST",
              help="Policy objects to append: auto (what --kube-version supports), none, or a "
                   "comma list of psp, rbac, pss-labels, vap. Default: the profile's, else auto.")
@click.option("--force", is_flag=True,
              help="Emit policy objects the target version does not serve (psp for >= 1.25, vap for < 1.30).")
@click.option("--binding", type=click.Choice(["namespace", "cluster"]), default="namespace",
              show_default=True, help="Bind the PSP ClusterRole with RoleBindings or a ClusterRoleBinding.")
@click.option("--namespace", default=None, help="Namespace for generated namespaced objects.")
@click.option("--name-prefix", default=None,
              help="Stable name part for generated cluster objects (default: the release).")
@click.option("--node-features", default=None, metavar="LIST|none",
              help="What every Linux node of the cluster has: a comma list of appArmor, "
                   "unprivilegedPortSysctl, or none. Controls that need a missing feature are not "
                   "applied (the kubelet would refuse the pod). Default: the profile's "
                   "(built-in: unprivilegedPortSysctl).")
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="A Hardener config (k8s-harden.io/v1) or ConfigMap supplying profile, "
                   "kubeVersion, emit and inline control overrides; flags win over it.")
@click.option("--verify", is_flag=True,
              help="Fail (exit 2) when a hardened pod template misses the profile's PSS level "
                   "and is not a reported exception.")
@click.option("--check", is_flag=True, help="Write no manifests; exit 1 if any change would be made.")
@click.option("--diff", is_flag=True, help="Print a unified diff of input vs output instead of manifests.")
@click.version_option(package_name="k8s-harden", message="k8s-harden %(version)s")
@click.pass_context
def main(ctx: click.Context, filename, profile, kube_version, emit, force, binding, namespace,
         name_prefix, node_features, config_path, verify, report, check, diff):
    """Harden rendered Kubernetes manifests: read a stream (or a KRM ResourceList) on
    stdin or from -f, write it back with every pod template hardened by the profile.

    Exit codes: 0 success, 1 --check found changes, 2 bad input, profile or usage.
    """
    if ctx.invoked_subcommand:
        return
    try:
        from .inputs import read_inputs
        from .options import build_options
        from .pipeline import read, run_stream

        sources = read_inputs(filename)
        stream = read(sources)
        if not diff:
            sources = None  # the documents hold their own text: drop the input's copy
        opts = build_options(
            profile=profile if _explicit(ctx, "profile") else None,
            kube_version=kube_version if _explicit(ctx, "kube_version") else None,
            emit=emit if _explicit(ctx, "emit") else None,
            config=_resolve_config(config_path, stream), force=force, binding=binding,
            namespace=namespace, name_prefix=name_prefix, verify=verify, assess=report != "none",
            node_features=node_features)
        outcome = run_stream(stream, opts)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    _report(outcome, report)
    if check:
        sys.exit(EXIT_CHANGES if outcome.changed else 0)
    if diff:
        import difflib

        before = "".join(s.text for s in sources)
        _write_stdout("".join(difflib.unified_diff(
            before.splitlines(keepends=True), outcome.output.splitlines(keepends=True),
            "input", "hardened")))
        return
    _write_stdout(outcome.output)


def _report(outcome, kind: str) -> None:
    from . import report

    n = len(outcome.documents)
    if kind == "json":
        extra = {"inactiveControls": outcome.inactive} if outcome.inactive else None
        click.echo(report.as_json(outcome.results, n, extra), err=True)
    elif kind == "text":
        lines = [f"k8s-harden: not applied: {cid} ({why})" for cid, why in outcome.inactive.items()]
        click.echo(report.as_text(outcome.results, n, lines), err=True, nl=False)


@main.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles_cmd(ctx: click.Context):
    """List the built-in profiles with one-line descriptions."""
    if ctx.invoked_subcommand:
        return
    from .profile import builtin_names, load_profile

    for name in builtin_names():
        try:
            desc = load_profile(name).description
        except HardenError as exc:
            desc = f"(invalid: {exc})"
        click.echo(f"{name:12} {desc}")


@profiles_cmd.command("show")
@click.argument("name")
def profiles_show(name: str):
    """Print a profile fully resolved (after extends, with every default)."""
    from .profile import load_profile
    from .yamlio import dump_data

    try:
        p = load_profile(name)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    data = {"name": p.name, "description": p.description, "level": p.level,
            "conflicts": p.conflicts, "emit": p.emit,
            "workloads": [{"kind": w.kind, **({"group": w.group} if w.group else {}),
                           "podTemplate": w.pod_template} for w in p.workloads],
            "controls": p.controls}
    click.echo(dump_data(data), nl=False)


AUDIT_FORMATS = ("text", "json", "sarif")


@main.command("audit", context_settings={"help_option_names": ["-h", "--help"],
                                         "max_content_width": 100})
@click.option("-f", "--filename", multiple=True, metavar="PATH",
              help="Input file or directory, '-' for stdin; repeatable. Default: stdin.")
@click.option("--level", type=click.Choice(["baseline", "restricted"]), default="restricted",
              show_default=True, help="Pod Security Standards level to check.")
@click.option("--kube-version", default="latest", show_default=True, metavar="X.Y|latest",
              help="Policy version, as PSA's `-version` label (newer minors evaluate as the newest).")
@click.option("--format", "fmt", type=click.Choice(AUDIT_FORMATS), default="text", show_default=True,
              help="Output on stdout.")
@click.option("-p", "--profile", default=None, metavar="NAME|PATH",
              help="Also report what this profile's controls would change (rule group profile/); "
                   "its workloads (CRDs) are audited too. Default: PSS only, restricted's workloads.")
@click.option("--node-features", default=None, metavar="LIST|none",
              help="What the cluster's Linux nodes have, for the kubelet/ predictions: a comma list "
                   "of appArmor, unprivilegedPortSysctl, or none. Default: the profile's.")
def audit_cmd(filename, level, kube_version, fmt, profile, node_features):
    """Check every pod template against the Pod Security Standards; write nothing back.

    Exit codes: 0 every pod template passes, 1 findings, 2 bad input, profile or usage.
    """
    from . import audit
    from .audit.formats import FORMATS
    from .inputs import read_inputs

    try:
        from .options import parse_node_features

        version = audit.parse_version(kube_version)
        features = parse_node_features(node_features) if node_features is not None else None
        report = audit.audit_sources(read_inputs(filename), level, version, profile, features)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    _write_stdout(FORMATS[fmt](report))
    sys.exit(EXIT_FINDINGS if report.failed else 0)


def entrypoint() -> None:
    """Console-script entry: no traceback ever reaches the user for their mistakes."""
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, keep stdout empty
        if os.environ.get(f"{ENV_PREFIX}_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set {ENV_PREFIX}_DEBUG=1 for a traceback)")
