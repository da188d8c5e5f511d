"""The Pod Security Standards checks as CEL, for the ValidatingAdmissionPolicy.

One expression per check of :mod:`hardener.pss` (which mirrors
kubernetes/pod-security-admission policy/check_*.go), with the same version revisions and
overrides (`pss.active_checks`), so the policy admits a pod exactly when PSS admits it at
the level and version: `tests/test_vap_pss.py` runs both on the same pods. The variables
(`variables.spec`, `podSC`, `containers`, `annotations`, `osWindows`) are the policy's
(:data:`hardener.policy.vap.CEL_VARIABLES`). Policy versions before 1.30 need no branch
here: the policy is only emitted from 1.30.
"""

from __future__ import annotations

from .. import pss
from ..kube import names
from ..kube.versions import PSS_USERNS
from .cel import every as _every
from .cel import has_path as _has
from .cel import string as _str
from .cel import strings

S, P, A = "variables.spec", "variables.podSC", "variables.annotations"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE = ("postStart", "preStop")


def _list(items) -> str:
    return strings(sorted(items))


def _set(base: str, path: str, test: str) -> str:
    """`test` on base.path when set, true when unset."""
    return f"(!({_has(base, path)}) || {base}.{path}{test})"


def _typed_ok(obj: str, allowed) -> str:
    return f"(has({obj}.type) && {obj}.type in {_list(allowed)})"


def _profile_types(field: str, allowed) -> str:
    """check_appArmorProfile.go / check_seccompProfile_baseline.go (1.19): a set
    `<field>.type`, pod or container, is one of `allowed`."""
    pod = f"(!has({P}.{field}) || {_typed_ok(f'{P}.{field}', allowed)})"
    return pod + " && " + _every(f"!({_has('c', 'securityContext.' + field)}) || "
                                 + _typed_ok(f"c.securityContext.{field}", allowed))


def _host_handler(handler: str) -> str:
    return " && ".join(f"!({_has(handler, kind + '.host')} && {handler}.{kind}.host != '')"
                       for kind in ("httpGet", "tcpSocket"))


def _selinux(types) -> str:
    def ok(o: str) -> str:
        return (f"((!has({o}.type) || {o}.type in {_list(types)}) && (!has({o}.user) || {o}.user == '')"
                f" && (!has({o}.role) || {o}.role == ''))")
    return (f"(!has({P}.seLinuxOptions) || {ok(P + '.seLinuxOptions')}) && "
            + _every(f"!({_has('c', 'securityContext.seLinuxOptions')}) || {ok('c.securityContext.seLinuxOptions')}"))


def _windows_exempt(expr: str, version) -> str:
    # the V1Dot25 revisions: spec.os.name == windows is admitted unchecked
    return f"variables.osWindows || ({expr})" if version >= (1, 25) else expr


def _userns_relaxed(expr: str, version) -> str:
    # the 1.35 revisions: hostUsers: false (helpers.go relaxPolicyForUserNamespacePod)
    return f"(has({S}.hostUsers) && {S}.hostUsers == false) || ({expr})" if version >= PSS_USERNS else expr


