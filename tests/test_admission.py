"""Tests for hardener.kube.admission (what the API server, the kubelet and the runtime do with
a pod template), hardener.kube.nodes and the kubelet's sysctl facts, and for the
PodSecurityPolicy admission simulator in tests/psp_admission.py.

Every rule has one test with a failing and a passing case; its docstring names the
Kubernetes file and function it mirrors (research notes: /work/notes/k8s-rules.md). The
failing cases are registered in FAILING, which the RULES coverage test runs.
"""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener.kube import names
from hardener.kube.admission import RULES, Finding, NodeFeatures, check
from hardener.kube.kubelet import SAFE_SYSCTLS, kubelet_allowlist, safe_sysctls, sysctl_namespace
from hardener.kube.nodes import linux_only_fields, node_os
from psp_admission import APPARMOR_ALLOWED, APPARMOR_DEFAULT, SECCOMP_ALLOWED, SECCOMP_DEFAULT, admit, mutate

LATEST = (1, 37)
NODE = NodeFeatures()
APPARMOR_NODE = NodeFeatures(apparmor=True)
AA = names.APPARMOR_CONTAINER_PREFIX
SC = names.SECCOMP_CONTAINER_PREFIX


# --------------------------------------------------------------------------- helpers


def ctr(name="app", ports=None, command=None, **sc) -> dict:
    c = {"name": name, "image": "registry.example/app:1"}
    if ports:
        c["ports"] = [{"containerPort": p} for p in ports]
    if command:
        c["command"] = command
    if sc:
        c["securityContext"] = sc
    return c


def tpl(*containers, annotations=None, init=(), **spec) -> dict:
    """A pod template: the containers (one plain "app" by default), pod-level `spec` keys."""
    body = {"containers": list(containers) or [ctr()], **spec}
    if init:
        body["initContainers"] = list(init)
    return {"metadata": {"annotations": annotations or {}}, "spec": body}


def sysctls(*pairs, **spec) -> dict:
    """A template whose pod sets `pairs` as sysctls."""
    return tpl(securityContext={"sysctls": [{"name": n, "value": v} for n, v in pairs]}, **spec)


def found(template, kube=LATEST, node=NODE, rule=None) -> list[Finding]:
    return [f for f in check(template, kube, node) if rule is None or f.rule == rule]


def ids(template, kube=LATEST, node=NODE) -> set[str]:
    return {f.rule for f in check(template, kube, node)}


class Case(NamedTuple):
    rule: str
    template: dict
    kube: tuple
    node: NodeFeatures


#: One failing case per rule (at least), for the per-rule tests and the RULES coverage test.
FAILING: list[Case] = []


def failing(rule, template, kube=LATEST, node=NODE) -> Case:
    case = Case(rule, template, kube, node)
    FAILING.append(case)
    return case


def fails(case: Case, severity="error") -> Finding:
    """The case's first finding of its rule, with the expected severity."""
    hits = found(case.template, case.kube, case.node, case.rule)
    assert hits, f"{case.rule} not emitted: {check(case.template, case.kube, case.node)}"
    assert all(h.severity == severity for h in hits), hits
    return hits[0]


def passes(rule, template, kube=LATEST, node=NODE) -> None:
    assert not found(template, kube, node, rule), found(template, kube, node, rule)


# --------------------------------------------------------------------------- api/...

SECCOMP_POD_MISMATCH = failing("api/seccompAnnotationMismatch", tpl(
    annotations={names.SECCOMP_POD: "unconfined"}, securityContext={"seccompProfile": {"type": "RuntimeDefault"}}))
SECCOMP_CONTAINER_MISMATCH = failing("api/seccompAnnotationMismatch", tpl(
    ctr(seccompProfile={"type": "Localhost", "localhostProfile": "a.json"}),
    annotations={SC + "app": "localhost/b.json"}))


def test_api_seccomp_annotation_mismatch():
    """validation.go validateSeccompAnnotationsAndFieldsMatch: same level only;
    RuntimeDefault == runtime/default or docker/default; Localhost X == localhost/X."""
    assert fails(SECCOMP_POD_MISMATCH).path == "/spec/securityContext/seccompProfile/type"
    assert fails(SECCOMP_CONTAINER_MISMATCH).path == \
        "/spec/containers/0/securityContext/seccompProfile/localhostProfile"
    rule = "api/seccompAnnotationMismatch"
    passes(rule, tpl(annotations={names.SECCOMP_POD: "docker/default"},
                     securityContext={"seccompProfile": {"type": "RuntimeDefault"}}))
    passes(rule, tpl(ctr(seccompProfile={"type": "Localhost", "localhostProfile": "a.json"}),
                     annotations={SC + "app": "localhost/a.json"}))
    # no cross-level comparison: a pod field against a container annotation
    passes(rule, tpl(annotations={SC + "app": "unconfined"},
                     securityContext={"seccompProfile": {"type": "RuntimeDefault"}}))
    passes(rule, SECCOMP_POD_MISMATCH.template, kube=(1, 18))  # no field before 1.19


APPARMOR_INHERITED_MISMATCH = failing("api/appArmorAnnotationMismatch", tpl(
    annotations={AA + "app": "unconfined"}, securityContext={"appArmorProfile": {"type": "RuntimeDefault"}}),
    node=APPARMOR_NODE)


def test_api_apparmor_annotation_mismatch():
    """validation.go validateAppArmorAnnotationsAndFieldsMatchOnCreate: the annotation
    against the container's *effective* field (inherited from the pod); not for Windows."""
    hit = fails(APPARMOR_INHERITED_MISMATCH)
    assert (hit.container, hit.path) == ("app", "/spec/securityContext/appArmorProfile/type")
    rule = "api/appArmorAnnotationMismatch"
    passes(rule, tpl(annotations={AA + "app": "runtime/default"},
                     securityContext={"appArmorProfile": {"type": "RuntimeDefault"}}), node=APPARMOR_NODE)
    passes(rule, tpl(ctr(appArmorProfile={"type": "Unconfined"}), annotations={AA + "app": "unconfined"},
                     securityContext={"appArmorProfile": {"type": "RuntimeDefault"}}), node=APPARMOR_NODE)
    windows = dict(APPARMOR_INHERITED_MISMATCH.template["spec"], os={"name": "windows"})
    passes(rule, {"metadata": APPARMOR_INHERITED_MISMATCH.template["metadata"], "spec": windows})


SECCOMP_FIELD_CASES = [failing("api/seccompField", tpl(ctr(seccompProfile=p))) for p in (
    {"type": "Localhost"}, {"type": "Localhost", "localhostProfile": "/abs.json"},
    {"type": "Localhost", "localhostProfile": "a/../b.json"}, {"type": "RuntimeDefault", "localhostProfile": "x"},
    {"type": ""}, {"type": "Default"}, {"type": 5})]


