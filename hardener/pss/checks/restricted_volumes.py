"""The restrictedVolumes check: upstream's policy/check_restrictedVolumes.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, as_dict, as_list, as_str


RESTRICTED_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                              "persistentVolumeClaim", "projected", "secret")


RESTRICTED_FORBIDDEN_VOLUMES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos",
)


def _restricted_volumes(p: CheckedPod):
    """check_restrictedVolumes.go, restrictedVolumesV1Dot0 (single version at 1.0; the
    ``image`` source was added to that function in Kubernetes 1.33, so it is allowed at
    every policy version): only configMap, csi, downwardAPI, emptyDir, ephemeral, image,
    persistentVolumeClaim, projected and secret volumes. A volume with no known source is
    what the API server defaults to emptyDir (SetDefaults_Volume) before admission, so it
    is allowed."""
    out = []
    for i, vol in enumerate(as_list(p.spec.get("volumes"))):
        if not isinstance(vol, dict):
            continue
        if any(as_dict(vol.get(k)) is not None for k in RESTRICTED_ALLOWED_VOLUMES):
            continue
        for k in RESTRICTED_FORBIDDEN_VOLUMES:
            if as_dict(vol.get(k)) is not None:
                vname = as_str(vol.get("name")) or ""
                out.append((None, f"/spec/volumes/{i}/{k}", vol.get(k),
                            f'volume "{vname}" uses restricted volume type "{k}"',
                            "use configMap, secret, downwardAPI, emptyDir, projected, csi, ephemeral, "
                            "image or a persistentVolumeClaim instead"))
                break
    return out


CHECK = Check("restrictedVolumes", RESTRICTED, 'Volume Types',
              'Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, '
              'persistentVolumeClaim, projected and secret volumes are allowed.',
              (((1, 0), _restricted_volumes, ("hostPathVolumes",)),))
