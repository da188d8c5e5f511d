"""The check registry: upstream's policy/registry.go. Each module of checks/ is one
check_<id>.go; `plan` is registry.go populate(): for a level and version, the newest
implementation of every check with MinimumVersion <= version, the baseline checks an active
restricted check overrides left out, ordered baseline ids sorted then restricted ids sorted."""

from __future__ import annotations

from ..kube.versions import LATEST
from .check import BASELINE, RESTRICTED, Check
from .checks import allow_privilege_escalation
from .checks import apparmor_profile
from .checks import capabilities_baseline
from .checks import capabilities_restricted
from .checks import host_namespaces
from .checks import host_path_volumes
from .checks import host_ports
from .checks import host_probes_and_lifecycle
from .checks import privileged
from .checks import proc_mount_baseline
from .checks import proc_mount_restricted
from .checks import restricted_volumes
from .checks import run_as_non_root
from .checks import run_as_user
from .checks import seccomp_baseline
from .checks import seccomp_restricted
from .checks import selinux_options
from .checks import sysctls
from .checks import windows_host_process

#: in registry order (baseline ids sorted, then restricted ids)
REGISTRY = (
    apparmor_profile.CHECK,
    capabilities_baseline.CHECK,
    host_namespaces.CHECK,
    host_path_volumes.CHECK,
    host_ports.CHECK,
    host_probes_and_lifecycle.CHECK,
    privileged.CHECK,
    proc_mount_baseline.CHECK,
    selinux_options.CHECK,
    seccomp_baseline.CHECK,
    sysctls.CHECK,
    windows_host_process.CHECK,
    allow_privilege_escalation.CHECK,
    capabilities_restricted.CHECK,
    proc_mount_restricted.CHECK,
    restricted_volumes.CHECK,
    run_as_non_root.CHECK,
    run_as_user.CHECK,
    seccomp_restricted.CHECK,
)

_MAX_VERSION = max(c.versions[-1][0] for c in REGISTRY)
assert _MAX_VERSION == LATEST

#: Every check by id, in registry order (baseline ids sorted, then restricted ids).
CHECKS: dict[str, Check] = {c.id: c for c in REGISTRY}

_PLAN_CACHE: dict = {}


def plan(level: str, version: tuple[int, int]):
    """The (id, level, function) list to run, ordered like registry.go populate():
    sorted baseline ids, then sorted restricted ids; overridden baseline checks removed."""
    key = (level, version)
    plan = _PLAN_CACHE.get(key)
    if plan is not None:
        return plan
    active = []
    for cid, clevel, _, _, versions in REGISTRY:
        if clevel == RESTRICTED and level != RESTRICTED:
            continue
        chosen = None
        for minimum, fn, overrides in versions:
            if minimum <= version:
                chosen = (fn, overrides)
        if chosen is not None:
            active.append((cid, clevel, chosen[0], chosen[1]))
    overridden = {o for _, clevel, _, ovs in active if clevel == RESTRICTED for o in ovs}
    plan = [(cid, clevel, fn) for cid, clevel, fn, _ in active if cid not in overridden]
    plan.sort(key=lambda t: (t[1] != BASELINE, t[0]))
    _PLAN_CACHE[key] = plan
    return plan