def test_api_seccomp_field():
    """validation.go validateSeccompProfileField, validateSeccompProfileType,
    validateLocalDescendingPath."""
    problems = [fails(case).message for case in SECCOMP_FIELD_CASES]
    for text, message in zip(("must be set", "relative path", "'..'", "only be set when seccomp type is Localhost",
                              "type is required", "not supported", "type is required"), problems):
        assert text in message
    passes("api/seccompField", tpl(ctr(seccompProfile={"type": "Localhost", "localhostProfile": "p/a..b.json"})))
    passes("api/seccompField", tpl(ctr(seccompProfile={"type": "Localhost", "localhostProfile": ""})))  # API allows ""


SECCOMP_ANNOTATION_CASES = [failing("api/seccompAnnotation", tpl(annotations={k: v})) for k, v in (
    (names.SECCOMP_POD, "runtime/defaults"), (SC + "gone", "localhost/../x"), (names.SECCOMP_POD, "localhost//abs"))]


def test_api_seccomp_annotation():
    """validation.go ValidateSeccompProfile (via ValidateSeccompPodAnnotations); the
    container need not exist."""
    assert [fails(c).container for c in SECCOMP_ANNOTATION_CASES] == [None, "gone", None]
    passes("api/seccompAnnotation", tpl(annotations={names.SECCOMP_POD: "docker/default", SC + "x": "localhost/a/b"}))


APPARMOR_FIELD_CASES = [failing("api/appArmorField", tpl(ctr(appArmorProfile=p)), node=APPARMOR_NODE) for p in (
    {"type": "Localhost", "localhostProfile": " k8s-profile"}, {"type": "Localhost", "localhostProfile": ""},
    {"type": "Localhost"}, {"type": "Localhost", "localhostProfile": "é" * 2048},
    {"type": "Unconfined", "localhostProfile": "x"}, {"type": "Enforce"})]


def test_api_apparmor_field():
    """validation.go ValidateAppArmorProfileField (from 1.30): Localhost needs a non-empty,
    unpadded (strings.TrimSpace) name of at most 4095 bytes."""
    messages = [fails(c).message for c in APPARMOR_FIELD_CASES]
    for text, message in zip(("padded", "must be set", "must be set", "4095 bytes", "only be set", "not supported"),
                             messages):
        assert text in message
    rule = "api/appArmorField"
    passes(rule, tpl(ctr(appArmorProfile={"type": "Localhost", "localhostProfile": "k8s/a..b" + "x" * 4087})),
           node=APPARMOR_NODE)
    # Go's unicode.IsSpace does not include \x1c, which Python's str.strip would trim
    passes(rule, tpl(ctr(appArmorProfile={"type": "Localhost", "localhostProfile": "\x1cp"})), node=APPARMOR_NODE)
    passes(rule, APPARMOR_FIELD_CASES[0].template, kube=(1, 29), node=APPARMOR_NODE)


APPARMOR_ANNOTATION = failing("api/appArmorAnnotation", tpl(annotations={AA + "app": "docker-default"}),
                              node=APPARMOR_NODE)


def test_api_apparmor_annotation():
    """validation.go ValidateAppArmorProfileFormat."""
    assert fails(APPARMOR_ANNOTATION).path == \
        "/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1app"
    for value in ("", "runtime/default", "unconfined", "localhost/"):
        passes("api/appArmorAnnotation", tpl(annotations={AA + "app": value}), node=APPARMOR_NODE)


APPARMOR_NO_CONTAINER = failing("api/appArmorAnnotationContainer", tpl(annotations={AA + "sidecar": "runtime/default"}),
                                node=APPARMOR_NODE)


def test_api_apparmor_annotation_container():
    """validation.go ValidateAppArmorPodAnnotations: "container not found"."""
    assert fails(APPARMOR_NO_CONTAINER).container == "sidecar"
    passes("api/appArmorAnnotationContainer",
           tpl(annotations={AA + "init": "runtime/default"}, init=[ctr("init")]), node=APPARMOR_NODE)


PRIVILEGED_NO_ESCALATION = failing("api/privilegeEscalation", tpl(ctr(allowPrivilegeEscalation=False, privileged=True)))
CAP_SYS_ADMIN_NO_ESCALATION = failing("api/privilegeEscalation", tpl(
    ctr(allowPrivilegeEscalation=False, capabilities={"add": ["CAP_SYS_ADMIN"]})))


def test_api_privilege_escalation():
    """validation.go ValidateSecurityContext: allowPrivilegeEscalation false with privileged
    true, or with the literal CAP_SYS_ADMIN (SYS_ADMIN is not compared)."""
    assert "`privileged` to true" in fails(PRIVILEGED_NO_ESCALATION).message
    assert "CAP_SYS_ADMIN" in fails(CAP_SYS_ADMIN_NO_ESCALATION).message
    passes("api/privilegeEscalation", tpl(ctr(allowPrivilegeEscalation=False, capabilities={"add": ["SYS_ADMIN"]})))
    passes("api/privilegeEscalation", tpl(ctr(allowPrivilegeEscalation=True, privileged=True)))


WINDOWS_WITH_LINUX_FIELDS = failing("api/windowsLinuxField", tpl(
    ctr(allowPrivilegeEscalation=False, readOnlyRootFilesystem=False, capabilities={"drop": ["ALL"]}),
    os={"name": "windows"}, hostPID=True, securityContext={"runAsUser": 1000, "supplementalGroups": []}))


def test_api_windows_linux_field():
    """validation.go validateWindows: any Linux-only pod or container field, even false or
    empty, on a spec.os.name: windows pod (from 1.24)."""
    paths = {f.path for f in found(WINDOWS_WITH_LINUX_FIELDS.template, rule="api/windowsLinuxField")}
    assert paths == {"/spec/hostPID", "/spec/securityContext/runAsUser", "/spec/securityContext/supplementalGroups",
                     "/spec/containers/0/securityContext/allowPrivilegeEscalation",
                     "/spec/containers/0/securityContext/readOnlyRootFilesystem",
                     "/spec/containers/0/securityContext/capabilities"}
    fails(WINDOWS_WITH_LINUX_FIELDS)
    passes("api/windowsLinuxField", tpl(ctr(runAsNonRoot=True, windowsOptions={"runAsUserName": "ContainerUser"}),
                                        os={"name": "windows"}, hostPID=False, hostNetwork=True))
    passes("api/windowsLinuxField", WINDOWS_WITH_LINUX_FIELDS.template, kube=(1, 23))
    # only spec.os.name counts: a Windows node selector does not make the API server check
    passes("api/windowsLinuxField", tpl(ctr(privileged=False), nodeSelector={names.OS_LABEL: "windows"}))


