"""Kernel-enforced confinement: seccomp, AppArmor, SELinux, the /proc masks and sysctls."""

from __future__ import annotations

from typing import Any

from .. import pss
from ..kube import names, versions
from ..results import CONFLICT, NOT_APPLICABLE, Skip
from .base import Control, Option, is_str_map, one_of


def _profile_field(opts: dict) -> dict:
    out = {"type": opts["type"]}
    if opts["type"] == "Localhost":
        out["localhostProfile"] = opts["localhostProfile"]
    return out


def _annotation_value(opts: dict) -> str:
    return "runtime/default" if opts["type"] == "RuntimeDefault" else f"localhost/{opts['localhostProfile']}"


def _seccomp_localhost(v: Any) -> str | None:
    """pkg/apis/core/validation/validation.go, validateSeccompProfileField ->
    validateLocalDescendingPath: a relative path without a `..` segment (and, stricter than
    the API, not empty: the runtime could not load an empty name)."""
    ok = v is None or (isinstance(v, str) and v and not v.startswith("/")
                       and ".." not in v.replace("\\", "/").split("/"))
    return None if ok else "null or a relative path below the kubelet's seccomp folder, without '..'"


def _apparmor_localhost(v: Any) -> str | None:
    """validation.go, ValidateAppArmorProfileField: not empty, not padded with whitespace,
    at most 4095 bytes (PATH_MAX - 1)."""
    ok = v is None or (isinstance(v, str) and v and v.strip() == v and len(v.encode()) <= 4095)
    return None if ok else "null or a profile name: not empty, no surrounding spaces, at most 4095 bytes"


def _type_of(v: Any) -> Any:
    return v.get("type") if isinstance(v, dict) else None


_LABEL = {"seccompProfile": "seccomp", "appArmor": "AppArmor"}


