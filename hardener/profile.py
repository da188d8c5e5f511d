"""Hardening profiles: YAML data, composed with `extends:`, validated with exact errors.

A bare name (`restricted`) is a built-in profile from `profiles/`; anything else is a
path. A profile may `extends:` another (a name, or a path relative to the file); maps
merge, lists replace, the base is never mutated. Controls not listed under `controls:`
are not applied; a listed control gets its defaults (from the control class) for every
option the profile does not set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import controls as _controls
from .errors import HardenError, ProfileError
from .kube.workloads import CustomWorkload
from .record import Record

TOP_KEYS = {
    "name": "a short name",
    "description": "a one-line description",
    "extends": "a built-in profile name or a path",
    "level": "the Pod Security Standards level the profile targets: baseline or restricted",
    "conflicts": "default rule for explicit conflicting settings: keep, override or fail",
    "controls": "a mapping of control id to options",
    "workloads": "a list of {kind, apiVersion (optional), podTemplate or podTemplates} for CRDs "
                 "with pod templates (beside the built-in CRD table)",
    "emit": "default policy objects to emit: auto, none, or a list of psp, rbac, pss-labels, vap, map",
    "nodeFeatures": "what every Linux node of the target cluster has: a list of appArmor, "
                    "unprivilegedPortSysctl",
}
EMIT_KINDS = ("psp", "rbac", "pss-labels", "vap", "map")

#: What a node may or may not have, and what a control needing it would break without it.
#: The default assumes the mainstream node OS of today: no AppArmor (Amazon Linux, the EKS
#: default; Bottlerocket; RHEL and its rebuilds; CoreOS; Flatcar), a kernel >= 4.11.
NODE_FEATURES = {
    "appArmor": "AppArmor is enabled on every Linux node (Ubuntu, Debian, COS, SUSE). Without it "
                "the kubelet refuses any pod that asks for an AppArmor profile other than "
                "unconfined (pkg/security/apparmor isRequired/validateHost): it stays Pending "
                "before 1.31 and fails from 1.31",
    "unprivilegedPortSysctl": "the kernel has net.ipv4.ip_unprivileged_port_start (Linux >= 4.11); "
                              "on older kernels the pod sandbox cannot be created",
}
DEFAULT_NODE_FEATURES = ("unprivilegedPortSysctl",)


def builtin_dir() -> Path:
    """`profiles/` ships inside the package in a wheel and sits beside it in a checkout."""
    here = Path(__file__).resolve().parent
    inside = here / "profiles"
    return inside if inside.is_dir() else here.parent / "profiles"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


class Profile(Record):
    """A resolved profile: every option filled in. `controls`: the enabled controls only,
    in registry order; `raw`: the merged data, for `profiles show`; `listed`: every control
    the profile enables (`controls` is the part active on its nodes)."""

    _fields = ("name", "description", "level", "conflicts", "controls", "workloads", "emit", "source",
               "raw", "node_features", "listed")
    _hidden = frozenset(("raw", "listed"))

    def __init__(self, name: str, description: str, level: str, conflicts: str,
                 controls: dict[str, dict[str, Any]], workloads: list[CustomWorkload] | None = None,
                 emit: Any = "auto", source: str = "", raw: dict | None = None,
                 node_features: frozenset[str] = frozenset(DEFAULT_NODE_FEATURES),
                 listed: dict[str, dict[str, Any]] | None = None) -> None:
        self.name, self.description, self.level, self.conflicts = name, description, level, conflicts
        self.controls, self.workloads, self.emit, self.source = controls, workloads or [], emit, source
        self.raw, self.node_features, self.listed = raw or {}, node_features, listed or {}

    def replace(self, **changes: Any) -> "Profile":
        """A copy with `changes` (dataclasses.replace)."""
        return Profile(**{f: changes.get(f, getattr(self, f)) for f in self._fields})

    def rule(self, control_id: str) -> str:
        return self.controls.get(control_id, {}).get("conflicts") or self.conflicts

    @property
    def inactive(self) -> dict[str, str]:
        """Listed controls left out because the nodes lack what they need: id -> why."""
        return {cid: f"needs node feature {_controls.CONTROLS[cid].requires}: --node-features "
                     f"{_controls.CONTROLS[cid].requires} if all nodes have it"
                for cid in self.listed if cid not in self.controls}

    def as_data(self) -> dict[str, Any]:
        """The profile as a self-contained profile file (no `extends:`, every option): what
        `profiles show` prints, and loads back as the same profile."""
        return {"name": self.name, "description": self.description, "level": self.level,
                "conflicts": self.conflicts, "emit": self.emit,
                "nodeFeatures": sorted(self.node_features),
                "workloads": [{"kind": w.kind, **({"group": w.group} if w.group is not None else {}),
                               **({"podTemplate": w.pod_templates[0]} if len(w.pod_templates) == 1
                                  else {"podTemplates": list(w.pod_templates)})}
                              for w in self.workloads],
                "controls": self.listed}

    def for_nodes(self, features: frozenset[str]) -> "Profile":
        """This profile on nodes with `features`: a control that needs a feature the nodes
        lack is left out everywhere it would act — hardening, policy objects, audit."""
        controls = {cid: opts for cid, opts in self.listed.items()
                    if _controls.CONTROLS[cid].requires in (None, *features)}
        return self.replace(controls=controls, node_features=frozenset(features))


# --------------------------------------------------------------------------- loading
def _read(ref: str, relative_to: Path | None,
          extended_by: str | None = None) -> tuple[dict, str, Path | None]:
    """Read and validate one profile file; `extended_by` is the file whose `extends:` named
    it, blamed (with its key) when the target does not exist or cannot be read."""
    from .yamlio import load_data

    blame = {"source": extended_by, "key_path": "extends"} if extended_by else {}

    is_path = "/" in ref or ref.endswith((".yaml", ".yml")) or ref.startswith(".")
    if is_path:
        path = Path(ref)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
    else:
        path = builtin_dir() / f"{ref}.yaml"
        if not path.is_file():
            raise ProfileError(f"no built-in profile {ref!r}; built-in: {', '.join(builtin_names())} "
                               "(or give a path to a profile file)", **blame)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        if extended_by:
            raise ProfileError(f"cannot read {source}: {exc.strerror}", **blame) from None
        raise ProfileError(f"cannot read profile: {exc.strerror}", source=source) from None
    except UnicodeDecodeError:
        raise ProfileError("profile is not UTF-8 text", source=source) from None
    try:
        data = load_data(text, source)
    except HardenError as exc:
        line = getattr(exc, "line", None)
        raise ProfileError((f"line {line}: " if line else "") + str(exc).split(": ", 1)[-1],
                           source=source) from None
    if not isinstance(data, dict):
        raise ProfileError("a profile must be a YAML mapping", source=source)
    validate(data, source)
    return data, source, path.parent


def _group_of(w: dict) -> str | None:
    """A workload entry's API group: `group`, or the group of `apiVersion`; None: any."""
    if w.get("group") is not None:
        return w["group"]
    return w["apiVersion"].rpartition("/")[0] if w.get("apiVersion") else None


