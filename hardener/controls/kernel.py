"""Kernel-enforced confinement: seccomp, AppArmor and SELinux."""

from __future__ import annotations

from typing import Any

from ..kube import names, versions
from ..results import NOT_APPLICABLE, Skip
from .base import Control, Option, is_str_map, one_of


def _profile_field(opts: dict) -> dict:
    out = {"type": opts["type"]}
    if opts["type"] == "Localhost":
        out["localhostProfile"] = opts["localhostProfile"]
    return out


def _annotation_value(opts: dict) -> str:
    return "runtime/default" if opts["type"] == "RuntimeDefault" else f"localhost/{opts['localhostProfile']}"


def _is_optional_str(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and v) else "a non-empty string or null"


def _type_of(v: Any) -> Any:
    return v.get("type") if isinstance(v, dict) else None


_LABEL = {"seccompProfile": "seccomp", "appArmor": "AppArmor"}


def _confine(ctx, control: str, opts: dict, field: str, annotations: list[tuple[str, str | None]],
             to_set: list[tuple[str, str | None]], field_from: tuple) -> Any:
    """Shared plan of seccomp and AppArmor: the field (pod level) from `field_from`, the
    annotations `to_set` before it. `annotations` lists every (key, container) pair whose
    `unconfined` value conflicts."""
    override = ctx.rule(control) == "override"
    desired_ann = _annotation_value(opts)
    ann = ctx.pod_annotations
    # explicit `unconfined` annotations conflict whatever the version
    for key, container in annotations:
        val = ann.get(key)
        if isinstance(val, str) and val.lower() == "unconfined":
            if override:
                yield ctx.set(control, ("metadata", "annotations", key), desired_ann,
                              "override unconfined", container)
            else:
                yield ctx.conflict(control, f"annotation {key}: unconfined", container)
    if ctx.kube < field_from:
        for key, container in to_set:
            if ann.get(key) is None:
                yield ctx.set(control, ("metadata", "annotations", key), desired_ann,
                              f"{opts['type']} profile (annotation before {field_from[0]}.{field_from[1]})",
                              container)
        return
    for c in ctx.containers():
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
    elif current is None:
        yield ctx.set(control, ("spec", "securityContext", field), _profile_field(opts),
                      f"{opts['type']} {_LABEL[control]} profile for every container")


PROFILE_OPTIONS = {
    "type": Option("RuntimeDefault", one_of("RuntimeDefault", "Localhost"), "profile type"),
    "localhostProfile": Option(None, _is_optional_str, "profile name when type is Localhost"),
}


def _validate_profile(opts: dict) -> tuple[str, str] | None:
    if opts["type"] == "Localhost" and not opts["localhostProfile"]:
        return "localhostProfile", "type Localhost needs localhostProfile"
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
    options = PROFILE_OPTIONS
    validate = staticmethod(_validate_profile)

    def plan(self, ctx, opts):
        pod = [(names.SECCOMP_POD, None)]
        per_container = [(names.SECCOMP_CONTAINER_PREFIX + c.name, c.name) for c in ctx.containers()]
        yield from _confine(ctx, self.id, opts, "seccompProfile", pod + per_container, pod,
                            versions.SECCOMP_FIELD)


class AppArmor(Control):
    """AppArmor `RuntimeDefault`: the pod-level `appArmorProfile` field from 1.30, the
    per-container `container.apparmor.security.beta.kubernetes.io/NAME` annotations
    before. Unconfined conflicts. Where a template already uses the annotations on 1.30+,
    they are kept rather than mixed with the field."""

    id = "appArmor"
    scope = "pod"
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
    options = PROFILE_OPTIONS
    validate = staticmethod(_validate_profile)

    def plan(self, ctx, opts):
        per_container = [(names.APPARMOR_CONTAINER_PREFIX + c.name, c.name) for c in ctx.containers()]
        if ctx.kube >= versions.APPARMOR_FIELD and "appArmorProfile" not in ctx.pod_sc and any(
                k.startswith(names.APPARMOR_CONTAINER_PREFIX) for k in ctx.pod_annotations):
            yield Skip(self.id, "kept: AppArmor set by annotations (not mixed with the field)",
                       kind=NOT_APPLICABLE)
            return
        yield from _confine(ctx, self.id, opts, "appArmorProfile", per_container, per_container,
                            versions.APPARMOR_FIELD)


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
            yield ctx.set(self.id, ("spec", "securityContext", "seLinuxOptions"),
                          dict(opts["options"]), "profile's SELinux options")
