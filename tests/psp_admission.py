"""A PodSecurityPolicy admission simulator for Kubernetes <= 1.24, for the tests.

Mirrors pkg/security/podsecuritypolicy for one policy and a Pod created from a template:
the API server's defaulting that matters here (SetDefaults_Pod: a hostNetwork pod's
containerPorts become host ports; SetDefaults_Volume: a volume without a source is an
emptyDir), then provider.go MutatePod/mutateContainer (:func:`mutate`, as on create), then
ValidatePod/validateContainer with the strategies under user/, group/, capabilities/,
seccomp/, apparmor/, sysctl/ and util/util.go. :func:`admit` returns every reason the policy
refuses the pod, as `field.path: message`; empty when it admits it.

Mutation always sets the required drops, readOnlyRootFilesystem and (MustRunAsNonRoot)
runAsNonRoot when they are missing, so upstream's messages for them being missing cannot
occur on create and are not mirrored.

Not simulated: SELinux and runtimeClass strategies, several policies (admission.go picks
the first non-mutating one by name), updates (no mutation allowed). Ephemeral containers
cannot be set on create, so only initContainers and containers are visited.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Iterator

from hardener.kube import names
from hardener.kube.kubelet import safe_sysctls
from hardener.kube.podspec import containers, integer, mapping, sequence
from hardener.kube.pointer import field_path
from hardener.kube.versions import SECCOMP_FIELD, TOKEN_PROJECTED

#: seccomp/strategy.go AllowedProfilesAnnotationKey, DefaultProfileAnnotationKey, AllowAny.
SECCOMP_ALLOWED = names.PSP_SECCOMP_PREFIX + "allowedProfileNames"
SECCOMP_DEFAULT = names.PSP_SECCOMP_PREFIX + "defaultProfileName"
#: apparmor/strategy.go (pkg/security/apparmor AllowedProfilesAnnotationKey, DefaultProfileAnnotationKey).
APPARMOR_ALLOWED = names.PSP_APPARMOR_PREFIX + "allowedProfileNames"
APPARMOR_DEFAULT = names.PSP_APPARMOR_PREFIX + "defaultProfileName"
#: runtime/default and docker/default allow each other from 1.19.4 / 1.20 (kubernetes#95985).
SECCOMP_EQUIVALENT_SINCE = (1, 19, 4)

#: util.go GetVolumeFSType: the pod's volume source -> the PSP FSType (types.go constants);
#: only `cephfs` is spelled differently.
VOLUME_FSTYPES = {
    "hostPath": "hostPath", "emptyDir": "emptyDir", "gcePersistentDisk": "gcePersistentDisk",
    "awsElasticBlockStore": "awsElasticBlockStore", "gitRepo": "gitRepo", "secret": "secret", "nfs": "nfs",
    "iscsi": "iscsi", "glusterfs": "glusterfs", "persistentVolumeClaim": "persistentVolumeClaim", "rbd": "rbd",
    "flexVolume": "flexVolume", "cinder": "cinder", "cephfs": "cephFS", "flocker": "flocker",
    "downwardAPI": "downwardAPI", "fc": "fc", "azureFile": "azureFile", "configMap": "configMap",
    "vsphereVolume": "vsphereVolume", "quobyte": "quobyte", "azureDisk": "azureDisk",
    "photonPersistentDisk": "photonPersistentDisk", "projected": "projected", "portworxVolume": "portworxVolume",
    "scaleIO": "scaleIO", "storageos": "storageos", "csi": "csi", "ephemeral": "ephemeral",
}


class _Policy:
    """The policy's spec and annotations, with the API defaults (allowPrivilegeEscalation: true)."""

    def __init__(self, psp: Any, kube: tuple):
        psp = mapping(psp)
        self.spec = mapping(psp.get("spec"))
        self.annotations = mapping(mapping(psp.get("metadata")).get("annotations"))
        self.kube = kube

    def rule(self, key: str) -> dict:
        return mapping(self.spec.get(key))

    def strings(self, key: str) -> list[str]:
        return [s for s in sequence(self.spec.get(key)) if isinstance(s, str)]

    @property
    def allow_escalation(self) -> bool:
        return self.spec.get("allowPrivilegeEscalation") is not False


