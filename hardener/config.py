"""The `Hardener` config kind (k8s-harden.io/v1) and its ConfigMap form.

The same config feeds every integration: the legacy Kustomize exec plugin passes its
config file (`--config`), a KRM function gets it as `functionConfig` — either our own
kind or, as kpt passes it, a ConfigMap of strings. Every setting that shapes the output
can be given in either form: the table is :data:`hardener.options.SETTINGS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .errors import InputError

CONFIG_API_VERSION = "k8s-harden.io/v1"
CONFIG_KIND = "Hardener"
#: Inline profile data a Hardener may carry, merged on top of its profile.
PROFILE_FIELDS = ("controls", "conflicts")


@dataclass
class Config:
    """Settings from a Hardener config or a ConfigMap (option name -> value, only those
    given) and inline profile overrides."""

    values: dict[str, Any] = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)  # inline profile data (controls, conflicts)
    source: str = "config"

    def get(self, name: str) -> Any:
        return self.values.get(name)


def _setting_value(setting, value: Any, where: str, source: str) -> Any:
    """A config value as the option takes it: booleans from true/false (a ConfigMap holds
    strings), lists joined with commas, everything else as a string."""
    if setting.flag_only:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "false"):
            return str(value).strip().lower() == "true"
        raise InputError(f"{where}: must be true or false, got {value!r}", source=source)
    if isinstance(value, list):
        return ",".join(map(str, value))
    if value is None or isinstance(value, (dict, bool)):
        raise InputError(f"{where}: must be {setting.metavar}, got {value!r}", source=source)
    return str(value)


def parse_config(data: Any, source: str) -> Config:
    """Read a `k8s-harden.io/v1 Hardener` or a ConfigMap into a :class:`Config`."""
    from .options import SETTINGS

    if data is None:
        return Config(source=source)
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (kind Hardener or ConfigMap)", source=source)
    kind = data.get("kind")
    if kind == "ConfigMap":
        values = data.get("data") or {}
        if not isinstance(values, dict):
            raise InputError("ConfigMap data must be a mapping", source=source)
        by_key = {s.configmap_key: s for s in SETTINGS} | {s.config_field: s for s in SETTINGS}
        unknown = sorted(str(k) for k in values if k not in by_key)
        if unknown:
            raise InputError(f"unknown ConfigMap key(s) {', '.join(unknown)}; allowed: "
                             + ", ".join(s.configmap_key for s in SETTINGS), source=source)
        return Config({by_key[k].name: _setting_value(by_key[k], v, f"data.{k}", source)
                       for k, v in values.items()}, source=source)
    if kind != CONFIG_KIND:
        raise InputError(f"config kind must be {CONFIG_KIND} ({CONFIG_API_VERSION}) or ConfigMap, "
                         f"got {kind!r}", source=source)
    body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata")}
    by_field = {s.config_field: s for s in SETTINGS}
    unknown = sorted(str(k) for k in body if k not in by_field and k not in PROFILE_FIELDS)
    if unknown:
        raise InputError(f"unknown {CONFIG_KIND} field(s) {', '.join(unknown)}; allowed: "
                         + ", ".join([*by_field, *PROFILE_FIELDS]), source=source)
    values = {by_field[k].name: _setting_value(by_field[k], v, k, source)
              for k, v in body.items() if k in by_field}
    overrides = {k: body[k] for k in PROFILE_FIELDS if k in body}
    return Config(values, overrides, source)


def load_config_file(path: str) -> Config:
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        raise InputError(f"cannot read config: {exc.strerror}", source=path) from None
    return parse_config(yamlio.load_data(yamlio.decode(raw, path), path), path)
