"""The `Hardener` config kind (k8s-harden.io/v1) and its ConfigMap form.

The same config feeds every integration: the legacy Kustomize exec plugin passes its
config file (`--config`), a KRM function gets it as `functionConfig` — either our own
kind or, as kpt passes it, a ConfigMap of strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .errors import InputError

CONFIG_API_VERSION = "k8s-harden.io/v1"
CONFIG_KIND = "Hardener"

_CONFIG_FIELDS = ("profile", "kubeVersion", "emit", "controls", "conflicts")
_CONFIGMAP_KEYS = {"profile": "profile", "kube-version": "kubeVersion", "kubeVersion": "kubeVersion",
                   "emit": "emit"}


@dataclass
class Config:
    """Options from a Hardener config or a ConfigMap; None means 'not set'."""

    profile: str | None = None
    kube_version: str | None = None
    emit: str | None = None
    overrides: dict = field(default_factory=dict)  # inline profile data (controls, conflicts)
    source: str = "config"


def parse_config(data: Any, source: str) -> Config:
    """Read a `k8s-harden.io/v1 Hardener` or a ConfigMap into a :class:`Config`."""
    if data is None:
        return Config(source=source)
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (kind Hardener or ConfigMap)", source=source)
    kind = data.get("kind")
    if kind == "ConfigMap":
        values = data.get("data") or {}
        if not isinstance(values, dict):
            raise InputError("ConfigMap data must be a mapping", source=source)
        unknown = sorted(set(values) - set(_CONFIGMAP_KEYS))
        if unknown:
            raise InputError(f"unknown ConfigMap key(s) {', '.join(unknown)}; allowed: "
                             "profile, kube-version, emit", source=source)
        cfg = {_CONFIGMAP_KEYS[k]: str(v) for k, v in values.items()}
        return Config(cfg.get("profile"), cfg.get("kubeVersion"), cfg.get("emit"), source=source)
    if kind != CONFIG_KIND:
        raise InputError(f"config kind must be {CONFIG_KIND} ({CONFIG_API_VERSION}) or ConfigMap, "
                         f"got {kind!r}", source=source)
    body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata")}
    unknown = sorted(set(body) - set(_CONFIG_FIELDS))
    if unknown:
        raise InputError(f"unknown {CONFIG_KIND} field(s) {', '.join(unknown)}; allowed: "
                         + ", ".join(_CONFIG_FIELDS), source=source)
    emit = body.get("emit")
    if isinstance(emit, list):
        emit = ",".join(map(str, emit))
    overrides = {k: body[k] for k in ("controls", "conflicts") if k in body}
    kube = body.get("kubeVersion")
    return Config(body.get("profile"), None if kube is None else str(kube),
                  None if emit is None else str(emit), overrides, source)


def load_config_file(path: str) -> Config:
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        raise InputError(f"cannot read config: {exc.strerror}", source=path) from None
    return parse_config(yamlio.load_data(yamlio.decode(raw, path), path), path)
