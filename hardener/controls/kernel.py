"""Kernel-enforced confinement: seccomp, AppArmor and SELinux."""

from __future__ import annotations

from typing import Any

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
    for key, container in keys:  # explicit `unconfined` annotations conflict whatever the version
        if _unconfined(ann.get(key)):
            if override:
                yield ctx.set(control, ("metadata", "annotations", key), desired_ann,
                              "override unconfined", container)
            else:
                yield ctx.conflict(control, f"annotation {key}: unconfined", container)
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
        value, why = ann.get(key), wanted[1] + " (per container: opted-out containers keep their own)"
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
            yield Skip(self.id, "kept: AppArmor set by annotations (not mixed with the field)",
                       kind=NOT_APPLICABLE)
            return
        yield from _confine(ctx, self.id, opts, "appArmorProfile", None,
                            names.APPARMOR_CONTAINER_PREFIX, versions.APPARMOR_FIELD)


class SELinux(Control):
    """Pod-level `seLinuxOptions` when the profile sets some (empty: do nothing). Explicit
    options in the manifest stay."""

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
"""
    options = {"options": Option({}, is_str_map, "seLinuxOptions to set, e.g. {type: container_t}")}
    example_options = {"options": {"type": "container_t"}}

    def plan(self, ctx, opts):
        if opts["options"] and ctx.pod_sc.get("seLinuxOptions") is None:
            skip = ctx.pod_level_skip(self.id, "seLinuxOptions")
            if skip:
                yield skip
                return
            yield ctx.set(self.id, ("spec", "securityContext", "seLinuxOptions"),
                          dict(opts["options"]), "profile's SELinux options")
