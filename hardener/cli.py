"""The command line, every command of it: parses options, calls the library, maps errors
to exit codes. Each command imports the library on the path it runs, so the hardening path
(run on every `helm install`) does not pay for the audit's formats and vice versa.

stdout carries only manifests (or the --diff), written once at the end so a failure
never leaves half a stream for Helm to install; the report, notes and errors go to stderr.
Every option can be set through its environment variable, `K8S_HARDEN_<OPTION>` (audit's:
`K8S_HARDEN_AUDIT_<OPTION>`); a flag on the command line wins.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

import click

from .errors import EXIT_CHANGES, EXIT_ERROR, EXIT_FINDINGS, HardenError, UsageError
from .options import ENV_PREFIX, SETTINGS

CONTEXT = {"auto_envvar_prefix": ENV_PREFIX, "help_option_names": ["-h", "--help"],
           "max_content_width": 100}
REPORTS = ("summary", "text", "json", "none")
#: Options of the main command that `audit` honours when they stand before it
#: (`k8s-harden -f x.yaml audit`); any other is refused there rather than ignored.
AUDIT_SHARED = ("filename", "profile", "kube_version", "node_features", "images", "images_required",
                "images_cache", "images_ttl", "insecure_registry", "platform", "allow_non_objects")
NON_OBJECTS_HELP = ("Let documents that are not Kubernetes objects (no kind: a shell pipe's error "
                    "text) through unchanged. Default: such a document is an error (exit 2).")


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"k8s-harden: error: {message}", err=True)
    sys.exit(code)


def _note(message: str) -> None:
    click.echo(f"k8s-harden: note: {message}", err=True)


#: A plain run over more input than this (characters) spools its output: to memory up to
#: this size, then to a temporary file (peak memory must not grow with the stream).
SPOOL_AT = 4 << 20


def _write_stdout(text) -> None:
    """Write the finished output (a text, its pieces in order, or a binary file holding it,
    UTF-8) in pieces of at most 1 MiB: no second, encoded or joined copy of the stream. A
    reader that went away (`| head`) ends the run quietly (141); a full disk or a closed
    stdout is an error that says so (2)."""
    if sys.stdout is None:
        _fail("cannot write output: standard output is closed")
    step = 1 << 20
    try:
        out = sys.stdout.buffer
        if hasattr(text, "read"):
            text.seek(0)
            for chunk in iter(lambda: text.read(step), b""):
                out.write(chunk)
        else:
            for piece in _batched([text] if isinstance(text, str) else text):
                for i in range(0, len(piece), step):
                    out.write(piece[i:i + step].encode("utf-8", "surrogateescape"))
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        try:  # the interpreter flushes stdout again at exit: point it somewhere harmless
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "standard output is closed"
        _fail(f"cannot write output: {reason.lower()}")


def _given(ctx: click.Context, name: str, env: bool = True) -> bool:
    """Was the option given on the command line (or, with `env`, through its variable)?"""
    src = ctx.get_parameter_source(name)
    sources = (click.core.ParameterSource.COMMANDLINE,) + (
        (click.core.ParameterSource.ENVIRONMENT,) if env else ())
    return src in sources


def _resolve_config(config_path: str | None, stream):
    """The Hardener config in force: --config, else a ResourceList's functionConfig."""
    if config_path:
        from . import config

        return config.load_config_file(config_path)
    if stream.resource_list is not None:
        from . import config

        return config.parse_config(stream.function_config, "functionConfig")
    return None


def _for_subcommand(ctx: click.Context) -> None:
    """Options typed before a subcommand are the subcommand's, or refused: never ignored."""
    given = [p for p in ctx.command.params if p.name and _given(ctx, p.name, env=False)]
    if ctx.invoked_subcommand == "audit":
        ctx.obj = {p.name: ctx.params[p.name] for p in given if p.name in AUDIT_SHARED}
        given = [p for p in given if p.name not in AUDIT_SHARED]
    if given:
        names = ", ".join(p.opts[-1] for p in given)
        _fail(f"{names} before '{ctx.invoked_subcommand}' do(es) not apply to it; see "
              f"k8s-harden {ctx.invoked_subcommand} --help")