def mutate(psp: dict, template: dict, kube: tuple) -> dict:
    """The Pod created from `template` as `psp` mutates it at Kubernetes `kube` (a
    (major, minor) or (major, minor, patch) tuple)."""
    pod = _defaulted(template)
    _mutate_pod(pod, _Policy(psp, kube))
    return pod


def admit(psp: dict, template: dict, kube: tuple) -> list[str]:
    """The reasons `psp` refuses a Pod created from `template` at Kubernetes `kube`, after
    PSP's own mutation."""
    return list(_validate_pod(mutate(psp, template, kube), _Policy(psp, kube)))


# --------------------------------------------------------------------------- the pod


def _defaulted(template: Any) -> dict:
    """A deep copy with the maps mutation writes to, and SetDefaults_Pod's host ports."""
    pod = copy.deepcopy(mapping(template))
    meta = pod["metadata"] = mapping(pod.get("metadata"))
    meta["annotations"] = mapping(meta.get("annotations"))
    spec = pod["spec"] = mapping(pod.get("spec"))
    spec["securityContext"] = mapping(spec.get("securityContext"))
    for _, _, c in _containers(spec):
        c["securityContext"] = mapping(c.get("securityContext"))
        for port in sequence(c.get("ports")):
            if spec.get("hostNetwork") is True and isinstance(port, dict) and not integer(port.get("hostPort")):
                port["hostPort"] = port.get("containerPort")
    return pod


def _containers(spec: dict) -> Iterator[tuple[str, int, dict]]:
    return ((n, i, c) for n, i, c in containers(spec) if n != "ephemeralContainers")


def _effective(pod: dict, c: dict, key: str) -> Any:
    """The container's value, else the pod's (NewEffectiveContainerSecurityContextAccessor)."""
    value = c["securityContext"].get(key)
    return value if value is not None else pod["spec"]["securityContext"].get(key)


# --------------------------------------------------------------------------- strategies


def _min_of(rule: dict) -> int | None:
    """MustRunAs Generate: the first range's min (user/mustrunas.go, group/mustrunas.go)."""
    ranges = sequence(rule.get("ranges"))
    return integer(mapping(ranges[0]).get("min")) if rule.get("rule") == "MustRunAs" and ranges else None


def _in_ranges(value: int, rule: dict) -> bool:
    """Inclusive ranges: id >= rng.Min && id <= rng.Max."""
    return any((integer(mapping(r).get("min")) or 0) <= value <= (integer(mapping(r).get("max")) or 0)
               for r in sequence(rule.get("ranges")))


def _validate_groups(rule: dict, groups: list, where: str) -> Iterator[str]:
    """group/mustrunas.go (empty refused) and group/mayrunas.go (only ranges); RunAsAny: none."""
    if rule.get("rule") not in ("MustRunAs", "MayRunAs"):
        return
    if not groups and rule["rule"] == "MustRunAs":
        yield f"{where}: unable to validate empty groups against required ranges"
    for g in groups:
        if integer(g) is not None and not _in_ranges(g, rule):
            yield f"{where}: group {g} must be in the ranges: {sequence(rule.get('ranges'))}"


def _validate_user(rule: dict, non_root: Any, uid: Any, where: str, name: str) -> Iterator[str]:
    """user/nonroot.go and user/mustrunas.go Validate; RunAsAny: none."""
    if rule.get("rule") == "MustRunAsNonRoot":
        if non_root is False:
            yield f"{where}.runAsNonRoot: Invalid value: false: must be true"
        elif uid == 0:
            yield f"{where}.runAsUser: Invalid value: 0: running with the root UID is forbidden"
    elif rule.get("rule") == "MustRunAs":
        if integer(uid) is None:
            yield f"{where}.runAsUser: Required value"
        elif not _in_ranges(uid, rule):
            yield (f"{where}.runAsUser: UID on container {name} does not match required range.  Found {uid}, "
                   f"allowed: {sequence(rule.get('ranges'))}")


def _generate_caps(policy: _Policy, sc: dict) -> None:
    """capabilities/mustrunas.go Generate: default adds (minus the container's drops) and
    required drops joined in; the container's own list kept when nothing is added."""
    caps = mapping(sc.get("capabilities"))
    add = {a for a in sequence(caps.get("add")) if isinstance(a, str)}
    drop = {d for d in sequence(caps.get("drop")) if isinstance(d, str)}
    combined_add = (set(policy.strings("defaultAddCapabilities")) - drop) | add
    combined_drop = set(policy.strings("requiredDropCapabilities")) | drop
    if len(combined_add) != len(add) or len(combined_drop) != len(drop):
        sc["capabilities"] = {"add": sorted(combined_add), "drop": sorted(combined_drop)}


