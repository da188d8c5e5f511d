"""The capabilities_restricted check: upstream's policy/check_capabilities_restricted.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, as_dict, as_list, windows_exempt


def _capabilities_restricted_1_22(p: CheckedPod):
    """check_capabilities_restricted.go, capabilitiesRestrictedV1Dot22: every container's
    capabilities.drop must include "ALL", and capabilities.add may only hold
    NET_BIND_SERVICE."""
    out = []
    for c, name, path, sc in p.containers:
        caps = as_dict(sc.get("capabilities")) if sc is not None else None
        if caps is None:
            out.append((name, f"{path}/securityContext/capabilities/drop", None,
                        f'container "{name}" must set securityContext.capabilities.drop=["ALL"]',
                        'set securityContext.capabilities.drop: ["ALL"]'))
            continue
        drop = caps.get("drop")
        if "ALL" not in [d for d in as_list(drop) if isinstance(d, str)]:
            out.append((name, f"{path}/securityContext/capabilities/drop",
                        drop if isinstance(drop, (list, tuple)) else None,
                        f'container "{name}" must set securityContext.capabilities.drop=["ALL"]',
                        'add "ALL" to securityContext.capabilities.drop'))
        for j, cap in enumerate(as_list(caps.get("add"))):
            if isinstance(cap, str) and cap != "NET_BIND_SERVICE":
                out.append((name, f"{path}/securityContext/capabilities/add/{j}", cap,
                            f'container "{name}" must not include "{cap}" in securityContext.capabilities.add',
                            f"remove {cap} from securityContext.capabilities.add (only NET_BIND_SERVICE may be added)"))
    return out


CHECK = Check("capabilities_restricted", RESTRICTED, 'Capabilities (restricted)',
              'Containers must drop ALL capabilities and may add back only NET_BIND_SERVICE '
              '(policy version 1.22 and later).',
              (
                  ((1, 22), _capabilities_restricted_1_22, ("capabilities_baseline",)),
                  ((1, 25), windows_exempt(_capabilities_restricted_1_22), ("capabilities_baseline",)),
              ))