def _setting_option(name: str, help: str, *short: str, **kwargs):
    """A click option for a setting of :data:`hardener.options.SETTINGS`."""
    setting = next(s for s in SETTINGS if s.name == name)
    return click.option(*short, setting.flag, name, default=None, help=help, **kwargs)


@click.group(invoke_without_command=True, context_settings=CONTEXT)
@click.option("-f", "--filename", multiple=True, metavar="PATH",
              help="Input file or directory, '-' for stdin; repeatable. Default: stdin.")
@_setting_option("profile", "A built-in profile name or a profile file. Default: restricted.", "-p",
                 metavar="NAME|PATH")
@_setting_option("kube_version", "Target Kubernetes minor version (default: the newest known).",
                 metavar="X.Y")
@click.option("--report", type=click.Choice(REPORTS), default="summary", show_default=True,
              help="Change report on stderr: one line per resource (summary), every change "
                   "(text), one JSON object, or none.")
@_setting_option("emit", "Policy objects to append: auto (what --kube-version supports), none, "
                         "or a comma list of psp, rbac, pss-labels, vap, map. Default: the profile's, else auto.",
                 metavar="auto|none|LIST")
@_setting_option("force", "Emit policy objects the target version does not serve (psp for >= 1.25, "
                          "vap for < 1.30).", is_flag=True)
@_setting_option("binding", "Bind the PSP ClusterRole with RoleBindings (namespace, the default) or "
                            "a ClusterRoleBinding (cluster).", type=click.Choice(["namespace", "cluster"]))
@_setting_option("namespace", "Namespace for generated namespaced objects.", metavar="NS")
@_setting_option("name_prefix", "Stable name part for generated cluster objects (default: the release).",
                 metavar="NAME")
@_setting_option("node_features", "What every Linux node of the cluster has: a comma list of appArmor, "
                                  "unprivilegedPortSysctl, or none. Controls that need a missing feature "
                                  "are not applied (the kubelet would refuse the pod). Default: the "
                                  "profile's (built-in: unprivilegedPortSysctl).", metavar="LIST|none")
@click.option("--config", "config", default=None, metavar="FILE",
              help="A Hardener config (k8s-harden.io/v1) or ConfigMap giving any of the settings "
                   "above and inline control overrides; flags win over it.")
@_setting_option("verify", "Fail (exit 2) when a hardened pod template misses the profile's PSS level "
                           "and is not a reported exception.", is_flag=True)
@_setting_option("images", "Read each image's config for its user and exposed ports: off (the default), "
                           "registry (the distribution API, cached on disk) or a folder of config JSON "
                           "files with an index.json (see docs/images.md).", metavar="off|registry|DIR")
@_setting_option("images_required", "With --images: an image config that cannot be read is an error "
                                    "(exit 2), not a warning.", is_flag=True)
@_setting_option("images_cache", "With --images registry: the cache folder (default: "
                                 "$XDG_CACHE_HOME/k8s-harden/images).", metavar="DIR")
@_setting_option("images_ttl", "With --images registry: seconds the cache trusts what a tag resolved to "
                             "(default 3600); a failed lookup is remembered for a tenth of it, at most "
                             "300 s. 0: ask the registry every run.", metavar="SECONDS")
@_setting_option("insecure_registry", "With --images registry: registries to reach over plain HTTP "
                                      "(comma list).", metavar="HOST[:PORT]")
@_setting_option("platform", "With --images registry: the platform taken from a multi-arch image. "
                             "Default: linux/amd64.", metavar="OS/ARCH")