def _validate_caps(policy: _Policy, sc: dict, where: str) -> Iterator[str]:
    """capabilities/mustrunas.go Validate: an add must literally be allowed or a default add
    (case-sensitive, no CAP_ folding), unless allowedCapabilities holds `*`."""
    allowed = set(policy.strings("allowedCapabilities"))
    if "*" in allowed:
        return
    allowed |= set(policy.strings("defaultAddCapabilities"))
    for cap in sequence(mapping(sc.get("capabilities")).get("add")):
        if isinstance(cap, str) and cap not in allowed:
            yield f"{where}.capabilities.add: Invalid value: {cap!r}: capability may not be added"


def _split(value: str) -> set[str]:
    """strings.Split(allowed, ","): no trimming, so " docker/default" keeps its space."""
    return set(value.split(","))


def _seccomp_allowed(policy: _Policy) -> set[str] | None:
    """The allowed profiles, None when `*` allows any (seccomp/strategy.go NewStrategy)."""
    allowed = _split(policy.annotations[SECCOMP_ALLOWED]) if SECCOMP_ALLOWED in policy.annotations else set()
    if "*" in allowed:
        return None
    if policy.kube >= SECCOMP_EQUIVALENT_SINCE and allowed & {"runtime/default", "docker/default"}:
        allowed |= {"runtime/default", "docker/default"}
    return allowed


def _seccomp_problem(policy: _Policy, profile: str) -> str | None:
    """seccomp/strategy.go ValidatePod / ValidateContainer and profileAllowed."""
    allowed = _seccomp_allowed(policy)
    if allowed is None:
        return None
    if not allowed:
        return "Forbidden: seccomp may not be set" if profile else None
    if profile in allowed:
        return None
    return f"{profile} is not an allowed seccomp profile. Valid values are {sorted(allowed)}"


def _field_as_annotation(profile: Any) -> str:
    """pkg/api/pod/util.go SeccompAnnotationForField ("" when it gives no annotation)."""
    profile = mapping(profile)
    kind, local = profile.get("type"), profile.get("localhostProfile")
    if kind == "Localhost":
        return f"localhost/{local}" if isinstance(local, str) else ""
    return {"Unconfined": "unconfined", "RuntimeDefault": "runtime/default"}.get(kind, "") \
        if isinstance(kind, str) else ""


def _pod_seccomp(pod: dict, policy: _Policy) -> str:
    """The pod annotation, else (from 1.19) the pod field as an annotation string."""
    annotation = pod["metadata"]["annotations"].get(names.SECCOMP_POD)
    if annotation or policy.kube < SECCOMP_FIELD:
        return annotation or ""
    return _field_as_annotation(pod["spec"]["securityContext"].get("seccompProfile"))


def _container_seccomp(pod: dict, c: dict, policy: _Policy) -> str:
    """profileForContainer: container annotation, else the pod's; from 1.19 the container
    field comes first and the pod field before the pod annotation."""
    field = _field_as_annotation(c["securityContext"].get("seccompProfile")) if policy.kube >= SECCOMP_FIELD else ""
    key = names.SECCOMP_CONTAINER_PREFIX + str(c.get("name", ""))
    annotations = pod["metadata"]["annotations"]
    if field or key in annotations:
        return field or annotations[key]
    pod_field = (_field_as_annotation(pod["spec"]["securityContext"].get("seccompProfile"))
                 if policy.kube >= SECCOMP_FIELD else "")
    return pod_field or annotations.get(names.SECCOMP_POD, "")


def _apparmor_problem(policy: _Policy, profile: str) -> str | None:
    """apparmor/strategy.go Validate: no allowed annotation is unrestricted."""
    if APPARMOR_ALLOWED not in policy.annotations:
        return None
    allowed = _split(policy.annotations[APPARMOR_ALLOWED])
    if profile == "":
        return "Forbidden: AppArmor profile must be set" if allowed else None
    if profile in allowed:
        return None
    return f"{profile} is not an allowed profile. Allowed values: {policy.annotations[APPARMOR_ALLOWED]!r}"


