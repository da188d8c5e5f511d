"""The pod template as the checks read it, and the wrappers of upstream's helpers.go.

Upstream works on typed Go structs: a field of the wrong JSON type reads as absent and a
list element that is not an object is skipped; nothing here raises on pod data."""

from __future__ import annotations

from ..kube import nodes
from ..kube import podspec


# Typed-struct reading of untyped YAML: a value of the wrong type is "absent".


def as_dict(x) -> dict | None:
    return x if isinstance(x, dict) else None


def as_list(x) -> list | tuple:
    return x if isinstance(x, (list, tuple)) else ()


def as_str(x) -> str | None:
    return x if isinstance(x, str) else None


def as_int(x) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


class CheckedPod:
    """The pod template as the checks see it (visitor.go order for containers)."""

    __slots__ = ("annotations", "spec", "psc", "containers", "windows", "userns")

    def __init__(self, metadata, spec):
        meta = as_dict(metadata) or {}
        self.annotations = as_dict(meta.get("annotations")) or {}
        self.spec = spec = as_dict(spec) or {}
        self.psc = as_dict(spec.get("securityContext"))
        # visitor.go visitContainers: initContainers, containers, ephemeralContainers.
        self.containers = [(c, as_str(c.get("name")) or "", f"/spec/{field}/{i}", as_dict(c.get("securityContext")))
                           for field, i, c in podspec.containers(spec)]
        # spec.os.name == "windows" (checks with a 1.25 revision exempt such pods).
        self.windows = nodes.psa_windows(spec)
        # helpers.go relaxPolicyForUserNamespacePod: HostUsers != nil && !*HostUsers.
        self.userns = spec.get("hostUsers") is False


def profile_type_violations(p: CheckedPod, field: str, allowed, what: str, fix: str) -> list:
    """A set `<field>.type` (pod or container) outside `allowed`: the shared core of the
    seccomp (baseline, 1.19+) and AppArmor field checks; an unset field passes."""
    out = []
    if p.psc is not None:
        prof = as_dict(p.psc.get(field))
        if prof is not None:
            t = as_str(prof.get("type")) or ""
            if t not in allowed:
                out.append((None, f"/spec/securityContext/{field}/type", prof.get("type"),
                            f"pod must not set {what} to {t!r}", fix))
    for c, name, path, sc in p.containers:
        prof = as_dict(sc.get(field)) if sc is not None else None
        if prof is not None:
            t = as_str(prof.get("type")) or ""
            if t not in allowed:
                out.append((name, f"{path}/securityContext/{field}/type", prof.get("type"),
                            f'container "{name}" must not set {what} to {t!r}', fix))
    return out


def windows_exempt(fn):
    """The V1Dot25 revisions of allowPrivilegeEscalation, seccompProfile_restricted and
    capabilities_restricted: pods with spec.os.name == "windows" are admitted unchecked."""

    def check(p: CheckedPod):
        return [] if p.windows else fn(p)

    check.__doc__ = fn.__doc__
    return check


def userns_relaxed(fn):
    """The 1.35 revisions of runAsNonRoot and runAsUser (runAsNonRoot1_35, runAsUser1_35):
    skipped entirely for pods with hostUsers: false (KEP-127). Before 1.35 this relaxation
    existed only behind the alpha UserNamespacesPodSecurityStandards gate (off by
    default), and 1.35 removed it from the older revisions."""

    def check(p: CheckedPod):
        return [] if p.userns else fn(p)

    check.__doc__ = fn.__doc__
    return check
