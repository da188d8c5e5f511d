"""The procMount_restricted check: upstream's policy/check_procMount_restricted.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from .proc_mount_baseline import proc_mount_1_0


CHECK = Check("procMount_restricted", RESTRICTED, '/proc Mount Type (restricted)',
              'securityContext.procMount is unset or Default, user namespaces or not (policy '
              'version 1.35 and later).',
              (((1, 35), proc_mount_1_0, ("procMount",)),))