def check(cid: str, version: tuple[int, int]) -> tuple[str, str]:
    """(CEL, what it requires) for one check at a version."""
    if cid == "hostNamespaces":
        return (" && ".join(f"!(has({S}.{f}) && {S}.{f})" for f in ("hostNetwork", "hostPID", "hostIPC")),
                "hostNetwork, hostPID and hostIPC must be unset or false")
    if cid == "privileged":
        return (_every(f"!({_has('c', 'securityContext.privileged')} && c.securityContext.privileged)"),
                "containers must not be privileged")
    if cid == "capabilities_baseline":
        return (_every(_set("c", "securityContext.capabilities.add",
                            f".all(a, a in {_list(pss.BASELINE_CAPABILITIES)})")),
                "containers may add only the default capabilities")
    if cid == "hostPathVolumes":
        return f"!has({S}.volumes) || {S}.volumes.all(v, !has(v.hostPath))", "hostPath volumes are forbidden"
    if cid == "hostPorts":
        # with hostNetwork the API server defaults hostPort to containerPort in a pod's
        # containers and init containers (hardener/pss/checks/host_ports.py): any port there is a host port.
        # Over variables.containers, ephemeral ones too: they never have ports (validation.go
        # validateEphemeralContainers forbids the field), and so an exemption that leaves
        # a container out leaves it out of both halves
        defaulted = f"!(has({S}.hostNetwork) && {S}.hostNetwork) || " + _every("!has(c.ports) || size(c.ports) == 0")
        return (_every("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)")
                + f" && ({defaulted})", "hostPorts are forbidden")
    if cid == "appArmorProfile":
        prefix = _str(names.APPARMOR_CONTAINER_PREFIX)
        annotations = (f"{A}.all(k, !k.startsWith({prefix}) || {A}[k] == '' || {A}[k] == 'runtime/default'"
                       f" || {A}[k].startsWith('localhost/'))")
        return (_profile_types("appArmorProfile", ("RuntimeDefault", "Localhost")) + " && " + annotations,
                "AppArmor must not be unconfined")
    if cid == "seLinuxOptions":
        types = pss.selinux_types(version)
        return _selinux(types), ("SELinux type must be empty or one of "
                                 + ", ".join(sorted(t for t in types if t)) + ", with no custom user or role")
    if cid in ("procMount", "procMount_restricted"):
        expr = _every(_set("c", "securityContext.procMount", " == 'Default'"))
        if cid == "procMount":  # procMount1_35baseline: any value with hostUsers: false
            expr = _userns_relaxed(expr, version)
        return expr, "containers must keep the default /proc masks (procMount unset or Default)"
    if cid == "seccompProfile_baseline":
        return (_profile_types("seccompProfile", ("RuntimeDefault", "Localhost")),
                "seccomp must not be unconfined")
    if cid == "sysctls":
        return (f"!has({P}.sysctls) || {P}.sysctls.all(s, s.name in {_list(pss.safe_sysctls(version))})",
                "only the safe sysctls are allowed")
    if cid == "windowsHostProcess":
        pod = f"!({_has(P, 'windowsOptions.hostProcess')} && {P}.windowsOptions.hostProcess)"
        return (pod + " && " + _every(f"!({_has('c', 'securityContext.windowsOptions.hostProcess')}"
                                      " && c.securityContext.windowsOptions.hostProcess)"),
                "Windows HostProcess is forbidden")
    if cid == "hostProbesAndHostLifecycle":
        terms = [f"(!has(c.{p}) || ({_host_handler('c.' + p)}))" for p in PROBES]
        terms += [f"(!({_has('c', 'lifecycle.' + h)}) || ({_host_handler('c.lifecycle.' + h)}))" for h in LIFECYCLE]
        return _every(" && ".join(terms)), "probes and lifecycle handlers must not set a host"
    if cid == "restrictedVolumes":
        allowed = " || ".join(f"has(v.{k})" for k in pss.RESTRICTED_ALLOWED_VOLUMES)
        forbidden = " || ".join(f"has(v.{k})" for k in pss.RESTRICTED_FORBIDDEN_VOLUMES)
        return (f"!has({S}.volumes) || {S}.volumes.all(v, {allowed} || !({forbidden}))",
                "only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, "
                "projected and secret volumes are allowed")
    if cid == "allowPrivilegeEscalation":
        return (_windows_exempt(_every(f"{_has('c', 'securityContext.allowPrivilegeEscalation')}"
                                       " && c.securityContext.allowPrivilegeEscalation == false"), version),
                "containers must set allowPrivilegeEscalation: false")
    if cid == "capabilities_restricted":
        caps = "c.securityContext.capabilities"
        expr = _every(f"{_has('c', 'securityContext.capabilities.drop')} && {caps}.drop.exists(d, d == 'ALL')"
                      f" && (!has({caps}.add) || {caps}.add.all(a, a == 'NET_BIND_SERVICE'))")
        return (_windows_exempt(expr, version),
                "containers must drop ALL capabilities and may add only NET_BIND_SERVICE")
    if cid == "runAsNonRoot":
        pod_true = f"(has({P}.runAsNonRoot) && {P}.runAsNonRoot == true)"
        expr = (f"!(has({P}.runAsNonRoot) && {P}.runAsNonRoot == false) && "
                + _every(f"{_has('c', 'securityContext.runAsNonRoot')} ? c.securityContext.runAsNonRoot == true"
                         f" : {pod_true}"))
        return _userns_relaxed(expr, version), "containers must run with runAsNonRoot: true"
    if cid == "runAsUser":
        expr = (f"!(has({P}.runAsUser) && {P}.runAsUser == 0) && "
                + _every(f"!({_has('c', 'securityContext.runAsUser')} && c.securityContext.runAsUser == 0)"))
        return _userns_relaxed(expr, version), "runAsUser must not be 0"
    if cid == "seccompProfile_restricted":
        ok = _typed_ok(f"{P}.seccompProfile", ("RuntimeDefault", "Localhost"))
        expr = (f"(!has({P}.seccompProfile) || {ok}) && "
                + _every(f"{_has('c', 'securityContext.seccompProfile')} ? "
                         f"{_typed_ok('c.securityContext.seccompProfile', ('RuntimeDefault', 'Localhost'))}"
                         f" : (has({P}.seccompProfile) && {ok})"))
        return _windows_exempt(expr, version), "a RuntimeDefault or Localhost seccomp profile must be set"
    raise AssertionError(f"PSS check {cid} has no CEL: add it to hardener/policy/pss_cel.py")


def pss_validations(level: str, version: tuple[int, int]) -> list[tuple[str, str, str]]:
    """(check id, CEL, what it requires) for every check PSS runs at `level` and `version`."""
    return [(cid, *check(cid, version)) for cid in pss.active_checks(level, version)]
