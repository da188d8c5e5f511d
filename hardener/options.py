"""Everything a run needs besides its input, and the one public way to build it.

`build_options(**given)` is what the CLI, the plugins' configs, the tests and library
callers all use: a value given explicitly (a flag, its environment variable, a keyword)
wins over the Hardener config's, the config's over the profile's (`emit:`), and that over
the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .profile import Profile


@dataclass
class Options:
    """A run's settings, resolved."""

    profile: Profile
    kube: tuple[int, int]
    emit: str = "auto"  # auto | none | comma list of psp,rbac,pss-labels,vap (see policy)
    force: bool = False  # allow emitting objects the target version does not serve
    binding: str = "namespace"  # namespace (RoleBinding) | cluster (ClusterRoleBinding)
    namespace: str | None = None  # namespace for generated namespaced objects
    name_prefix: str | None = None  # stable name part of generated objects (else the release)
    assess: bool = True  # record the PSS level each resource meets before and after
    verify: bool = False  # fail when a hardened template misses the profile's PSS level


def parse_node_features(value: str | list) -> frozenset[str]:
    """`appArmor,unprivilegedPortSysctl`, `none` or a list -> the feature names (exact)."""
    from .profile import NODE_FEATURES

    items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
    if items == ["none"]:
        return frozenset()
    unknown = [v for v in items if v not in NODE_FEATURES]
    if unknown:
        raise UsageError(f"--node-features: unknown feature(s) {', '.join(map(str, unknown))}; "
                         f"known: {', '.join(NODE_FEATURES)} (or none)")
    return frozenset(items)


def _emit_text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value or "auto")


def build_options(*, profile: str | Profile | None = None, kube_version: str | None = None,
                  emit: str | None = None, config=None, force: bool = False,
                  binding: str = "namespace", namespace: str | None = None,
                  name_prefix: str | None = None, verify: bool = False,
                  assess: bool = True, node_features: str | list | None = None) -> Options:
    """Options from explicit values (None: not given) and a Hardener `config`
    (:class:`hardener.config.Config`). `node_features` (a list, or a comma list; `none`)
    replaces the profile's. Raises UsageError / ProfileError."""
    from .kube.versions import parse_kube_version
    from .profile import load_profile

    if config is not None:
        profile = profile if profile is not None else config.profile
        kube_version = kube_version if kube_version is not None else config.kube_version
        emit = emit if emit is not None else config.emit
    if not isinstance(profile, Profile):
        overrides = config.overrides if config is not None else None
        profile = load_profile(profile or "restricted", overrides,
                               config.source if config is not None else "")
    if node_features is not None:
        profile = profile.for_nodes(parse_node_features(node_features))
    try:
        kube = parse_kube_version(kube_version)
    except ValueError as exc:
        raise UsageError(f"--kube-version: {exc}") from None
    return Options(profile, kube, emit or _emit_text(profile.emit), force, binding, namespace,
                   name_prefix, assess, verify)