@_setting_option("mesh_cni", "The service mesh (Istio, Linkerd) redirects traffic with its CNI plugin: its "
                             "injected pods need no NET_ADMIN init container, and meshed namespaces may "
                             "enforce baseline (default: privileged). See docs/policy.md.", is_flag=True)
@click.option("--allow-non-objects", is_flag=True, help=NON_OBJECTS_HELP)
@click.option("--check", is_flag=True,
              help="Write no manifests; exit 1 if a change would change what runs, or a workload is "
                   "too malformed to harden (a default spelled out does not count; with --diff: "
                   "print it).")
@click.option("--diff", is_flag=True, help="Print a unified diff per input file instead of manifests.")
@click.version_option(package_name="k8s-harden", message="k8s-harden %(version)s",
                      allow_from_autoenv=False)
@click.pass_context
def main(ctx: click.Context, filename, report, config, allow_non_objects, check, diff, **settings):
    """Harden rendered Kubernetes manifests: read a stream (or a KRM ResourceList) on
    stdin or from -f, write it back with every pod template hardened by the profile.

    Exit codes: 0 success, 1 --check found changes (or a workload it cannot harden), 2 bad
    input, profile or usage (and --verify failures).
    """
    if ctx.invoked_subcommand:
        _for_subcommand(ctx)
        return
    # The run builds large acyclic trees and makes no reference cycles (a test holds it to
    # that: gc.collect() finds nothing after a run): the cyclic collector would only cost time.
    gc.disable()
    try:
        from .inputs import read_inputs
        from .options import build_options
        from .pipeline import is_empty, read, require_objects, run_stream

        sources = read_inputs(filename)
        stream = read(sources)
        counted = sum(1 for d in stream.documents if not is_empty(d))  # `---` alone is no document
        empty = not counted and stream.resource_list is None
        if empty and check:
            raise UsageError("no manifests in input (a failed `helm template` upstream? use "
                             "`set -o pipefail`)")
        given = {name: value for name, value in settings.items() if _given(ctx, name)}
        opts = build_options(config=_resolve_config(config, stream), assess=report != "none", **given)
        if not allow_non_objects:  # after the options: a bad profile or flag is said first
            require_objects(stream.documents)
        spool = None
        if not diff:
            size = sum(len(s.text) for s in sources)
            for s in sources:
                s.text = ""  # the documents hold their own text: one copy of the input, not two
            if size > SPOOL_AT and not check:
                import tempfile

                spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_AT)
        outcome = run_stream(stream, opts, lean=True, count_changes=report in ("summary", "none"),
                             spool=spool)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    notes = [*opts.notes, *outcome.notes] + (["no manifests in input"] if empty else [])
    _report(outcome, report, notes, counted)
    if diff:
        _write_stdout(_diff(sources, outcome.pieces))
    elif outcome.spooled is not None:
        _write_stdout(outcome.spooled)
    elif not check:
        _write_stdout(outcome.texts())
    if check:
        sys.exit(EXIT_CHANGES if _changes_what_runs(outcome) else 0)


def _changes_what_runs(outcome) -> bool:
    """--check fails where hardening changes what runs: a change of some container's
    effective setting, policy objects to add or replace, or a workload too malformed to
    harden (it is not hardened, and a CI guard must say so) — not a default spelled out
    (`privileged: false`) nor a pod-level field every container sets already (kube.effect);
    those are said in a note."""
    effective = sum(r.extra.get("changesWhatRuns", len(r.changes)) for r in outcome.results)  # Namespace labels: all
    inert = sum(len(r.changes) for r in outcome.results) - effective
    if inert:
        _note(f"--check: {inert} change(s) would only write down what runs already (a default such as "
              "privileged: false, or a pod-level setting every container has): not counted")
    others = outcome.changed and not any(r.changes for r in outcome.results)  # policy objects, labels
    malformed = [f"{r.ref} (document {r.document})" for r in outcome.results if r.extra.get("malformed")]
    if malformed:
        _note(f"--check: {len(malformed)} workload(s) too malformed to harden, counted as not hardened: "
              + ", ".join(malformed[:3]) + (", ..." if len(malformed) > 3 else ""))
    return bool(effective) or others or bool(outcome.generated) or bool(malformed)