def _matches(patterns: list[str], name: str) -> bool:
    """sysctl/mustmatchpatterns.go: an entry ending in `*` is a prefix, else exact."""
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in patterns)


def _validate_sysctls(pod: dict, policy: _Policy) -> Iterator[str]:
    forbidden, unsafe = policy.strings("forbiddenSysctls"), policy.strings("allowedUnsafeSysctls")
    safe = safe_sysctls(policy.kube[:2])
    for i, s in enumerate(sequence(pod["spec"]["securityContext"].get("sysctls"))):
        name = mapping(s).get("name")
        if not isinstance(name, str):
            continue
        where = f"spec.securityContext.sysctls[{i}].name"
        if _matches(forbidden, name):
            yield f"{where}: sysctl {name!r} is not allowed"
        elif name not in safe and not _matches(unsafe, name):
            yield f"{where}: unsafe sysctl {name!r} is not allowed"


# --------------------------------------------------------------------------- volumes


def _fs_type(volume: dict) -> tuple[str, str]:
    """(pod field, PSP FSType) of the volume's source; none is an emptyDir (SetDefaults_Volume)."""
    source = next((k for k in VOLUME_FSTYPES if isinstance(volume.get(k), dict)), "emptyDir")
    return source, VOLUME_FSTYPES[source]


def _only_service_account_token(projected: dict) -> bool:
    """util.go IsOnlyServiceAccountTokenSources: the kube-api-access volume, exactly."""
    for s in sequence(projected.get("sources")):
        s = mapping(s)
        token, config_map, downward = (mapping(s.get(k)) if k in s else None
                                       for k in ("serviceAccountToken", "configMap", "downwardAPI"))
        if token is None and config_map is None and downward is None:
            return False
        if token is not None and (token.get("path") != "token" or token.get("audience", "") != ""):
            return False
        if config_map is not None and config_map.get("name") != "kube-root-ca.crt":
            return False
        for item in sequence(mapping(downward).get("items")):
            ref = mapping(mapping(item).get("fieldRef"))
            if mapping(item).get("path") != "namespace" or ref.get("apiVersion") != "v1" \
                    or ref.get("fieldPath") != "metadata.namespace":
                return False
    return True


def _allows_volume(policy: _Policy, fs_type: str, volume: dict) -> bool:
    """provider.go allowsVolumeType (with PSPAllowsAllVolumes / PSPAllowsFSType): `*`, the
    type, or a service-account-token projected volume where `secret` is allowed (with
    BoundServiceAccountTokenVolume, on by default from 1.21)."""
    allowed = set(policy.strings("volumes"))
    if "*" in allowed or fs_type in allowed:
        return True
    return ("secret" in allowed and fs_type == "projected" and policy.kube >= TOKEN_PROJECTED
            and _only_service_account_token(mapping(volume.get("projected"))))


