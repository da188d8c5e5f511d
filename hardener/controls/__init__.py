"""The registry of hardening controls, in the order they are planned.

Order matters where one control reads what another decided: `privileged` and
`capabilities` come before `allowPrivilegeEscalation` (which the API forbids next to
privileged or SYS_ADMIN), identity before `unprivilegedPortStart`.
"""

from __future__ import annotations

from types import MappingProxyType

from .base import Control
from .capabilities import Capabilities, UnprivilegedPortStart
from .filesystem import ReadOnlyRootFilesystem
from .host_access import HostAccess
from .identity import FsGroup, RunAsGroup, RunAsNonRoot, RunAsUser, SupplementalGroups
from .kernel import AppArmor, ProcMount, SeccompProfile, SELinux, Sysctls
from .privilege import AllowPrivilegeEscalation, Privileged

CONTROLS: MappingProxyType[str, type[Control]] = MappingProxyType({c.id: c for c in (
    HostAccess,
    Privileged,
    Capabilities,
    AllowPrivilegeEscalation,
    RunAsNonRoot,
    RunAsUser,
    RunAsGroup,
    FsGroup,
    SupplementalGroups,
    SeccompProfile,
    AppArmor,
    SELinux,
    ProcMount,
    Sysctls,
    ReadOnlyRootFilesystem,
    UnprivilegedPortStart,
)})


def get(control_id: str) -> type[Control]:
    """The control class for an id; an unknown id is an exact error."""
    try:
        return CONTROLS[control_id]
    except KeyError:
        raise KeyError(f"unknown control {control_id!r}; known: {', '.join(CONTROLS)}") from None


__all__ = ["CONTROLS", "Control", "get"]