LINUX_WITH_WINDOWS_OPTIONS = failing("api/linuxWindowsOptions", tpl(
    ctr(windowsOptions={"runAsUserName": "ContainerUser"}), os={"name": "linux"}))


def test_api_linux_windows_options():
    """validation.go validateLinux: no windowsOptions on a spec.os.name: linux pod."""
    assert fails(LINUX_WITH_WINDOWS_OPTIONS).path == "/spec/containers/0/securityContext/windowsOptions"
    passes("api/linuxWindowsOptions", tpl(ctr(windowsOptions={"runAsUserName": "ContainerUser"})))


HOST_NETWORK_SYSCTL = failing("api/hostNamespaceSysctl", sysctls(("net.ipv4.ip_local_port_range", "1024 65535"),
                                                                  hostNetwork=True))
HOST_IPC_SYSCTL = failing("api/hostNamespaceSysctl", sysctls(("kernel.shm_rmid_forced", "1"), hostIPC=True))


def test_api_host_namespace_sysctl():
    """validation.go ValidateHostSysctl (from 1.29): net sysctls with hostNetwork, IPC
    sysctls with hostIPC."""
    assert "'hostNetwork'" in fails(HOST_NETWORK_SYSCTL).message
    assert "'hostIPC'" in fails(HOST_IPC_SYSCTL).message
    passes("api/hostNamespaceSysctl", sysctls(("kernel.shm_rmid_forced", "1"), hostNetwork=True))


PROC_MOUNT_UNMASKED = failing("api/procMountUnmasked", tpl(ctr(procMount="Unmasked")))


def test_api_proc_mount_unmasked():
    """validation.go ValidateSecurityContext: "`hostUsers` must be false to use `Unmasked`"."""
    fails(PROC_MOUNT_UNMASKED)
    passes("api/procMountUnmasked", tpl(ctr(procMount="Unmasked"), hostUsers=False))


ID_OUT_OF_RANGE = failing("api/idOutOfRange", tpl(ctr(runAsGroup=2147483648), securityContext={"runAsUser": -1}))


def test_api_id_out_of_range():
    """validation.go validatePodSpecSecurityContext / ValidateSecurityContext:
    IsValidUserID and IsValidGroupID (0..2147483647)."""
    assert {f.path for f in found(ID_OUT_OF_RANGE.template, rule="api/idOutOfRange")} == {
        "/spec/securityContext/runAsUser", "/spec/containers/0/securityContext/runAsGroup"}
    fails(ID_OUT_OF_RANGE)
    passes("api/idOutOfRange", tpl(ctr(runAsGroup=0, runAsUser=True), securityContext={"runAsUser": 2147483647}))


# --------------------------------------------------------------------------- kubelet/...

APPARMOR_FIELD_NO_NODE = failing("kubelet/appArmorUnavailable", tpl(ctr(appArmorProfile={"type": "RuntimeDefault"})))
APPARMOR_ANNOTATION_NO_NODE = failing("kubelet/appArmorUnavailable", tpl(annotations={AA + "app": ""}), kube=(1, 24))


def test_kubelet_apparmor_unavailable():
    """pkg/security/apparmor/helpers.go isRequired, validate.go validateHost and
    pkg/kubelet/lifecycle/handlers.go appArmorAdmitHandler.Admit: any non-Unconfined field
    or non-`unconfined` annotation needs AppArmor on the node."""
    assert fails(APPARMOR_FIELD_NO_NODE).path == "/spec/containers/0/securityContext/appArmorProfile/type"
    assert "Pending" in fails(APPARMOR_ANNOTATION_NO_NODE).message  # "" counts as required
    rule = "kubelet/appArmorUnavailable"
    passes(rule, tpl(ctr(appArmorProfile={"type": "Unconfined"}), annotations={AA + "app": "unconfined"}))
    passes(rule, tpl())  # nothing set: admitted even without AppArmor
    passes(rule, APPARMOR_FIELD_NO_NODE.template, node=APPARMOR_NODE)
    passes(rule, tpl(annotations={AA + "app": "runtime/default"}, nodeSelector={names.OS_LABEL: "windows"}))


UNSAFE_SYSCTL = failing("kubelet/sysctlNotAllowlisted", sysctls(("net.core.somaxconn", "1024")))
KEEPALIVE_TOO_EARLY = failing("kubelet/sysctlNotAllowlisted", sysctls(("net.ipv4.tcp_keepalive_time", "600")),
                              kube=(1, 28))
RMEM_OLD_KERNEL = failing("kubelet/sysctlNotAllowlisted", sysctls(("net.ipv4.tcp_rmem", "4096 87380 16777216")),
                          node=NodeFeatures(unprivileged_port_sysctl=False))


def test_kubelet_sysctl_not_allowlisted():
    """pkg/kubelet/sysctl/safe_sysctls.go SafeSysctlAllowlist / getSafeSysctlAllowlist:
    the safe list of the version, minus what the node's kernel is too old for."""
    fails(UNSAFE_SYSCTL)
    fails(KEEPALIVE_TOO_EARLY)
    assert "needs Linux >= 4.15" in fails(RMEM_OLD_KERNEL).message
    rule = "kubelet/sysctlNotAllowlisted"
    passes(rule, KEEPALIVE_TOO_EARLY.template, kube=(1, 29))
    passes(rule, RMEM_OLD_KERNEL.template)
    # a 4.5 sysctl on a kernel known only to be < 4.11 is not known to be missing
    passes(rule, KEEPALIVE_TOO_EARLY.template, node=NodeFeatures(unprivileged_port_sysctl=False))


HOST_NETWORK_SYSCTL_1_28 = failing("kubelet/hostNamespaceSysctl", HOST_NETWORK_SYSCTL.template, kube=(1, 28))


def test_kubelet_host_namespace_sysctl():
    """pkg/kubelet/sysctl/allowlist.go validateSysctl: "%q not allowed with host %s enabled"."""
    assert "SysctlForbidden" in fails(HOST_NETWORK_SYSCTL_1_28).message
    passes("kubelet/hostNamespaceSysctl", sysctls(("net.ipv4.ip_local_port_range", "1024 65535")), kube=(1, 28))


PORT_SYSCTL_OLD_KERNEL = failing("kubelet/unprivilegedPortSysctlKernel", sysctls(
    ("net.ipv4.ip_unprivileged_port_start", "0")), node=NodeFeatures(unprivileged_port_sysctl=False))


def test_kubelet_unprivileged_port_sysctl_kernel():
    """pkg/kubelet/sysctl/safe_sysctls.go safeSysctls: ip_unprivileged_port_start has no
    kernel gate, yet exists only from Linux 4.11 (the sandbox cannot be created)."""
    assert "sandbox" in fails(PORT_SYSCTL_OLD_KERNEL).message
    passes("kubelet/unprivilegedPortSysctlKernel", PORT_SYSCTL_OLD_KERNEL.template)


