"""The capabilities_baseline check: upstream's policy/check_capabilities_baseline.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_dict, as_list


BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
))


def _capabilities_baseline(p: CheckedPod):
    """check_capabilities_baseline.go, capabilitiesBaseline_1_0: capabilities.add only from
    the default set ``capabilities_allowed_1_0`` (exact, case-sensitive names)."""
    out = []
    for c, name, path, sc in p.containers:
        caps = as_dict(sc.get("capabilities")) if sc is not None else None
        if caps is None:
            continue
        for j, cap in enumerate(as_list(caps.get("add"))):
            if isinstance(cap, str) and cap not in BASELINE_CAPABILITIES:
                out.append((name, f"{path}/securityContext/capabilities/add/{j}", cap,
                            f'container "{name}" must not include "{cap}" in securityContext.capabilities.add',
                            f"remove {cap} from securityContext.capabilities.add"))
    return out


CHECK = Check("capabilities_baseline", BASELINE, 'Capabilities',
              'Adding capabilities beyond the default set must be disallowed: capabilities.add '
              'may hold only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, '
              'NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.',
              (((1, 0), _capabilities_baseline, ()),))