def _diff(sources, pieces) -> str:
    """A unified diff per input file (`a/NAME` -> `b/NAME`), the generated objects as a new
    file `b/generated`: what `patch -p1` would apply, and what a reviewer reads in CI."""
    import difflib

    from .pipeline import GENERATED

    after: dict[str, list[str]] = {}
    for name, text in pieces:
        after.setdefault(name, []).extend([text] if isinstance(text, str) else text)
    files = [(f"a/{s.name}", f"b/{s.name}", s.text, "".join(after.get(s.name, []))) for s in sources]
    files.append(("/dev/null", f"b/{GENERATED}", "", "".join(after.get(GENERATED, []))))
    out = []
    for old_name, new_name, old, new in files:
        out += difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                    old_name, new_name)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in out)


def _report(outcome, kind: str, notes: list[str], n: int) -> None:
    """The report on stderr; `n`, the documents of the input that are not empty."""
    from . import report

    inactive = [f"not applied: {cid} ({why})" for cid, why in outcome.inactive.items()]
    if kind == "json":
        extra = {"inactiveControls": outcome.inactive} if outcome.inactive else {}
        if notes:
            extra["notes"] = notes
        _write_stderr([*report.json_chunks(outcome.results, n, extra or None), "\n"])
    elif kind == "text":
        _write_stderr(report.text_chunks(outcome.results, n, _report_lines(inactive, notes)))
    elif kind == "summary":
        click.echo(report.as_summary(outcome.results, n, _report_lines(inactive, notes)), err=True, nl=False)


def _report_lines(inactive: list[str], notes: list[str]) -> list[str]:
    return [f"k8s-harden: {line}" for line in inactive] + [f"k8s-harden: note: {note}" for note in notes]


def _write_stderr(chunks) -> None:
    """Write a report made in pieces (every change of a large stream is several times the
    stream) to stderr in batches of about 64 kB: never the whole report at once."""
    for batch in _batched(chunks):
        click.echo(batch, err=True, nl=False)


def _batched(pieces, short: int = 4096, size: int = 1 << 16):
    """The pieces in order, runs of short ones joined into about `size` characters: tens of
    thousands of small writes (a ResourceList's results, a report's lines) cost more than
    the joins, and one join of all of them would be a copy of the whole."""
    held: list[str] = []
    n = 0
    for piece in pieces:
        if len(piece) >= short:
            if held:
                yield "".join(held)
                held, n = [], 0
            yield piece
            continue
        held.append(piece)
        n += len(piece)
        if n >= size:
            yield "".join(held)
            held, n = [], 0
    if held:
        yield "".join(held)


@main.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles_cmd(ctx: click.Context):
    """List the built-in profiles with one-line descriptions."""
    if not ctx.invoked_subcommand:
        _list_profiles()


@profiles_cmd.command("list")
def profiles_list():
    """List the built-in profiles (the same as `k8s-harden profiles`)."""
    _list_profiles()


def _list_profiles() -> None:
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
    """Print a profile fully resolved (after extends, with every default): a profile file
    that loads back as the same profile."""
    from .profile import load_profile
    from .yamlio import dump_data

    try:
        p = load_profile(name)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    click.echo(dump_data(p.as_data()), nl=False)


AUDIT_FORMATS = ("text", "json", "sarif")


@main.command("audit", context_settings={"help_option_names": ["-h", "--help"],
                                         "max_content_width": 100})
@click.option("-f", "--filename", multiple=True, metavar="PATH",
              help="Input file or directory, '-' for stdin; repeatable. Default: stdin.")
@click.option("--level", type=click.Choice(["baseline", "restricted"]), default="restricted",
              show_default=True, help="Pod Security Standards level to check.")
