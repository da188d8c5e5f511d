"""Offline evaluator of the Kubernetes Pod Security Standards, version by version.

This mirrors upstream Pod Security Admission (PSA): the check registry in
``kubernetes/staging/src/k8s.io/pod-security-admission/policy`` (``registry.go`` plus one
``check_<id>.go`` per check). Every check has a stable id, a level (baseline or
restricted) and one or more *versioned* implementations, each with a ``MinimumVersion``.
Evaluating a pod at policy version ``v`` runs, for every check, the newest implementation
whose ``MinimumVersion <= v``; a check whose first ``MinimumVersion`` is newer than ``v``
does not run at all. Versions newer than the newest registered ``MinimumVersion`` are
clamped to it (``registry.go`` ``EvaluatePod``), and ``latest`` is that same version.

Restricted runs every baseline check plus the restricted ones, except the baseline checks
named in an active restricted check's ``OverrideCheckIDs`` (``registry.go`` ``populate``):
``restrictedVolumes`` replaces ``hostPathVolumes`` (1.0+), ``seccompProfile_restricted``
replaces ``seccompProfile_baseline`` (1.19+), ``capabilities_restricted`` replaces
``capabilities_baseline`` (1.22+) and ``procMount_restricted`` replaces ``procMount``
(1.35+). Results are ordered like upstream: baseline check ids sorted, then restricted ids.

Upstream works on typed Go structs, so the input here is read the same way: a field of the
wrong JSON type is treated as absent, a list element that is not an object is skipped, and
nothing here ever raises on pod data. Where upstream patched behaviour into an existing
``1.0`` function instead of adding a new version (``image`` volumes in ``restrictedVolumes``,
the ``appArmorProfile`` field in ``appArmorProfile``), that behaviour applies at every
version, exactly as it does on a current API server pinned to an old policy version.
"""

from __future__ import annotations

from ..kube.versions import LATEST, parse_policy_version
from .checks.capabilities_baseline import BASELINE_CAPABILITIES
from .checks.restricted_volumes import RESTRICTED_ALLOWED_VOLUMES, RESTRICTED_FORBIDDEN_VOLUMES
from .checks.selinux_options import SELINUX_TYPES_BY_VERSION
from .checks.sysctls import SAFE_SYSCTLS_BY_VERSION
from .check import BASELINE, RESTRICTED, Check, Violation
from .pod import CheckedPod
from .registry import CHECKS, plan

__all__ = ["BASELINE_CAPABILITIES", "CHECKS", "LATEST", "LEVELS", "LEVEL_RANK", "RESTRICTED_ALLOWED_VOLUMES",
           "RESTRICTED_FORBIDDEN_VOLUMES", "Check", "Violation", "active_checks", "assess", "evaluate",
           "evaluate_check", "meets", "safe_sysctls", "selinux_types", "strictest", "weakest"]

#: The Pod Security Standards levels, least strict first.
LEVELS = ("privileged", "baseline", "restricted")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}


def weakest(levels) -> str:
    """The least strict of `levels` ("restricted" for none): what a group of templates meets."""
    return min(levels, key=LEVEL_RANK.__getitem__, default="restricted")


def strictest(levels) -> str:
    return max(levels, key=LEVEL_RANK.__getitem__, default="privileged")


def _at(version, table):
    """The value of a (minimum version, value) table at `version`."""
    v = parse_policy_version(version)
    chosen = table[0][1]
    for minimum, value in table:
        if minimum <= v:
            chosen = value
    return chosen


def active_checks(level: str, version: tuple[int, int] | str = LATEST) -> list[str]:
    """The ids of the checks PSS runs at `level` and `version` (overridden ones left out),
    in evaluation order."""
    v = min(parse_policy_version(version), LATEST)
    return [cid for cid, _, _ in plan(level, v)] if level != "privileged" else []