WINDOWS_NODE_SYSCTL = failing("kubelet/windowsSysctl", sysctls(("kernel.shm_rmid_forced", "1")),
                              node=NodeFeatures(windows=True))
WINDOWS_SELECTOR_SYSCTL = failing("kubelet/windowsSysctl", sysctls(
    ("kernel.shm_rmid_forced", "1"), nodeSelector={names.BETA_OS_LABEL: "windows"}))


def test_kubelet_windows_sysctl():
    """pkg/kubelet/sysctl/safe_sysctls.go SafeSysctlAllowlist: nil off Linux, so a Windows
    kubelet rejects every sysctl."""
    fails(WINDOWS_NODE_SYSCTL)
    fails(WINDOWS_SELECTOR_SYSCTL)
    rule = "kubelet/windowsSysctl"
    passes(rule, sysctls(("kernel.shm_rmid_forced", "1"), nodeSelector={names.OS_LABEL: "linux"}),
           node=NodeFeatures(windows=True))
    windows_os = sysctls(("kernel.shm_rmid_forced", "1"), os={"name": "windows"})
    passes(rule, windows_os)  # validateWindows rejects it at the API server first
    assert "api/windowsLinuxField" in ids(windows_os)


RUN_AS_ROOT_NON_ROOT = failing("kubelet/runAsNonRootUid0",
                               tpl(ctr(runAsUser=0), securityContext={"runAsNonRoot": True}))


def test_kubelet_run_as_non_root_uid0():
    """pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot: an effective
    runAsUser 0 breaks runAsNonRoot."""
    assert fails(RUN_AS_ROOT_NON_ROOT).path == "/spec/containers/0/securityContext/runAsUser"
    rule = "kubelet/runAsNonRootUid0"
    passes(rule, tpl(ctr(runAsUser=1000), securityContext={"runAsNonRoot": True, "runAsUser": 0}))
    passes(rule, tpl(ctr(runAsNonRoot=False), securityContext={"runAsNonRoot": True, "runAsUser": 0}))
    # a wrong-typed container value is absent: the pod's applies
    assert found(tpl(ctr(runAsNonRoot="yes"), securityContext={"runAsNonRoot": True, "runAsUser": 0}), rule=rule)


NON_ROOT_IMAGE_USER = failing("kubelet/runAsNonRootImageUser", tpl(securityContext={"runAsNonRoot": True}))


def test_kubelet_run_as_non_root_image_user():
    """security_context_others.go verifyRunAsNonRoot / helpers.go getImageUser: without
    runAsUser the image's USER decides (a warning: image user unknown)."""
    assert "image user unknown" in fails(NON_ROOT_IMAGE_USER, severity="warning").message
    passes("kubelet/runAsNonRootImageUser", tpl(securityContext={"runAsNonRoot": True, "runAsUser": 1000}))


WINDOWS_ADMIN = failing("kubelet/runAsNonRootWindowsAdmin", tpl(
    ctr(runAsNonRoot=True), os={"name": "windows"},
    securityContext={"windowsOptions": {"runAsUserName": "ContainerAdministrator"}}))


def test_kubelet_run_as_non_root_windows_admin():
    """pkg/kubelet/kuberuntime/security_context_windows.go verifyRunAsNonRoot:
    ContainerAdministrator is regarded as root (runAsUserName merged from the pod)."""
    assert fails(WINDOWS_ADMIN).path == "/spec/securityContext/windowsOptions/runAsUserName"
    passes("kubelet/runAsNonRootWindowsAdmin", tpl(
        ctr(runAsNonRoot=True, windowsOptions={"runAsUserName": "ContainerUser"}), os={"name": "windows"},
        securityContext={"windowsOptions": {"runAsUserName": "ContainerAdministrator"}}))


WINDOWS_IMAGE_USER = failing("kubelet/runAsNonRootWindowsImageUser", tpl(securityContext={"runAsNonRoot": True}),
                             node=NodeFeatures(windows=True))


def test_kubelet_run_as_non_root_windows_image_user():
    """security_context_windows.go verifyRunAsNonRoot: without runAsUserName the image
    user decides (servercore/IIS: ContainerAdministrator)."""
    fails(WINDOWS_IMAGE_USER, severity="warning")
    passes("kubelet/runAsNonRootWindowsImageUser", WINDOWS_IMAGE_USER.template)  # Linux-only node
    passes("kubelet/runAsNonRootWindowsImageUser", tpl(ctr(windowsOptions={"runAsUserName": "ContainerUser"}),
                                                       securityContext={"runAsNonRoot": True}),
           node=NodeFeatures(windows=True))


# --------------------------------------------------------------------------- runtime/...

