"""Everything a run needs besides its input, and the one public way to build it.

:data:`SETTINGS` is the one table of what shapes the output: each setting's command-line
flag, its environment variable, its field in a `Hardener` config and its key in a
ConfigMap — every integration can set every one. `build_options(**given)` is what the
CLI, the plugins' configs, the tests and library callers all use: a value given explicitly
(a flag, its environment variable, a keyword) wins over the Hardener config's, the config's
over the profile's (`emit:`, `nodeFeatures:`), and that over the default.
"""

from __future__ import annotations

from typing import Any

from .errors import UsageError
from .profile import Profile
from .record import FrozenRecord, Record

ENV_PREFIX = "K8S_HARDEN"


class Setting(FrozenRecord):
    """One setting of a run, spelled for each place it can be given: `name` (the keyword of
    build_options and the attribute of Options), `flag` (the command-line option),
    `config_field` (the field of a Hardener config), `configmap_key` (the key of a
    ConfigMap functionConfig), `metavar`, `flag_only` (a boolean flag: true/false in a
    config)."""

    __slots__ = _fields = ("name", "flag", "config_field", "configmap_key", "metavar", "flag_only")

    def __init__(self, name: str, flag: str, config_field: str, configmap_key: str, metavar: str,
                 flag_only: bool = False) -> None:
        self._init(name, flag, config_field, configmap_key, metavar, flag_only)

    @property
    def envvar(self) -> str:
        """The environment variable of the flag (click's auto_envvar_prefix spelling)."""
        return f"{ENV_PREFIX}_{self.flag.lstrip('-').replace('-', '_').upper()}"


SETTINGS = (
    Setting("profile", "--profile", "profile", "profile", "a profile name or path"),
    Setting("kube_version", "--kube-version", "kubeVersion", "kube-version", "X.Y"),
    Setting("emit", "--emit", "emit", "emit", "auto, none or a list"),
    Setting("force", "--force", "force", "force", "true or false", flag_only=True),
    Setting("binding", "--binding", "binding", "binding", "namespace or cluster"),
    Setting("namespace", "--namespace", "namespace", "namespace", "a namespace"),
    Setting("name_prefix", "--name-prefix", "namePrefix", "name-prefix", "a name part"),
    Setting("node_features", "--node-features", "nodeFeatures", "node-features", "a feature list"),
    Setting("verify", "--verify", "verify", "verify", "true or false", flag_only=True),
    Setting("images", "--images", "images", "images", "off, registry or a folder"),
    Setting("images_required", "--images-required", "imagesRequired", "images-required", "true or false",
            flag_only=True),
    Setting("images_cache", "--images-cache", "imagesCache", "images-cache", "a folder"),
    Setting("images_ttl", "--images-ttl", "imagesTtl", "images-ttl", "a number of seconds"),
    Setting("insecure_registry", "--insecure-registry", "insecureRegistry", "insecure-registry",
            "a list of HOST[:PORT]"),
    Setting("platform", "--platform", "platform", "platform", "OS/ARCH[/VARIANT]"),
    Setting("mesh_cni", "--mesh-cni", "meshCni", "mesh-cni", "true or false", flag_only=True),
)
BINDINGS = ("namespace", "cluster")


class Options(Record):
    """A run's settings, resolved: `emit` auto | none | comma list of psp,rbac,pss-labels,vap,map
    (see policy); `force` allows objects the target version does not serve; `binding`
    namespace (RoleBinding) | cluster (ClusterRoleBinding); `namespace` for generated
    namespaced objects; `name_prefix`, the stable name part of generated objects (else the
    release); `assess` records the PSS level each resource meets before and after; `verify`
    fails when a hardened template misses the profile's PSS level; `notes`, what the user
    should know about the settings (stderr)."""

    _fields = ("profile", "kube", "emit", "force", "binding", "namespace", "name_prefix", "assess",
               "verify", "notes", "images", "mesh_cni")

    def __init__(self, profile: Profile, kube: tuple[int, int], emit: str = "auto", force: bool = False,
                 binding: str = "namespace", namespace: str | None = None, name_prefix: str | None = None,
                 assess: bool = True, verify: bool = False, notes: tuple[str, ...] = (),
                 images: "ImageSettings | None" = None, mesh_cni: bool = False) -> None:
        self.profile, self.kube, self.emit, self.force, self.binding = profile, kube, emit, force, binding
        self.namespace, self.name_prefix, self.assess, self.verify, self.notes = (
            namespace, name_prefix, assess, verify, notes)
        self.images = images  # None: --images off
        self.mesh_cni = mesh_cni  # the service mesh's CNI plugin redirects traffic (kube.mesh)


class ImageSettings(Record):
    """How to find image configs (hardener.images): `mode` registry or a folder's path;
    `required` turns a config that cannot be had into an error; `cache` the cache folder
    (None: the default); `insecure` the registries spoken to over plain HTTP; `platform`
    (os, arch, variant) picked from a multi-arch index; `ttl`, how long the cache trusts what
    a tag resolved to, in seconds (a failed lookup: :func:`failure_ttl` of it)."""

    _fields = ("mode", "required", "cache", "insecure", "platform", "ttl")

    def __init__(self, mode: str, required: bool = False, cache: str | None = None,
                 insecure: frozenset[str] = frozenset(),
                 platform: tuple[str, str, str | None] = ("linux", "amd64", None),
                 ttl: float = 3600.0) -> None:
        self.mode, self.required, self.cache, self.insecure, self.platform, self.ttl = (
            mode, required, cache, insecure, platform, ttl)