def _merge(base: dict, override: dict) -> dict:
    """Deep merge: maps merge, lists and scalars replace; neither input is mutated. The one
    exception is `workloads:`, which extends the base's table (an entry for the same kind
    and group replaces the base's): a profile that adds a CRD must not drop the kinds its
    base hardens."""
    import copy

    from deepmerge import Merger

    merger = Merger([(dict, ["merge"]), (list, ["override"])], ["override"], ["override"])
    merged = merger.merge(copy.deepcopy(base), copy.deepcopy(override))
    if isinstance(base.get("workloads"), list) and isinstance(override.get("workloads"), list):
        def key(w: Any) -> tuple:
            return (w.get("kind"), _group_of(w)) if isinstance(w, dict) else (w,)
        own = {key(w) for w in override["workloads"]}
        merged["workloads"] = ([copy.deepcopy(w) for w in base["workloads"] if key(w) not in own]
                               + copy.deepcopy(override["workloads"]))
    return merged


def _resolve_raw(ref: str, relative_to: Path | None, seen: tuple[str, ...]) -> tuple[dict, str]:
    data, source, folder = _read(ref, relative_to, seen[-1] if seen else None)
    if source in seen:
        raise ProfileError(f"extends cycle: {' -> '.join(seen + (source,))}", source=source,
                           key_path="extends")
    base_ref = data.get("extends")
    if base_ref:
        base, _ = _resolve_raw(base_ref, folder, seen + (source,))
        own = {k: v for k, v in data.items() if k != "extends"}
        # a profile's name and description are its own: never inherited from the base
        own.setdefault("name", Path(source).stem)
        own.setdefault("description", f"{base.get('name') or base_ref} with the changes in {Path(source).name}")
        data = _merge(base, own)
    return data, source