NON_ROOT_CAPS = failing("runtime/capabilitiesNonRoot", tpl(
    ctr(runAsUser=1000, allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"], "add": ["SYS_TIME"]})))


def test_runtime_capabilities_non_root():
    """pkg/kubelet/kuberuntime/security_context.go convertToRuntimeCapabilities: add/drop
    only, no ambient set (kubernetes/kubernetes#56374); no_new_privs turns file
    capabilities off."""
    assert "SYS_TIME" in fails(NON_ROOT_CAPS).message
    rule = "runtime/capabilitiesNonRoot"
    maybe = found(tpl(ctr(capabilities={"add": ["NET_RAW"]}), securityContext={"runAsNonRoot": True}), rule=rule)
    assert [f.severity for f in maybe] == ["warning"]  # a binary with file capabilities could use it
    passes(rule, tpl(ctr(runAsUser=1000, capabilities={"add": ["NET_BIND_SERVICE"]})))
    passes(rule, tpl(ctr(runAsUser=0, capabilities={"add": ["SYS_TIME"]}), securityContext={"runAsNonRoot": True}))


LOW_PORT_NON_ROOT = failing("runtime/privilegedPortNonRoot", tpl(
    ctr(ports=[80], allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
    securityContext={"runAsNonRoot": True, "runAsUser": 1000}))
LOW_PORT_HOST_NETWORK = failing("runtime/privilegedPortNonRoot", tpl(
    ctr(ports=[443], runAsUser=1000, allowPrivilegeEscalation=False), hostNetwork=True,
    securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}))


def test_runtime_privileged_port_non_root():
    """convertToRuntimeCapabilities (no ambient set): NET_BIND_SERVICE does not reach a
    non-root process; only net.ipv4.ip_unprivileged_port_start helps, never with hostNetwork."""
    assert fails(LOW_PORT_NON_ROOT).path == "/spec/containers/0/ports/0/containerPort"
    assert "hostNetwork" in fails(LOW_PORT_HOST_NETWORK).message
    rule = "runtime/privilegedPortNonRoot"
    maybe = found(tpl(ctr(ports=[80]), securityContext={"runAsUser": 1000}), rule=rule)
    assert [f.severity for f in maybe] == ["warning"]  # file capabilities still possible
    above = tpl(ctr(ports=[80], runAsUser=1000),
                securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "1024"}]})
    assert found(above, rule=rule)
    for start in ("0", "80"):
        passes(rule, tpl(ctr(ports=[80], runAsUser=1000), securityContext={
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": start}]}))
    passes(rule, tpl(ctr(ports=[8080], runAsUser=1000)))
    passes(rule, tpl(ctr(ports=[80], runAsUser=0)))


CHOWN_JOB = failing("runtime/rootWithoutChown", tpl(init=[ctr(
    "fix-perms", command=["sh", "-c", "mkdir -p /data && /bin/chown -R 1000:1000 /data"], runAsUser=0,
    capabilities={"drop": ["ALL"]})]))


def test_runtime_root_without_chown():
    """convertToRuntimeCapabilities passes drop ALL through: root keeps uid 0 but loses
    CHOWN, DAC_OVERRIDE and FOWNER (root without CHOWN for a chown job)."""
    hit = fails(CHOWN_JOB)
    assert (hit.container, hit.path) == ("fix-perms", "/spec/initContainers/0/securityContext/capabilities/drop")
    assert "CHOWN, DAC_OVERRIDE, FOWNER" in hit.message
    rule = "runtime/rootWithoutChown"
    passes(rule, tpl(init=[ctr("fix-perms", command=["chown", "-R", "1000", "/data"], runAsUser=0,
                               capabilities={"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]})]))
    passes(rule, tpl(init=[ctr("fix-perms", command=["echo", "chowning-is-done"], runAsUser=0,
                               capabilities={"drop": ["ALL"]})]))
    passes(rule, tpl(init=[ctr("fix-perms", command=["chown", "1000", "/d"], runAsUser=1000,
                               capabilities={"drop": ["ALL"]})]))


CAP_PREFIX_ADD = failing("runtime/capabilitySpelling", tpl(ctr(capabilities={"add": ["CAP_NET_ADMIN"]})))
LOWER_ALL_DROP = failing("runtime/capabilitySpelling", tpl(ctr(capabilities={"drop": ["all"]})))


def test_runtime_capability_spelling():
    """containerd internal/cri/opts/spec_opts.go WithCapabilities prefixes CAP_ again;
    PSA (check_capabilities_restricted.go) and PSP (capabilities/mustrunas.go) compare exact
    names. Error in add, warning in drop."""
    assert "CAP_CAP_NET_ADMIN" in fails(CAP_PREFIX_ADD).message
    assert fails(LOWER_ALL_DROP, severity="warning").path == "/spec/containers/0/securityContext/capabilities/drop/0"
    passes("runtime/capabilitySpelling", tpl(ctr(capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]})))


# --------------------------------------------------------------------------- the registry


def test_rules_cover_every_emitted_rule():
    """RULES (SARIF help) is complete: every failing case emits its rule, the failing cases
    together emit every rule, and nothing is emitted outside RULES."""
    emitted = set()
    for case in FAILING:
        got = {f.rule for f in check(case.template, case.kube, case.node)}
        assert case.rule in got, case
        emitted |= got
    assert emitted <= set(RULES)
    # api/malformed is hardener.kube.shape's, reported by the audit (tests/test_malformed.py)
    assert set(RULES) - {"api/malformed"} == {c.rule for c in FAILING}
    assert all(title and description for title, description in RULES.values())


def test_findings_carry_source_and_template_pointers():
    """Each finding names the upstream "file: function" and points into the template."""
    for case in FAILING:
        for f in check(case.template, case.kube, case.node):
            assert ": " in f.source and f.severity in ("error", "warning")
            assert f.path.startswith(("/spec/", "/metadata/annotations/")), f


# --------------------------------------------------------------------------- version boundaries


def test_host_network_sysctl_api_from_1_29_kubelet_before():
    """ValidateHostSysctl arrived in 1.29 (#118705); before, only the kubelet's
    allowlist.go validateSysctl refuses the pod."""
    assert ids(HOST_NETWORK_SYSCTL.template, (1, 28)) >= {"kubelet/hostNamespaceSysctl"}
    assert "api/hostNamespaceSysctl" not in ids(HOST_NETWORK_SYSCTL.template, (1, 28))
    assert "api/hostNamespaceSysctl" in ids(HOST_NETWORK_SYSCTL.template, (1, 29))
    assert "kubelet/hostNamespaceSysctl" not in ids(HOST_NETWORK_SYSCTL.template, (1, 29))


def test_apparmor_field_rules_from_1_30():
    """ValidateAppArmorProfileField and the annotation/field match need the 1.30 field; so
    does isRequired's field branch (before, only annotations count)."""
    for case in APPARMOR_FIELD_CASES + [APPARMOR_INHERITED_MISMATCH]:
        assert case.rule not in ids(case.template, (1, 29), case.node)
        assert case.rule in ids(case.template, (1, 30), case.node)
    assert "kubelet/appArmorUnavailable" not in ids(APPARMOR_FIELD_NO_NODE.template, (1, 29))


def test_apparmor_failed_from_1_31_pending_before():
    """kubelet.go NewMainKubelet: soft admission (Pending/Blocked) up to 1.30, hard
    rejection (Failed) from 1.31 (#125776)."""
    [at_1_30] = found(APPARMOR_FIELD_NO_NODE.template, (1, 30), rule="kubelet/appArmorUnavailable")
    [at_1_31] = found(APPARMOR_FIELD_NO_NODE.template, (1, 31), rule="kubelet/appArmorUnavailable")
    assert "Pending" in at_1_30.message and "Blocked" in at_1_30.message and "Failed" not in at_1_30.message
    assert "Failed" in at_1_31.message and "Pending" not in at_1_31.message


def test_pod_os_rules_from_1_24():
    """validateWindows / validateLinux run only with spec.os (IdentifyPodOS on from 1.24)."""
    assert "api/windowsLinuxField" not in ids(WINDOWS_WITH_LINUX_FIELDS.template, (1, 23))
    assert "api/windowsLinuxField" in ids(WINDOWS_WITH_LINUX_FIELDS.template, (1, 24))
    assert "api/linuxWindowsOptions" not in ids(LINUX_WITH_WINDOWS_OPTIONS.template, (1, 23))
    windows_apparmor = tpl(ctr(appArmorProfile={"type": "RuntimeDefault"}), os={"name": "windows"})
    assert not found(windows_apparmor, (1, 29), rule="api/windowsLinuxField")  # the field is 1.30's
    assert found(windows_apparmor, (1, 30), rule="api/windowsLinuxField")


def test_seccomp_field_rules_from_1_19_and_safe_sysctls_by_version():
    """The seccompProfile field exists from 1.19; ip_unprivileged_port_start is safe from
    1.22 (#103326), ping_group_range from 1.18."""
    assert "api/seccompField" not in ids(SECCOMP_FIELD_CASES[0].template, (1, 18))
    assert "api/seccompField" in ids(SECCOMP_FIELD_CASES[0].template, (1, 19))
    port = sysctls(("net.ipv4.ip_unprivileged_port_start", "0"))
    assert "kubelet/sysctlNotAllowlisted" in ids(port, (1, 21))
    assert "kubelet/sysctlNotAllowlisted" not in ids(port, (1, 22))
    ping = sysctls(("net.ipv4.ping_group_range", "0 1"))
    assert "kubelet/sysctlNotAllowlisted" in ids(ping, (1, 17))
    assert "kubelet/sysctlNotAllowlisted" not in ids(ping, (1, 18))


# --------------------------------------------------------------------------- robustness

LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
                 st.sampled_from(["Localhost", "RuntimeDefault", "Unconfined", "windows", "linux", "ALL", "all",
                                  "CAP_SYS_ADMIN", "NET_BIND_SERVICE", "unconfined", "runtime/default",
                                  "localhost/../x", "/abs", "net.ipv4.ip_unprivileged_port_start", "0", "80",
                                  "Unmasked", "ContainerAdministrator", "In", "chown -R 1 /d", "\ud800"]))
KEY = st.sampled_from([
    "metadata", "annotations", "spec", "securityContext", "containers", "initContainers", "ephemeralContainers",
    "name", "value", "seccompProfile", "appArmorProfile", "type", "localhostProfile", "capabilities", "add", "drop",
    "runAsUser", "runAsNonRoot", "runAsGroup", "sysctls", "hostNetwork", "hostIPC", "hostPID", "hostUsers",
    "procMount", "privileged", "allowPrivilegeEscalation", "windowsOptions", "runAsUserName", "ports",
    "containerPort", "command", "args", "os", "nodeSelector", "affinity", "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", "matchExpressions", "key", "operator",
    "values", "supplementalGroups", names.SECCOMP_POD, SC + "app", AA + "app", names.OS_LABEL])
GARBAGE = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY | st.text(max_size=4),
                                                                                         inner, max_size=6),
                       max_leaves=30)
CONTAINER = st.fixed_dictionaries({"name": st.sampled_from(["app", "", 3]) | LEAF, "securityContext": GARBAGE,
                                   "ports": GARBAGE, "command": GARBAGE})
SHAPED = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({"annotations": st.dictionaries(KEY | st.text(max_size=4), LEAF)}) | GARBAGE,
    "spec": st.fixed_dictionaries({"securityContext": GARBAGE, "containers": st.lists(CONTAINER, max_size=3) | GARBAGE,
                                   "initContainers": st.lists(CONTAINER, max_size=2), "os": GARBAGE,
                                   "hostNetwork": LEAF, "hostIPC": LEAF, "nodeSelector": GARBAGE,
                                   "affinity": GARBAGE}) | GARBAGE})
NODES = st.builds(NodeFeatures, st.booleans(), st.booleans(), st.booleans())
KUBES = st.tuples(st.just(1), st.integers(0, 40))


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(template=st.one_of(GARBAGE, SHAPED), kube=KUBES, node=NODES)
def test_check_never_raises_on_garbage(template, kube, node):
    """Typed-struct reading: any shape gives findings of known rules, never an exception."""
    for f in check(template, kube, node):
        assert f.rule in RULES and f.severity in ("error", "warning")
    node_os(template)


def test_check_handles_surrogates_and_bad_values():
    t = tpl(ctr(appArmorProfile={"type": "Localhost", "localhostProfile": "\ud800" * 1366}, ports=[{"x": 1}]),
            securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "²"}, "x", None]})
    assert "api/appArmorField" in ids(t, node=APPARMOR_NODE)  # 1366 * 3 bytes > 4095
    assert check(None, LATEST) == [] and check({"spec": []}, LATEST) == []