def _unconfined(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == "unconfined"


def _field_for_annotation(value: Any, control: str) -> dict | None:
    """The field an annotation means, as the API server converted them while it did
    (pkg/api/pod/util.go SeccompFieldForAnnotation, strategy.go applyAppArmorVersionSkew):
    runtime/default (and, for seccomp, docker/default) -> RuntimeDefault, localhost/NAME ->
    Localhost NAME; None for unconfined and for values it does not read."""
    if not isinstance(value, str):
        return None
    if value == "runtime/default" or (control == "seccompProfile" and value == "docker/default"):
        return {"type": "RuntimeDefault"}
    if value.startswith("localhost/"):
        name = value[len("localhost/"):]
        check = _seccomp_localhost if control == "seccompProfile" else _apparmor_localhost
        if name and check(name) is None:
            return {"type": "Localhost", "localhostProfile": name}
    return None


def _unconfined_annotations(ctx, control: str, opts: dict, keys: list) -> Any:
    """For each (annotation key, container) whose value is `unconfined`: the profile's
    value under `override`, else the conflict (`keep` reports, `fail` stops)."""
    ann = ctx.pod_annotations
    for key, container in keys:
        if _unconfined(ann.get(key)):
            if ctx.rule(control) == "override":
                yield ctx.set(control, ("metadata", "annotations", key), _annotation_value(opts),
                              "override unconfined", container)
            else:
                yield ctx.conflict(control, f"annotation {key}: unconfined", container)


def _confine(ctx, control: str, opts: dict, field: str, pod_key: str | None, container_prefix: str,
             field_from: tuple) -> Any:
    """Shared plan of seccomp and AppArmor: annotations before `field_from`, the field after.

    An annotation the manifest sets is the author's choice and stays (an `unconfined` one is
    a conflict): a field added next to it must say the same, or the API server rejects the
    pod (validation.go validateSeccompAnnotationsAndFieldsMatch,
    validateAppArmorAnnotationsAndFieldsMatchOnCreate) — so the field mirrors it. Pod level
    as a rule; per container when containers are opted out (a pod-level profile would reach
    them, injected sidecars included).
    """
    override = ctx.rule(control) == "override"
    desired_ann = _annotation_value(opts)
    ann = ctx.pod_annotations
    containers = list(ctx.containers())
    per_container = bool(ctx.skip_containers) or not ctx.pod_level
    keys = ([(pod_key, None)] if pod_key else []) + [(container_prefix + c.name, c.name) for c in containers]
    # explicit `unconfined` annotations conflict whatever the version
    yield from _unconfined_annotations(ctx, control, opts, keys)
    if ctx.kube < field_from:
        since = f"annotation before {field_from[0]}.{field_from[1]}"
        targets = keys[:1] if pod_key and not per_container else keys[1 if pod_key else 0:]
        for key, container in targets:
            if ann.get(key) is None:
                yield ctx.set(control, ("metadata", "annotations", key), desired_ann,
                              f"{opts['type']} profile ({since})", container)
        return
    for c in containers:
        if _type_of(c.sc.get(field)) == "Unconfined":
            if override:
                yield ctx.set(control, c.path + ("securityContext", field), _profile_field(opts),
                              "override Unconfined", c.name)
            else:
                yield ctx.conflict(control, f"{field}.type: Unconfined", c.name)
    current = ctx.pod_sc.get(field)
    if _type_of(current) == "Unconfined":
        if override:
            yield ctx.set(control, ("spec", "securityContext", field), _profile_field(opts),
                          "override Unconfined")
        else:
            yield ctx.conflict(control, f"pod {field}.type: Unconfined")
        return
    if current is not None:
        return
    label = _LABEL[control]
    wanted = (_profile_field(opts), f"{opts['type']} {label} profile for every container")
    if not per_container:
        value = ann.get(pod_key) if pod_key else None
        if value is not None:
            mirrored = _field_for_annotation(value, control)
            if mirrored is None:
                if not _unconfined(value):
                    yield Skip(control, f"annotation {pod_key}: {value!r} is kept and is no profile "
                               "a field could match", kind=CONFLICT, setting=f"annotation {pod_key}")
                return
            wanted = (mirrored, f"{label} profile of the kept annotation {pod_key}: {value} "
                                "(field and annotation must match)")
        yield ctx.set(control, ("spec", "securityContext", field), *wanted)
        return
    for c in containers:
        if c.sc.get(field) is not None:
            continue
        key = container_prefix + c.name
        value, why = ann.get(key), wanted[1] + (" (per container: opted-out containers keep their own)"
                                                if ctx.pod_level else " (per container: no pod level here)")
        target = wanted[0]
        if value is not None:
            target = _field_for_annotation(value, control)
            why = f"{label} profile of the kept annotation {key}: {value}"
            if target is None:
                continue  # unconfined (a conflict above) or unreadable: the annotation stays alone
        yield ctx.set(control, c.path + ("securityContext", field), target, why, c.name)


def _profile_options(localhost_check) -> dict[str, Option]:
    return {
        "type": Option("RuntimeDefault", one_of("RuntimeDefault", "Localhost"), "profile type"),
        "localhostProfile": Option(None, localhost_check, "profile name when type is Localhost"),
    }


def _validate_profile(opts: dict) -> tuple[str, str] | None:
    """validation.go: localhostProfile must be set when the type is Localhost, and only then."""
    if opts["type"] == "Localhost" and not opts["localhostProfile"]:
        return "localhostProfile", "type Localhost needs localhostProfile"
    if opts["type"] != "Localhost" and opts["localhostProfile"] is not None:
        return "localhostProfile", f"localhostProfile can only be set with type Localhost, not {opts['type']}"
    return None


class SeccompProfile(Control):
    """`seccompProfile: {type: RuntimeDefault}` at pod level (field from 1.19, the
    `seccomp.security.alpha.kubernetes.io/pod` annotation before). Unconfined conflicts;
    Localhost is at least as strict and stays. PSS restricted."""

    id = "seccompProfile"
    scope = "pod"
    pss_checks = frozenset(("seccompProfile_baseline", "seccompProfile_restricted"))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
"""
    options = _profile_options(_seccomp_localhost)
    validate = staticmethod(_validate_profile)

    def plan(self, ctx, opts):
        yield from _confine(ctx, self.id, opts, "seccompProfile", names.SECCOMP_POD,
                            names.SECCOMP_CONTAINER_PREFIX, versions.SECCOMP_FIELD)


class AppArmor(Control):
    """AppArmor `RuntimeDefault`: the pod-level `appArmorProfile` field from 1.30, the
    per-container `container.apparmor.security.beta.kubernetes.io/NAME` annotations
    before. Unconfined conflicts. Where a template already uses the annotations on 1.30+,
    they are kept rather than mixed with the field."""

    id = "appArmor"
    scope = "pod"
    requires = "appArmor"
    pss_checks = frozenset(("appArmorProfile",))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
"""
    options = _profile_options(_apparmor_localhost)
    validate = staticmethod(_validate_profile)

    def plan(self, ctx, opts):
        if ctx.kube >= versions.APPARMOR_FIELD and "appArmorProfile" not in ctx.pod_sc and any(
                isinstance(k, str) and k.startswith(names.APPARMOR_CONTAINER_PREFIX)
                for k in ctx.pod_annotations):  # YAML 1.1 keys (`on:`, `1:`) are no annotation
            prefix = names.APPARMOR_CONTAINER_PREFIX
            yield from _unconfined_annotations(ctx, self.id, opts, [
                (k, k[len(prefix):]) for k in ctx.pod_annotations if isinstance(k, str) and k.startswith(prefix)])
            yield Skip(self.id, "kept: AppArmor set by annotations (not mixed with the field)",
                       kind=NOT_APPLICABLE)
            return
        yield from _confine(ctx, self.id, opts, "appArmorProfile", None,
                            names.APPARMOR_CONTAINER_PREFIX, versions.APPARMOR_FIELD)


def _validate_selinux(opts: dict) -> tuple[str, str] | None:
    """The profile's own options must pass the `seLinuxOptions` check it enforces
    (check_seLinuxOptions.go): an allowed type, no user, no role."""
    given = opts["options"]
    if given.get("type", "") not in pss.selinux_types():
        return "options", (f"type {given['type']!r} fails PSS check seLinuxOptions; use one of "
                           + ", ".join(sorted(t for t in pss.selinux_types() if t)))
    for key in ("user", "role"):
        if key in given:
            return "options", f"{key} fails PSS check seLinuxOptions (a custom SELinux {key} is forbidden)"
    return None


class SELinux(Control):
    """SELinux labels within what PSS allows (check_seLinuxOptions.go): an explicit
    `seLinuxOptions.type` outside container_t, container_init_t, container_kvm_t (and
    container_engine_t from 1.31) and any custom `user` or `role` conflict — `override`
    removes them (the runtime's default label applies; the profile's type when it sets one),
    `keep` reports them. Pod-level `seLinuxOptions` are set when the profile gives some."""

    id = "seLinux"
    scope = "pod"
    pss_checks = frozenset(("seLinuxOptions",))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext:
      seLinuxOptions:
        type: spc_t
"""
    options = {"options": Option({}, is_str_map, "seLinuxOptions to set, e.g. {type: container_t}")}
    example_options = {"options": {"type": "container_t"}}
    validate = staticmethod(_validate_selinux)

    def plan(self, ctx, opts):
        allowed = pss.selinux_types(ctx.kube)
        sources = [(("spec", "securityContext"), ctx.pod_sc, None)]
        sources += [(c.path + ("securityContext",), c.sc, c.name) for c in ctx.containers()]
        for at, sc, container in sources:
            options = sc.get("seLinuxOptions")
            if not isinstance(options, dict):
                continue
            bad = [k for k in ("user", "role") if options.get(k)]
            kind = options.get("type")
            if kind and kind not in allowed:
                bad.insert(0, "type")
            for key in bad:
                what = f"seLinuxOptions.{key}: {options[key]}"
                if ctx.rule(self.id) != "override":
                    yield ctx.conflict(self.id, what, container, check="seLinuxOptions")
                elif key == "type" and opts["options"].get("type"):
                    yield ctx.set(self.id, at + ("seLinuxOptions", "type"), opts["options"]["type"],
                                  f"override {what}", container)
                else:
                    yield ctx.remove(self.id, at + ("seLinuxOptions", key), f"override {what}", container)
        if opts["options"] and ctx.pod_sc.get("seLinuxOptions") is None:
            skip = ctx.pod_level_skip(self.id, "seLinuxOptions")
            if skip:
                yield skip
                return
            yield ctx.set(self.id, ("spec", "securityContext", "seLinuxOptions"),
                          dict(opts["options"]), "profile's SELinux options")


class ProcMount(Control):
    """`procMount: Unmasked` lets a container see /proc paths the runtime masks (kcore,
    sysrq-trigger, ...): PSS baseline refuses it, restricted from 1.35 even for
    user-namespaced pods (check_procMount.go). `override` sets `Default`; `keep` reports.
    A baseline profile leaves it to pods with `hostUsers: false` from 1.35, as PSS does."""

    id = "procMount"
    scope = "container"
    pss_checks = frozenset(("procMount", "procMount_restricted"))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: builder
spec:
  hostUsers: false
  containers:
  - name: buildkit
    image: moby/buildkit:rootless
    securityContext:
      procMount: Unmasked
"""
    example_options = {"conflicts": "override"}

    def plan(self, ctx, opts):
        if (ctx.level != "restricted" and ctx.kube >= versions.PSS_USERNS
                and ctx.spec.get("hostUsers") is False):
            return  # check_procMount.go procMount1_35baseline
        for c in ctx.containers():
            value = c.sc.get("procMount")
            if value is None or value == "Default":
                continue
            if ctx.rule(self.id) == "override":
                yield ctx.set(self.id, c.path + ("securityContext", "procMount"), "Default",
                              f"override procMount: {value}", c.name)
            else:
                check = ("procMount_restricted" if ctx.level == "restricted" and ctx.kube >= versions.PSS_USERNS
                         else "procMount")
                yield ctx.conflict(self.id, f"procMount: {value}", c.name, check=check)


class Sysctls(Control):
    """Pod sysctls outside the safe set of the target version (check_sysctls.go; the
    kubelet refuses the rest unless the node allows them) can change the whole node.
    `override` removes them; `keep` reports them (a workload may depend on the tuning)."""

    id = "sysctls"
    scope = "pod"
    pss_checks = frozenset(("sysctls",))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  securityContext:
    sysctls:
    - name: kernel.shm_rmid_forced
      value: "1"
    - name: net.core.somaxconn
      value: "1024"
  containers:
  - name: db
    image: postgres:17
"""
    example_options = {"conflicts": "override"}

    def plan(self, ctx, opts):
        sysctls = ctx.pod_sc.get("sysctls")
        if not isinstance(sysctls, list):
            return
        safe = pss.safe_sysctls(ctx.kube)
        unsafe = [(i, s.get("name")) for i, s in enumerate(sysctls)
                  if isinstance(s, dict) and s.get("name") not in safe]
        for i, name in reversed(unsafe):  # from the end: each index stays right
            if ctx.rule(self.id) == "override":
                yield ctx.remove(self.id, ("spec", "securityContext", "sysctls", i),
                                 f"override unsafe sysctl {name}")
            else:
                yield ctx.conflict(self.id, f"sysctl {name}", check="sysctls")
