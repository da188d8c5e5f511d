"""The hostPathVolumes check: upstream's policy/check_hostPathVolumes.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_dict, as_list, as_str


def _host_path_volumes(p: CheckedPod):
    """check_hostPathVolumes.go, hostPathVolumes_1_0: no volumes[*].hostPath."""
    out = []
    for i, vol in enumerate(as_list(p.spec.get("volumes"))):
        if isinstance(vol, dict) and as_dict(vol.get("hostPath")) is not None:
            vname = as_str(vol.get("name")) or ""
            out.append((None, f"/spec/volumes/{i}/hostPath", vol.get("hostPath"),
                        f'volume "{vname}" must not use hostPath',
                        "replace the hostPath volume with emptyDir, configMap, secret or a persistentVolumeClaim"))
    return out


CHECK = Check("hostPathVolumes", BASELINE, 'HostPath Volumes',
              'HostPath volumes must be forbidden.',
              (((1, 0), _host_path_volumes, ()),))