# --------------------------------------------------------------------------- nodes and kubelet facts


def test_node_os():
    """spec.os.name, the OS node selectors (either label), required node affinity (every
    term), then windowsOptions without Linux-only fields."""
    def term(*values):
        return {"matchExpressions": [{"key": names.BETA_OS_LABEL, "operator": "In", "values": list(values)}]}

    def affinity(*terms):
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}

    assert node_os({"os": {"name": "linux"}, "nodeSelector": {names.OS_LABEL: "windows"}}) == "linux"
    assert node_os({"nodeSelector": {names.BETA_OS_LABEL: "windows"}}) == "windows"
    assert node_os({"affinity": affinity(term("windows"), term("windows", "windows"))}) == "windows"
    assert node_os({"affinity": affinity(term("windows"), term("linux"))}) is None
    assert node_os({"affinity": affinity(term("windows", "linux"))}) is None
    assert node_os({"affinity": affinity(term("linux"))}) == "linux"
    wo = {"windowsOptions": {"runAsUserName": "ContainerUser"}}
    assert node_os({"containers": [{"securityContext": wo}]}) == "windows"
    assert node_os({"containers": [{"securityContext": {**wo, "privileged": False}}]}) is None
    assert node_os({"os": {"name": "Windows"}}) is None and node_os("garbage") is None
    assert list(linux_only_fields({"hostPID": False, "hostIPC": "yes", "shareProcessNamespace": False})) == [
        (None, "/spec/shareProcessNamespace")]


def test_kubelet_facts():
    """safe_sysctls.go (the PSP-era list and its later additions) and GetNamespace."""
    assert safe_sysctls((1, 24)) == frozenset(SAFE_SYSCTLS)
    assert safe_sysctls((1, 37)) == frozenset(SAFE_SYSCTLS)  # the PSP-era list, unchanged
    assert kubelet_allowlist((1, 26)) == dict.fromkeys(SAFE_SYSCTLS)
    assert kubelet_allowlist((1, 27))["net.ipv4.ip_local_reserved_ports"] == (3, 16)
    assert "net.ipv4.tcp_notsent_lowat" in kubelet_allowlist((1, 37))
    assert [sysctl_namespace(s) for s in ("net.core.somaxconn", "kernel.shm_rmid_forced", "fs.mqueue.msg_max",
                                          "kernel.pid_max")] == ["net", "ipc", "ipc", None]


# --------------------------------------------------------------------------- PodSecurityPolicy simulator
# A hand-made restricted policy (Kubernetes <= 1.24, pkg/security/podsecuritypolicy) and pods
# it must admit and refuse: every branch of psp_admission is shown to refuse something.