def load_profile(ref: str, overrides: dict | None = None, overrides_source: str = "") -> Profile:
    """Load, compose and validate a profile given by built-in name or path; `overrides`
    (inline profile data, e.g. from a Hardener config) are merged on top of it."""
    raw, source = _resolve_raw(ref, Path.cwd(), ())
    if overrides:
        validate(overrides, overrides_source or "overrides")
        raw = _merge(raw, overrides)
    raw.pop("extends", None)
    ctrl_cfg = raw.get("controls") or {}
    resolved: dict[str, dict[str, Any]] = {}
    for cid, cls in _controls.CONTROLS.items():
        if cid not in ctrl_cfg:
            continue
        opts = cls.defaults()
        opts.update(ctrl_cfg[cid] or {})
        if opts["enabled"]:
            resolved[cid] = opts
    for cid, opts in resolved.items():
        problem = _controls.CONTROLS[cid].validate(opts)
        if problem:
            raise ProfileError(problem[1], source=source, key_path=f"controls.{cid}")
    workloads = [CustomWorkload(w["kind"], _group_of(w),
                                tuple(w["podTemplates"]) if "podTemplates" in w else (w["podTemplate"],))
                 for w in raw.get("workloads") or []]
    profile = Profile(name=raw.get("name") or Path(source).stem, description=raw.get("description", ""),
                      level=raw.get("level", "restricted"), conflicts=raw.get("conflicts", "keep"),
                      controls=resolved, workloads=workloads, emit=raw.get("emit", "auto"),
                      source=source, raw=raw, listed=resolved)
    return profile.for_nodes(frozenset(raw.get("nodeFeatures", DEFAULT_NODE_FEATURES)))


# --------------------------------------------------------------------------- validation
def _err(source: str, key_path: str, msg: str) -> ProfileError:
    return ProfileError(msg, source=source, key_path=key_path)


def validate(data: dict, source: str) -> None:
    """Reject unknown keys and bad values, naming the file, the key path and what is allowed."""
    for key, value in data.items():
        if key not in TOP_KEYS:
            raise _err(source, str(key), "unknown key; allowed: " + ", ".join(TOP_KEYS))
        if key in ("name", "description", "extends"):
            if value is not None and not isinstance(value, str):
                raise _err(source, key, f"must be {TOP_KEYS[key]}, got {value!r}")
        elif key == "level" and value not in ("baseline", "restricted"):
            raise _err(source, key, f"must be baseline or restricted, got {value!r}")
        elif key == "conflicts" and value not in _controls.base.CONFLICT_RULES:
            raise _err(source, key, f"must be keep, override or fail, got {value!r}")
        elif key == "emit":
            ok = value in ("auto", "none") or (isinstance(value, list) and all(v in EMIT_KINDS for v in value))
            if not ok:
                raise _err(source, key, f"must be auto, none or a list of {', '.join(EMIT_KINDS)}; got {value!r}")
        elif key == "controls":
            _validate_controls(value, source)
        elif key == "nodeFeatures":
            if not (isinstance(value, list) and all(v in NODE_FEATURES for v in value)):
                raise _err(source, key, f"must be a list of {', '.join(NODE_FEATURES)}; got {value!r}")
        elif key == "workloads":
            _validate_workloads(value, source)