def _clean(p: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading `//`)."""
    cleaned = posixpath.normpath(p)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _has_path_prefix(path: str, prefix: str) -> bool:
    """util.go hasPathPrefix: equal, or prefixed at a path segment boundary."""
    path, prefix = _clean(path), _clean(prefix)
    if path == prefix:
        return True
    if not path.startswith(prefix):
        return False
    return prefix.endswith("/") or path[len(prefix)] == "/"


def _host_path_rule(policy: _Policy, path: str) -> tuple[bool, bool]:
    """util.go AllowsHostVolumePath: (allowed, must be read-only); no list allows any path,
    and a matching read-write entry wins over read-only ones."""
    entries = [mapping(e) for e in sequence(policy.spec.get("allowedHostPaths"))]
    if not entries:
        return True, False
    matching = [e for e in entries if isinstance(e.get("pathPrefix"), str) and _has_path_prefix(path, e["pathPrefix"])]
    if any(e.get("readOnly") is not True for e in matching):
        return True, False
    return bool(matching), bool(matching)


def _validate_host_path(pod: dict, policy: _Policy, i: int, volume: dict) -> Iterator[str]:
    path = mapping(volume.get("hostPath")).get("path")
    allowed, read_only = _host_path_rule(policy, path if isinstance(path, str) else "")
    if not allowed:
        yield f"spec.volumes[{i}].hostPath.pathPrefix: Invalid value: {path!r}: is not allowed to be used"
        return
    for list_name, j, c in containers(pod["spec"]):
        for k, mount in enumerate(sequence(c.get("volumeMounts"))):
            mount = mapping(mount)
            if read_only and mount.get("name") == volume.get("name") and mount.get("readOnly") is not True:
                yield f"spec.{list_name}[{j}].volumeMounts[{k}].readOnly: Invalid value: false: must be read-only"


def _validate_driver(policy: _Policy, key: str, field: str, given: Any, where: str, what: str) -> Iterator[str]:
    """allowedFlexVolumes / allowedCSIDrivers: an empty list allows any driver."""
    allowed = [mapping(e).get(field) for e in sequence(policy.spec.get(key))]
    if allowed and given not in allowed:
        yield f"{where}: Invalid value: {given!r}: {what} is not allowed to be used"


def _validate_volumes(pod: dict, policy: _Policy) -> Iterator[str]:
    """provider.go validatePodVolumes."""
    for i, volume in enumerate(sequence(pod["spec"].get("volumes"))):
        volume = mapping(volume)
        source, fs_type = _fs_type(volume)
        if not _allows_volume(policy, fs_type, volume):
            yield f"spec.volumes[{i}]: Invalid value: {fs_type!r}: {fs_type} volumes are not allowed to be used"
        elif fs_type == "hostPath":
            yield from _validate_host_path(pod, policy, i, volume)
        elif fs_type == "flexVolume":
            yield from _validate_driver(policy, "allowedFlexVolumes", "driver", volume[source].get("driver"),
                                        f"spec.volumes[{i}].flexVolume.driver", "Flexvolume driver")
        elif fs_type == "csi":
            yield from _validate_driver(policy, "allowedCSIDrivers", "name", volume[source].get("driver"),
                                        f"spec.volumes[{i}].csi.driver", "Inline CSI driver")


# --------------------------------------------------------------------------- mutation


def _mutate_pod(pod: dict, policy: _Policy) -> None:
    """provider.go MutatePod: groups, the default seccomp profile (as the pod annotation,
    which the 1.19+ field reads the same), then each container."""
    psc = pod["spec"]["securityContext"]
    if not isinstance(psc.get("supplementalGroups"), list) and _min_of(policy.rule("supplementalGroups")) is not None:
        psc["supplementalGroups"] = [_min_of(policy.rule("supplementalGroups"))]
    if integer(psc.get("fsGroup")) is None and _min_of(policy.rule("fsGroup")) is not None:
        psc["fsGroup"] = _min_of(policy.rule("fsGroup"))
    default = policy.annotations.get(SECCOMP_DEFAULT)
    if default and not _pod_seccomp(pod, policy):
        pod["metadata"]["annotations"][names.SECCOMP_POD] = default
    for _, _, c in _containers(pod["spec"]):
        _mutate_container(pod, c, policy)


def _mutate_container(pod: dict, c: dict, policy: _Policy) -> None:
    """provider.go mutateContainer, in its order."""
    sc = c["securityContext"]
    if _effective(pod, c, "runAsUser") is None and _min_of(policy.rule("runAsUser")) is not None:
        sc["runAsUser"] = _min_of(policy.rule("runAsUser"))
    if _effective(pod, c, "runAsGroup") is None and _min_of(policy.rule("runAsGroup")) is not None:
        sc["runAsGroup"] = _min_of(policy.rule("runAsGroup"))
    apparmor_key = names.APPARMOR_CONTAINER_PREFIX + str(c.get("name", ""))
    if policy.annotations.get(APPARMOR_DEFAULT) and not pod["metadata"]["annotations"].get(apparmor_key):
        pod["metadata"]["annotations"][apparmor_key] = policy.annotations[APPARMOR_DEFAULT]
    if (_effective(pod, c, "runAsNonRoot") is None and _effective(pod, c, "runAsUser") is None
            and policy.rule("runAsUser").get("rule") == "MustRunAsNonRoot"):
        sc["runAsNonRoot"] = True
    _generate_caps(policy, sc)
    if policy.spec.get("readOnlyRootFilesystem") is True and sc.get("readOnlyRootFilesystem") is None:
        sc["readOnlyRootFilesystem"] = True
    default_escalation = policy.spec.get("defaultAllowPrivilegeEscalation")
    if isinstance(default_escalation, bool) and sc.get("allowPrivilegeEscalation") is None:
        sc["allowPrivilegeEscalation"] = default_escalation
    if not policy.allow_escalation and sc.get("allowPrivilegeEscalation") is None:
        sc["allowPrivilegeEscalation"] = False


# --------------------------------------------------------------------------- validation


def _validate_pod(pod: dict, policy: _Policy) -> Iterator[str]:
    """provider.go ValidatePod, in its order."""
    spec, psc = pod["spec"], pod["spec"]["securityContext"]
    fs_group = integer(psc.get("fsGroup"))
    yield from _validate_groups(policy.rule("fsGroup"), [] if fs_group is None else [fs_group],
                                "spec.securityContext.fsGroup")
    yield from _validate_groups(policy.rule("supplementalGroups"), sequence(psc.get("supplementalGroups")),
                                "spec.securityContext.supplementalGroups")
    problem = _seccomp_problem(policy, _pod_seccomp(pod, policy))
    if problem:
        yield f"metadata.annotations[{names.SECCOMP_POD}]: {problem}"
    for key, what in (("hostNetwork", "Host network"), ("hostPID", "Host PID"), ("hostIPC", "Host IPC")):
        if spec.get(key) is True and policy.spec.get(key) is not True:
            yield f"spec.securityContext.{key}: Invalid value: true: {what} is not allowed to be used"
    yield from _validate_sysctls(pod, policy)
    yield from _validate_volumes(pod, policy)
    for list_name, i, c in _containers(spec):
        yield from _validate_container(pod, c, policy, field_path(f"/spec/{list_name}/{i}"))


def _validate_container(pod: dict, c: dict, policy: _Policy, where: str) -> Iterator[str]:
    """provider.go validateContainer, in its order."""
    sc, name, scp = c["securityContext"], str(c.get("name", "")), f"{where}.securityContext"
    yield from _validate_user(policy.rule("runAsUser"), _effective(pod, c, "runAsNonRoot"),
                              _effective(pod, c, "runAsUser"), scp, name)
    group = integer(_effective(pod, c, "runAsGroup"))
    yield from _validate_groups(policy.rule("runAsGroup"), [] if group is None else [group], f"{scp}.runAsGroup")
    problem = _apparmor_problem(policy, pod["metadata"]["annotations"].get(names.APPARMOR_CONTAINER_PREFIX + name, ""))
    if problem:
        yield f"metadata.annotations[{names.APPARMOR_CONTAINER_PREFIX + name}]: {problem}"
    problem = _seccomp_problem(policy, _container_seccomp(pod, c, policy))
    if problem:
        yield f"{scp}.seccompProfile: {problem}"
    if sc.get("privileged") is True and policy.spec.get("privileged") is not True:
        yield f"{scp}.privileged: Invalid value: true: Privileged containers are not allowed"
    proc_mount = sc.get("procMount") or "Default"
    if proc_mount not in (policy.strings("allowedProcMountTypes") or ["Default"]):
        yield f"{scp}.procMount: Invalid value: {proc_mount!r}: ProcMountType is not allowed"
    yield from _validate_caps(policy, sc, scp)
    yield from _validate_host_ports(c, policy, where)
    if policy.spec.get("readOnlyRootFilesystem") is True and sc.get("readOnlyRootFilesystem") is not True:
        yield f"{scp}.readOnlyRootFilesystem: ReadOnlyRootFilesystem must be set to true"
    if not policy.allow_escalation and sc.get("allowPrivilegeEscalation") is not False:
        yield f"{scp}.allowPrivilegeEscalation: Allowing privilege escalation for containers is not allowed"


def _validate_host_ports(c: dict, policy: _Policy, where: str) -> Iterator[str]:
    """provider.go hasInvalidHostPort: every hostPort > 0 inside one of spec.hostPorts."""
    ranges = [mapping(r) for r in sequence(policy.spec.get("hostPorts"))]
    for port in sequence(c.get("ports")):
        number = integer(mapping(port).get("hostPort"))
        if number and number > 0 and not any(r.get("min", 0) <= number <= r.get("max", 0) for r in ranges):
            allowed = ",".join(f"{r.get('min')}-{r.get('max')}" for r in ranges)
            yield f"{where}.hostPort: Invalid value: {number}: Host port {number} is not allowed to be used. " \
                  f"Allowed ports: [{allowed}]"