PSP = {
    "metadata": {"name": "restricted", "annotations": {
        SECCOMP_ALLOWED: "runtime/default", SECCOMP_DEFAULT: "runtime/default",
        APPARMOR_ALLOWED: "runtime/default", APPARMOR_DEFAULT: "runtime/default"}},
    "spec": {
        "privileged": False, "allowPrivilegeEscalation": False, "requiredDropCapabilities": ["ALL"],
        "allowedCapabilities": ["NET_BIND_SERVICE"],
        "volumes": ["configMap", "emptyDir", "secret", "persistentVolumeClaim", "hostPath", "csi", "flexVolume",
                    "cephFS"],
        "allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": True}, {"pathPrefix": "/data/"}],
        "allowedCSIDrivers": [{"name": "csi.example.com"}], "allowedFlexVolumes": [{"driver": "example/flex"}],
        "hostNetwork": False, "hostPID": False, "hostIPC": False, "hostPorts": [{"min": 8000, "max": 8080}],
        "runAsUser": {"rule": "MustRunAsNonRoot"},
        "runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
        "supplementalGroups": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 65535}]},
        "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 65535}]},
        "seLinux": {"rule": "RunAsAny"}, "readOnlyRootFilesystem": True,
        "forbiddenSysctls": ["kernel.*"], "allowedUnsafeSysctls": ["net.core.somaxconn"]}}
K124 = (1, 24)


def psp(annotations=None, **spec) -> dict:
    """PSP with `spec` keys replaced and `annotations` merged (a None value removes one)."""
    merged = {**PSP["metadata"]["annotations"], **(annotations or {})}
    return {"metadata": {"name": "variant", "annotations": {k: v for k, v in merged.items() if v is not None}},
            "spec": {**PSP["spec"], **spec}}


def refused(template, policy=PSP, kube=K124) -> str:
    reasons = admit(policy, template, kube)
    assert reasons, "admitted"
    return "\n".join(reasons)


def admitted(template, policy=PSP, kube=K124) -> None:
    assert admit(policy, template, kube) == []


def volume(**source) -> dict:
    return tpl(volumes=[{"name": "v", **source}])


