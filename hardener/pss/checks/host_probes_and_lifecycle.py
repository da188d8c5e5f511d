"""The hostProbesAndHostLifecycle check: upstream's policy/check_hostProbesAndHostLifecycle.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_dict, as_str


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


_LIFECYCLE_HANDLERS = ("postStart", "preStop")


def _host_probes_and_lifecycle(p: CheckedPod):
    """check_hostProbesAndhostLifecycle.go, hostProbesAndHostLifecycleV1Dot34: the
    ``host`` of httpGet/tcpSocket in liveness/readiness/startup probes and in
    lifecycle.postStart/preStop must be empty."""
    out = []
    for c, name, path, sc in p.containers:
        handlers = [(f"{path}/{probe}", as_dict(c.get(probe))) for probe in _PROBES]
        lifecycle = as_dict(c.get("lifecycle"))
        if lifecycle is not None:
            handlers += [(f"{path}/lifecycle/{h}", as_dict(lifecycle.get(h))) for h in _LIFECYCLE_HANDLERS]
        for hpath, handler in handlers:
            if handler is None:
                continue
            for kind in ("httpGet", "tcpSocket"):
                host = as_str((as_dict(handler.get(kind)) or {}).get("host"))
                if host:
                    out.append((name, f"{hpath}/{kind}/host", host,
                                f'container "{name}" must not set a probe or lifecycle host ({host!r})',
                                f"remove {kind}.host (the probe then targets the pod IP)"))
    return out


CHECK = Check("hostProbesAndHostLifecycle", BASELINE, 'Host Probes / Lifecycle Hooks',
              'The host field of probes and lifecycle handlers must not be set (policy version '
              '1.34 and later).',
              (((1, 34), _host_probes_and_lifecycle, ()),))