@click.option("--kube-version", default=None, metavar="X.Y|latest",
              help="Policy version, as PSA's `-version` label (newer minors evaluate as the newest). "
                   "Default: latest.")
@click.option("--format", "format", type=click.Choice(AUDIT_FORMATS), default="text", show_default=True,
              help="Output on stdout.")
@click.option("-p", "--profile", default=None, metavar="NAME|PATH",
              help="Also report what this profile's controls would change (rule group profile/); "
                   "its workloads (CRDs) are audited too. Default: PSS only, restricted's workloads.")
@click.option("--node-features", default=None, metavar="LIST|none",
              help="What the cluster's Linux nodes have, for the kubelet/ predictions: a comma list "
                   "of appArmor, unprivilegedPortSysctl, or none. Default: the profile's.")
@click.option("--images", default=None, metavar="off|registry|DIR",
              help="Also predict from each image's config what the profile's uid would break "
                   "(rule group image/); as k8s-harden's --images.")
@click.option("--images-required", is_flag=True, default=None,
              help="An image config that cannot be read is an error (exit 2).")
@click.option("--images-cache", default=None, metavar="DIR", help="As k8s-harden's --images-cache.")
@click.option("--images-ttl", default=None, metavar="SECONDS", help="As k8s-harden's --images-ttl.")
@click.option("--insecure-registry", default=None, metavar="HOST[:PORT]",
              help="As k8s-harden's --insecure-registry.")
@click.option("--platform", default=None, metavar="OS/ARCH", help="As k8s-harden's --platform.")
@click.option("--allow-non-objects", is_flag=True, default=None, help=NON_OBJECTS_HELP)
@click.option("--sarif-uri-prefix", default="", metavar="PATH/",
              help="With --format sarif: put this before every relative file URI (the chart's folder "
                   "in the repository, e.g. charts/, so code scanning finds the file).")
@click.pass_context
def audit_cmd(ctx: click.Context, filename, level, kube_version, format, profile, node_features,
              allow_non_objects, sarif_uri_prefix, **image_opts):
    """Check every pod template against the Pod Security Standards and the admission rules;
    write nothing back.

    Exit codes: 0 every pod template passes, 1 findings, 2 bad input, profile or usage.
    """
    from . import audit
    from .audit.formats import FORMATS
    from .inputs import read_inputs
    from .options import kube_version as parse_kube_version
    from .options import parse_node_features

    gc.disable()  # as for a run (see main): an audit makes no reference cycles either (a test holds it)
    before = ctx.obj or {}  # options given before `audit`
    filename = filename or before.get("filename", ())
    profile = profile if profile is not None else before.get("profile")
    kube_version = kube_version if kube_version is not None else before.get("kube_version")
    node_features = node_features if node_features is not None else before.get("node_features")
    allow_non_objects = bool(allow_non_objects or before.get("allow_non_objects"))
    image_opts = {k: v if v is not None else before.get(k) for k, v in image_opts.items()}
    try:
        version, notes = parse_kube_version(kube_version or "latest")
        for note in notes:
            click.echo(f"k8s-harden audit: note: {note}", err=True)
        features = parse_node_features(node_features) if node_features is not None else None
        from .options import image_settings

        images = image_settings(image_opts["images"], bool(image_opts["images_required"]),
                                image_opts["images_cache"], image_opts["insecure_registry"],
                                image_opts["platform"], image_opts["images_ttl"])
        report = audit.audit_sources(read_inputs(filename), level, version, profile, features, images,
                                     objects_only=not allow_non_objects)
    except HardenError as exc:
        _fail(str(exc), exc.exit_code)
    if not report.documents:
        _fail("no manifests in input (a failed `helm template` upstream? use `set -o pipefail`)")
    report.uri_prefix = sarif_uri_prefix if not sarif_uri_prefix or sarif_uri_prefix.endswith("/") \
        else sarif_uri_prefix + "/"
    _write_stdout(FORMATS[format](report))
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
