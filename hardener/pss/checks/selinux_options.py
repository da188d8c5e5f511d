"""The seLinuxOptions check: upstream's policy/check_seLinuxOptions.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_dict, as_str


_SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))


_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


#: (the policy version it starts at, the types allowed) — the check's revisions
SELINUX_TYPES_BY_VERSION = (((1, 0), _SELINUX_TYPES_1_0), ((1, 31), _SELINUX_TYPES_1_31))


def _selinux(allowed):
    """check_seLinuxOptions.go: seLinuxOptions.type from the allowed set (1.0:
    container_t, container_init_t, container_kvm_t; 1.31 adds container_engine_t);
    seLinuxOptions.user and .role must be empty. Pod and every container."""

    def check(p: CheckedPod):
        out = []
        sources = []
        if p.psc is not None:
            sources.append((None, "/spec", p.psc))
        for c, name, path, sc in p.containers:
            if sc is not None:
                sources.append((name, path, sc))
        for name, path, sc in sources:
            opts = as_dict(sc.get("seLinuxOptions"))
            if opts is None:
                continue
            who = "pod" if name is None else f'container "{name}"'
            base = f"{path}/securityContext/seLinuxOptions"
            t = as_str(opts.get("type")) or ""
            if t not in allowed:
                out.append((name, f"{base}/type", opts.get("type"),
                            f"{who} must not set seLinuxOptions.type to {t!r}",
                            "remove seLinuxOptions.type or use " + ", ".join(sorted(x for x in allowed if x))))
            for field in ("user", "role"):
                v = as_str(opts.get(field))
                if v:
                    out.append((name, f"{base}/{field}", v,
                                f"{who} must not set seLinuxOptions.{field}",
                                f"remove seLinuxOptions.{field}"))
        return out

    return check


CHECK = Check("seLinuxOptions", BASELINE, 'SELinux',
              'Setting a custom SELinux user or role is forbidden and the type is limited to '
              'container_t, container_init_t, container_kvm_t (and container_engine_t from '
              '1.31).',
              tuple((since, _selinux(types), ()) for since, types in SELINUX_TYPES_BY_VERSION))