def _validate_controls(value: Any, source: str) -> None:
    if not isinstance(value, dict):
        raise _err(source, "controls", "must be a mapping of control id to options")
    for cid, opts in value.items():
        if cid not in _controls.CONTROLS:
            raise _err(source, f"controls.{cid}", "unknown control; known: " + ", ".join(_controls.CONTROLS))
        if opts is None:
            continue
        if not isinstance(opts, dict):
            raise _err(source, f"controls.{cid}", f"must be a mapping of options, got {opts!r}")
        allowed = _controls.CONTROLS[cid].all_options()
        for name, v in opts.items():
            if name not in allowed:
                raise _err(source, f"controls.{cid}.{name}", "unknown option; allowed: " + ", ".join(allowed))
            problem = allowed[name].check(v)
            if problem:
                raise _err(source, f"controls.{cid}.{name}", f"must be {problem}, got {v!r}")


def _pointer_problem(p: Any) -> str | None:
    """Why `p` is no pod-template pointer: a JSON pointer (`""`: the resource itself) whose
    tokens may be `*` (every list item or map value) and are never empty."""
    if not isinstance(p, str) or (p and not p.startswith("/")):
        return "must be a JSON pointer, e.g. /spec/template or /spec/replicaSpecs/*/template"
    if p and any(t == "" for t in p[1:].split("/")):
        return f"{p!r} has an empty step (//, or a trailing /)"
    if any("~" in t and not all(t[i + 1:i + 2] in ("0", "1") for i, ch in enumerate(t) if ch == "~")
           for t in p[1:].split("/")):
        return f"{p!r}: ~ must be escaped as ~0 (and / inside a key as ~1)"
    return None


def _validate_workloads(value: Any, source: str) -> None:
    if not isinstance(value, list):
        raise _err(source, "workloads", "must be a list of {kind, apiVersion, podTemplate or podTemplates}")
    for i, w in enumerate(value):
        path = f"workloads[{i}]"
        if not isinstance(w, dict):
            raise _err(source, path, "must be a mapping with kind and podTemplate (or podTemplates)")
        for key in w:
            if key not in ("kind", "apiVersion", "group", "podTemplate", "podTemplates"):
                raise _err(source, f"{path}.{key}", "unknown key; allowed: kind, group or apiVersion, "
                                                    "podTemplate or podTemplates")
        if not isinstance(w.get("kind"), str) or not w["kind"]:
            raise _err(source, f"{path}.kind", "must be a kind name, e.g. Rollout")
        if w.get("apiVersion") is not None and not isinstance(w["apiVersion"], str):
            raise _err(source, f"{path}.apiVersion", "must be GROUP/VERSION, e.g. argoproj.io/v1alpha1")
        if w.get("group") is not None and not isinstance(w["group"], str):
            raise _err(source, f"{path}.group", "must be an API group, e.g. argoproj.io")
        if "group" in w and "apiVersion" in w:
            raise _err(source, path, "give group or apiVersion, not both")
        if "podTemplate" in w and "podTemplates" in w:
            raise _err(source, path, "give podTemplate or podTemplates, not both")
        if "podTemplates" in w:
            pts = w["podTemplates"]
            if not isinstance(pts, list) or not pts:
                raise _err(source, f"{path}.podTemplates", "must be a non-empty list of JSON pointers, "
                                                           "e.g. [/spec/replicaSpecs/*/template]")
            for j, p in enumerate(pts):
                problem = _pointer_problem(p)
                if problem:
                    raise _err(source, f"{path}.podTemplates[{j}]", problem)
        else:
            problem = _pointer_problem(w.get("podTemplate"))
            if problem:
                raise _err(source, f"{path}.podTemplate", problem)