#: Settings that only mean something with --images registry or a folder.
_IMAGE_ONLY = ("images_required", "images_cache", "images_ttl", "insecure_registry", "platform")


def image_settings(images: str | None, required: bool = False, cache: str | None = None,
                   insecure: str | None = None, platform: str | None = None,
                   ttl: str | int | float | None = None) -> ImageSettings | None:
    """The --images options checked (None: off). Raises UsageError."""
    import os
    import re

    mode = (images or "off").strip()
    if mode == "off":
        return None
    if mode != "registry":
        if not os.path.isdir(mode):
            raise UsageError(f"--images: must be off, registry or a folder of image configs; {mode!r} "
                             "is no folder")
        if not os.path.isfile(os.path.join(mode, "index.json")):
            raise UsageError(f"--images {mode}: the folder has no index.json (a JSON object mapping "
                             "each image reference to a config file in the folder)")
    hosts = frozenset(h.strip() for h in (insecure or "").split(",") if h.strip())
    bad = sorted(h for h in hosts if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", h))
    if bad:
        raise UsageError(f"--insecure-registry: {', '.join(bad)}: must be HOST or HOST:PORT (comma list)")
    parts = (platform or "linux/amd64").strip().split("/")
    if not (2 <= len(parts) <= 3 and all(re.fullmatch(r"[a-z0-9_]+", p) for p in parts)):
        raise UsageError(f"--platform: {platform!r}: must be OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64")
    return ImageSettings(mode, bool(required), cache or None, hosts,
                         (parts[0], parts[1], parts[2] if len(parts) == 3 else None), _seconds(ttl))


def _seconds(ttl: str | int | float | None) -> float:
    """--images-ttl: a whole number of seconds, 0 or more (default 3600)."""
    if ttl is None or ttl == "":
        return 3600.0
    text = str(ttl).strip()
    if isinstance(ttl, bool) or not (text.isascii() and text.isdigit()):
        raise UsageError(f"--images-ttl: {ttl!r}: must be a whole number of seconds (0: ask the registry "
                         "every run)")
    return float(int(text))


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


def kube_version(value: str | None, oldest: tuple[int, int] | None = None) -> tuple[tuple[int, int], tuple[str, ...]]:
    """`--kube-version` -> (version, notes): a Kubernetes 1.x version, not older than
    `oldest` (a typo such as 1.2 for 1.32 is refused, not obeyed); a minor newer than the
    newest this tool knows is treated as that one, with a note (Pod Security Admission
    does the same with policy versions). Raises UsageError."""
    from .kube.versions import LATEST, fmt, parse_kube_version

    try:
        kube = parse_kube_version(value)
    except ValueError as exc:
        raise UsageError(f"--kube-version: {exc}") from None
    if kube[0] != 1:
        raise UsageError(f"--kube-version: {value!r}: Kubernetes versions are 1.x; this tool knows "
                         f"1.0 to {fmt(LATEST)} (newer 1.x minors are treated as {fmt(LATEST)})")
    if oldest is not None and kube < oldest:
        raise UsageError(f"--kube-version: {value!r} is Kubernetes {fmt(kube)}, older than the oldest target "
                         f"this tool hardens for ({fmt(oldest)}); a typo for 1.{kube[1]}X?")
    if kube > LATEST:
        return LATEST, (f"--kube-version {fmt(kube)} is newer than the newest version this tool knows: "
                        f"treated as {fmt(LATEST)}",)
    return kube, ()


def build_options(*, config=None, assess: bool = True, **given: Any) -> Options:
    """Options from explicit values (keywords named after :data:`SETTINGS`; None: not given)
    and a Hardener `config` (:class:`hardener.config.Config`). Raises UsageError /
    ProfileError."""
    from .profile import load_profile

    unknown = set(given) - {s.name for s in SETTINGS}
    if unknown:
        raise TypeError(f"build_options: unknown setting(s) {', '.join(sorted(unknown))}")
    values = {s.name: given.get(s.name) if given.get(s.name) is not None
              else (config.get(s.name) if config is not None else None) for s in SETTINGS}
    profile = values["profile"]
    if not isinstance(profile, Profile):
        overrides = config.overrides if config is not None else None
        profile = load_profile(profile or "restricted", overrides,
                               config.source if config is not None else "")
    if values["node_features"] is not None:
        profile = profile.for_nodes(parse_node_features(values["node_features"]))
    from .kube.versions import OLDEST_TARGET

    kube, notes = kube_version(values["kube_version"], OLDEST_TARGET)
    binding = values["binding"] or "namespace"
    if binding not in BINDINGS:
        raise UsageError(f"--binding: must be namespace or cluster, got {binding!r}")
    images = image_settings(values["images"], bool(values["images_required"]), values["images_cache"],
                            values["insecure_registry"], values["platform"], values["images_ttl"])
    if images is None:
        unused = [s.flag for s in SETTINGS if s.name in _IMAGE_ONLY and values[s.name]]
        if unused:  # said, not silently ignored
            notes += (f"{', '.join(unused)} without --images: no image is read (--images is off)",)
    return Options(profile, kube, values["emit"] or _emit_text(profile.emit), bool(values["force"]),
                   binding, values["namespace"], values["name_prefix"], assess, bool(values["verify"]),
                   notes, images, bool(values["mesh_cni"]))