def safe_sysctls(version: tuple[int, int] | str = LATEST) -> frozenset[str]:
    """The sysctls the `sysctls` check allows at a policy version (check_sysctls.go)."""
    return _at(version, SAFE_SYSCTLS_BY_VERSION)


def selinux_types(version: tuple[int, int] | str = LATEST) -> frozenset[str]:
    """The seLinuxOptions.type values the `seLinuxOptions` check allows ("" = unset)
    at a policy version (check_seLinuxOptions.go)."""
    return _at(version, SELINUX_TYPES_BY_VERSION)


def evaluate(pod_metadata: dict | None, pod_spec: dict | None, level: str = "restricted",
             version: tuple[int, int] | str = LATEST) -> list[Violation]:
    """Evaluate one pod template (metadata + spec) against PSS ``level`` at ``version``
    (``"latest"``, ``"1.25"``, ``"v1.25"`` or ``(1, 25)``). Returns the violations, empty
    when the template passes. Never raises on malformed pod data; raises ValueError for
    an unknown level or an unparsable version."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security Standards level {level!r}: expected one of {', '.join(LEVELS)}")
    v = parse_policy_version(version)
    if v > LATEST:
        v = LATEST  # registry.go EvaluatePod: newer versions evaluate as maxVersion
    if level == "privileged":
        return []
    pod = CheckedPod(pod_metadata, pod_spec)
    out: list[Violation] = []
    for cid, clevel, fn in plan(level, v):
        for container, path, value, message, fix in fn(pod):
            out.append(Violation(cid, clevel, container, path, value, message, fix))
    return out


def evaluate_check(cid: str, pod_metadata: dict | None, pod_spec: dict | None,
                   version: tuple[int, int] | str = LATEST) -> list[Violation]:
    """One check, as registered at `version`, whatever the level: the policy's controls
    that reuse a check's CEL (seLinux types, procMount, sysctls) are judged by it."""
    v = min(parse_policy_version(version), LATEST)
    check = CHECKS[cid]
    fn = None
    for minimum, f, _ in check.versions:
        if minimum <= v:
            fn = f
    if fn is None:
        return []
    return [Violation(cid, check.level, *found) for found in fn(CheckedPod(pod_metadata, pod_spec))]


def meets(pod_metadata, pod_spec, version=LATEST) -> str:
    """The strictest level ("restricted", "baseline" or "privileged") the template passes."""
    return assess(pod_metadata, pod_spec, None, version)[0]


def assess(pod_metadata, pod_spec, level: str | None = "restricted",
           version: tuple[int, int] | str = LATEST) -> tuple[str, list[Violation]]:
    """``(meets(...), evaluate(..., level, ...))`` in one pass: every check runs at most once
    (the baseline checks a restricted check does not override are shared by both levels).
    With `level` None, only the level met (the restricted checks are skipped when the
    baseline already fails)."""
    if level is not None and level not in LEVELS:
        raise ValueError(f"unknown Pod Security Standards level {level!r}: expected one of {', '.join(LEVELS)}")
    v = parse_policy_version(version)
    if v > LATEST:
        v = LATEST  # registry.go EvaluatePod: newer versions evaluate as maxVersion
    pod = CheckedPod(pod_metadata, pod_spec)
    found: dict[str, list[Violation]] = {}

    def run(plan) -> bool:
        failed = False
        for cid, clevel, fn in plan:
            got = found.get(cid)
            if got is None:
                got = found[cid] = [Violation(cid, clevel, container, path, value, message, fix)
                                    for container, path, value, message, fix in fn(pod)]
            failed = failed or bool(got)
        return failed

    baseline, restricted = plan(BASELINE, v), plan(RESTRICTED, v)
    if run(baseline):
        met = "privileged"
        if level == RESTRICTED:
            run(restricted)
    else:
        met = "baseline" if run(restricted) else "restricted"
    if level is None or level == "privileged":
        return met, []
    return met, [x for cid, _, _ in (restricted if level == RESTRICTED else baseline) for x in found[cid]]