def test_psp_bare_pod_is_mutated_then_admitted():
    """provider.go MutatePod / mutateContainer fill every unset field the policy requires:
    runAsNonRoot (MustRunAsNonRoot), MustRunAs groups, required drops, readOnlyRootFilesystem,
    allowPrivilegeEscalation false and the default seccomp / AppArmor annotations."""
    admitted(tpl())
    pod = mutate(PSP, tpl(), K124)
    sc = pod["spec"]["containers"][0]["securityContext"]
    assert sc == {"runAsGroup": 1, "runAsNonRoot": True, "capabilities": {"add": [], "drop": ["ALL"]},
                  "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
    assert pod["spec"]["securityContext"] == {"fsGroup": 1}  # MayRunAs supplementalGroups: no mutation
    assert pod["metadata"]["annotations"] == {names.SECCOMP_POD: "runtime/default", AA + "app": "runtime/default"}


def test_psp_privileged_host_namespaces_and_ports():
    """provider.go validateContainer (privileged, hasInvalidHostPort) and ValidatePod (host
    namespaces); SetDefaults_Pod makes a hostNetwork pod's containerPorts host ports."""
    assert "Privileged containers are not allowed" in refused(tpl(ctr(privileged=True)))
    for key, what in (("hostNetwork", "Host network"), ("hostPID", "Host PID"), ("hostIPC", "Host IPC")):
        assert f"{what} is not allowed to be used" in refused(tpl(**{key: True}))
    assert "Host port 9000 is not allowed" in refused(
        tpl({**ctr(), "ports": [{"containerPort": 80, "hostPort": 9000}]}))
    admitted(tpl({**ctr(), "ports": [{"containerPort": 80, "hostPort": 8080}]}))
    host_net = psp(hostNetwork=True)
    assert "Host port 9090" in refused(tpl(ctr(ports=[9090]), hostNetwork=True), host_net)
    admitted(tpl(ctr(ports=[8000]), hostNetwork=True), host_net)


def test_psp_volumes():
    """util.go GetVolumeFSType (pod `cephfs` is PSP `cephFS`), PSPAllowsFSType (`*`),
    provider.go allowsVolumeType with IsOnlyServiceAccountTokenSources."""
    assert "nfs volumes are not allowed" in refused(volume(nfs={"server": "s", "path": "/"}))
    admitted(volume(cephfs={"monitors": ["m"]}))
    assert "cephFS volumes are not allowed" in refused(volume(cephfs={"monitors": ["m"]}),
                                                       psp(volumes=["cephfs", "secret"]))
    admitted(volume(nfs={"server": "s", "path": "/"}), psp(volumes=["*"]))
    admitted(volume(image={"reference": "x"}))  # unknown in <= 1.24: defaulted to emptyDir
    token = {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    admitted(volume(projected=token), kube=(1, 21))
    assert "projected volumes are not allowed" in refused(volume(projected=token), kube=(1, 20))
    other = {"sources": token["sources"] + [{"configMap": {"name": "app-config"}}]}
    assert "projected volumes are not allowed" in refused(volume(projected=other), kube=(1, 21))


def host_path(path, read_only=None) -> dict:
    mount = {"name": "v", "mountPath": "/mnt"}
    if read_only is not None:
        mount["readOnly"] = read_only
    return tpl({**ctr(), "volumeMounts": [mount]}, volumes=[{"name": "v", "hostPath": {"path": path}}])


def test_psp_allowed_host_paths_csi_and_flex():
    """util.go AllowsHostVolumePath / hasPathPrefix (path segments, readOnly), provider.go
    validatePodVolumes (allowedCSIDrivers, allowedFlexVolumes)."""
    admitted(host_path("/var/log/app", read_only=True))
    assert "must be read-only" in refused(host_path("/var/log/app"))
    assert "is not allowed to be used" in refused(host_path("/var/logs", read_only=True))  # not a segment prefix
    admitted(host_path("/data/x"))
    admitted(host_path("/data"))  # path.Clean("/data/") == "/data"
    assert "is not allowed to be used" in refused(host_path("/etc"))
    assert "Inline CSI driver is not allowed" in refused(volume(csi={"driver": "other.example.com"}))
    admitted(volume(csi={"driver": "csi.example.com"}))
    assert "Flexvolume driver is not allowed" in refused(volume(flexVolume={"driver": "other/flex"}))
    admitted(volume(flexVolume={"driver": "example/flex"}))


def test_psp_capabilities():
    """capabilities/mustrunas.go: literal compares; a required drop is satisfied only by the
    literal name, so `all` gets `ALL` added by mutation."""
    assert "capability may not be added" in refused(tpl(ctr(capabilities={"add": ["NET_ADMIN"]})))
    assert "capability may not be added" in refused(tpl(ctr(capabilities={"add": ["CAP_NET_BIND_SERVICE"]})))
    admitted(tpl(ctr(capabilities={"add": ["NET_BIND_SERVICE"]})))
    admitted(tpl(ctr(capabilities={"add": ["NET_ADMIN"]})), psp(allowedCapabilities=["*"], requiredDropCapabilities=[]))
    pod = mutate(PSP, tpl(ctr(capabilities={"drop": ["all"]})), K124)
    assert pod["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL", "all"]
    defaults = mutate(psp(defaultAddCapabilities=["CHOWN", "KILL"]), tpl(ctr(capabilities={"drop": ["KILL"]})), K124)
    assert defaults["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["CHOWN"]


def test_psp_run_as_user():
    """user/nonroot.go (MustRunAsNonRoot), user/mustrunas.go (ranges, generated min),
    RunAsAny."""
    assert "running with the root UID is forbidden" in refused(tpl(ctr(runAsUser=0, runAsNonRoot=True)))
    assert "runAsNonRoot: Invalid value: false" in refused(tpl(ctr(runAsUser=1000, runAsNonRoot=False)))
    admitted(tpl(ctr(runAsUser=1000)))
    ranged = psp(runAsUser={"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]})
    assert "does not match required range" in refused(tpl(ctr(runAsUser=5)), ranged)
    admitted(tpl(), ranged)
    assert mutate(ranged, tpl(), K124)["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1000
    assert "runAsUser: Required value" in refused(tpl(), psp(runAsUser={"rule": "MustRunAs", "ranges": []}))
    admitted(tpl(ctr(runAsUser=0)), psp(runAsUser={"rule": "RunAsAny"}))


def test_psp_groups():
    """group/mustrunas.go, group/mayrunas.go and RunAsAny for runAsGroup, fsGroup and
    supplementalGroups."""
    assert "group 0 must be in the ranges" in refused(tpl(ctr(runAsGroup=0)))
    assert "group 0 must be in the ranges" in refused(tpl(securityContext={"supplementalGroups": [0]}))
    assert "group 0 must be in the ranges" in refused(tpl(securityContext={"fsGroup": 0}))
    assert "unable to validate empty groups" in refused(tpl(), psp(fsGroup={"rule": "MustRunAs", "ranges": []}))
    admitted(tpl(securityContext={"fsGroup": 0, "supplementalGroups": [0]}),
             psp(fsGroup={"rule": "RunAsAny"}, supplementalGroups={"rule": "RunAsAny"}))


def test_psp_read_only_root_escalation_and_proc_mount():
    """provider.go validateContainer: readOnlyRootFilesystem, allowPrivilegeEscalation and
    allowedProcMountTypes (default [Default])."""
    assert "ReadOnlyRootFilesystem must be set to true" in refused(tpl(ctr(readOnlyRootFilesystem=False)))
    assert "privilege escalation for containers is not allowed" in refused(tpl(ctr(allowPrivilegeEscalation=True)))
    default_true = mutate(psp(allowPrivilegeEscalation=True, defaultAllowPrivilegeEscalation=True), tpl(), K124)
    assert default_true["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is True
    assert "ProcMountType is not allowed" in refused(tpl(ctr(procMount="Unmasked")))
    admitted(tpl(ctr(procMount="Unmasked")), psp(allowedProcMountTypes=["Default", "Unmasked"]))


def test_psp_sysctls():
    """sysctl/mustmatchpatterns.go: forbidden first (`*` patterns), then the safe list of
    the version, then allowedUnsafeSysctls."""
    assert "sysctl 'kernel.shm_rmid_forced' is not allowed" in refused(sysctls(("kernel.shm_rmid_forced", "1")))
    admitted(sysctls(("net.ipv4.ping_group_range", "0 1")), kube=(1, 18))
    assert "unsafe sysctl" in refused(sysctls(("net.ipv4.ping_group_range", "0 1")), kube=(1, 17))
    admitted(sysctls(("net.core.somaxconn", "1024")))
    assert "unsafe sysctl 'net.ipv4.tcp_keepalive_time'" in refused(sysctls(("net.ipv4.tcp_keepalive_time", "1")))
    port = sysctls(("net.ipv4.ip_unprivileged_port_start", "0"))
    assert "unsafe sysctl" in refused(port, kube=(1, 21))
    admitted(port, kube=(1, 22))


def test_psp_seccomp():
    """seccomp/strategy.go: allowedProfileNames split on ',' without trimming, `*`, "seccomp
    may not be set", fields as annotation strings from 1.19, container over pod, and
    runtime/default == docker/default from 1.19.4 / 1.20 (#95985)."""
    assert "unconfined is not an allowed seccomp profile" in refused(tpl(annotations={names.SECCOMP_POD: "unconfined"}))
    field = tpl(ctr(seccompProfile={"type": "Unconfined"}))
    assert "unconfined is not an allowed seccomp profile" in refused(field, kube=(1, 19))
    admitted(field, kube=(1, 18))  # no field before 1.19: the default annotation applies
    container_over_pod = tpl(annotations={names.SECCOMP_POD: "runtime/default", SC + "app": "unconfined"})
    assert "spec.containers[0].securityContext.seccompProfile" in refused(container_over_pod)
    docker = tpl(annotations={names.SECCOMP_POD: "docker/default"})
    assert "docker/default is not an allowed" in refused(docker, kube=(1, 19))
    admitted(docker, kube=(1, 19, 4))
    admitted(docker, kube=(1, 20))
    spaced = psp({SECCOMP_ALLOWED: "localhost/a.json, docker/default"})
    assert "docker/default is not an allowed" in refused(docker, spaced, kube=(1, 18))
    admitted(tpl(annotations={names.SECCOMP_POD: "localhost/x"}), psp({SECCOMP_ALLOWED: "*"}))
    unset = psp({SECCOMP_ALLOWED: None, SECCOMP_DEFAULT: None})
    assert "seccomp may not be set" in refused(tpl(annotations={names.SECCOMP_POD: "runtime/default"}), unset)
    admitted(tpl(), unset)


def test_psp_apparmor():
    """apparmor/strategy.go: no allowed annotation is unrestricted; otherwise the container
    annotation must be listed, and set ("AppArmor profile must be set")."""
    assert "unconfined is not an allowed profile" in refused(tpl(annotations={AA + "app": "unconfined"}))
    admitted(tpl(annotations={AA + "app": "unconfined"}), psp({APPARMOR_ALLOWED: None}))
    assert "AppArmor profile must be set" in refused(tpl(), psp({APPARMOR_DEFAULT: None}))
