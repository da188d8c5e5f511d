"""Tests for hardener.pss, written from the published Pod Security Standards and the
upstream Pod Security Admission checks (check ids, versions, overrides)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardener.kube.versions import parse_policy_version as parse_version
from hardener.pss import LATEST, LEVELS, Violation, evaluate, meets


# --------------------------------------------------------------------------- helpers


def hardened_container(name="app", **extra_sc):
    sc = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    sc.update(extra_sc)
    return {"name": name, "image": "registry.example/app:1", "securityContext": sc}


def hardened_spec(**extra):
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [hardened_container()],
    }
    spec.update(extra)
    return spec


def ids(violations):
    return {v.check for v in violations}


def check(spec, level="restricted", version=LATEST, metadata=None):
    return ids(evaluate(metadata, spec, level, version))


def with_psc(spec, **fields):
    spec = copy.deepcopy(spec)
    spec.setdefault("securityContext", {}).update(fields)
    return spec


def with_csc(spec, index=0, field="containers", **fields):
    spec = copy.deepcopy(spec)
    spec[field][index].setdefault("securityContext", {}).update(fields)
    return spec


# --------------------------------------------------------------------------- API basics


def test_constants():
    assert LATEST == (1, 37)
    assert LEVELS == ("privileged", "baseline", "restricted")


def test_hardened_pod_passes_everywhere():
    for minor in range(0, LATEST[1] + 1):
        assert evaluate(None, hardened_spec(), "restricted", (1, minor)) == []
        assert evaluate({}, hardened_spec(), "baseline", (1, minor)) == []


def test_violation_is_a_frozen_record():
    """A plain frozen record (hardener/record.py: no dataclass machinery on the start path)."""
    v = evaluate(None, {"hostNetwork": True, "containers": []}, "baseline")[0]
    assert isinstance(v, Violation)
    with pytest.raises(AttributeError):
        v.check = "x"
    assert v == Violation(v.check, v.level, v.container, v.path, v.value, v.message, v.fix)
    assert (v.check, v.level, v.container, v.path, v.value) == (
        "hostNamespaces", "baseline", None, "/spec/hostNetwork", True)
    assert v.message and v.fix and "\n" not in v.fix


def test_privileged_level_allows_everything():
    spec = {"hostNetwork": True, "containers": [{"name": "a", "securityContext": {"privileged": True}}]}
    assert evaluate(None, spec, "privileged") == []


def test_unknown_level_raises():
    with pytest.raises(ValueError):
        evaluate(None, hardened_spec(), "strict")


@pytest.mark.parametrize("given_, expected", [
    ("1.25", (1, 25)), ("v1.25", (1, 25)), (" v1.0 ", (1, 0)), ("latest", LATEST),
    ("LATEST", LATEST), ((1, 25), (1, 25)), ([1, 23], (1, 23)), ("v1.40", (1, 40)),
])
def test_parse_version_ok(given_, expected):
    assert parse_version(given_) == expected


@pytest.mark.parametrize("bad", [
    "2.0", "v0.9", "1.25.1", "1", "abc", "", "v1.025", (2, 1), (1, -1), (1,), (1, "2"),
    (True, 1), None, 1.25, 125,
])
def test_parse_version_rejects(bad):
    with pytest.raises(ValueError, match="version"):
        parse_version(bad)


def test_evaluate_rejects_bad_version():
    with pytest.raises(ValueError):
        evaluate(None, hardened_spec(), "restricted", "v2.1")


def test_versions_newer_than_latest_evaluate_as_latest():
    spec = with_psc(hardened_spec(), sysctls=[{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}])
    assert check(spec, "baseline", "v1.99") == set()
    assert check(spec, "baseline", "latest") == set()
    assert evaluate(None, {"hostPID": True}, "baseline", (1, 99)) == evaluate(None, {"hostPID": True}, "baseline")


def test_result_order_baseline_ids_sorted_then_restricted_ids_sorted():
    spec = {
        "hostNetwork": True,
        "securityContext": {"sysctls": [{"name": "kernel.msgmax"}]},
        "volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}],
        "containers": [{"name": "a", "securityContext": {"privileged": True, "runAsUser": 0}}],
    }
    order = []
    for v in evaluate(None, spec, "restricted"):
        if v.check not in order:
            order.append(v.check)
    assert order == [
        "hostNamespaces", "privileged", "sysctls",
        "allowPrivilegeEscalation", "capabilities_restricted", "restrictedVolumes",
        "runAsNonRoot", "runAsUser", "seccompProfile_restricted",
    ]
    assert {v.level for v in evaluate(None, spec, "restricted") if v.check == "sysctls"} == {"baseline"}
    assert {v.level for v in evaluate(None, spec, "restricted") if v.check == "runAsUser"} == {"restricted"}


# --------------------------------------------------------------------------- baseline: hostNamespaces


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces(field):
    bad = hardened_spec(**{field: True})
    out = evaluate(None, bad, "baseline", "1.0")
    assert ids(out) == {"hostNamespaces"}
    assert out[0].path == f"/spec/{field}" and out[0].container is None
    assert check(bad, "restricted") == {"hostNamespaces"}
    assert check(hardened_spec(**{field: False})) == set()


# --------------------------------------------------------------------------- baseline: privileged


@pytest.mark.parametrize("field", ["containers", "initContainers", "ephemeralContainers"])
def test_privileged_all_container_kinds(field):
    spec = hardened_spec()
    if field != "containers":
        spec[field] = [hardened_container("x")]
    spec = with_csc(spec, 0, field, privileged=True)
    out = evaluate(None, spec, "baseline")
    assert ids(out) == {"privileged"}
    assert out[0].path == f"/spec/{field}/0/securityContext/privileged"
    assert check(with_csc(spec, 0, field, privileged=False), "restricted") == set()


# --------------------------------------------------------------------------- capabilities


def test_capabilities_baseline_add_list():
    ok = with_csc(hardened_spec(), capabilities={"add": ["CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"]})
    assert check(ok, "baseline") == set()
    bad = with_csc(hardened_spec(), capabilities={"add": ["NET_RAW", "CHOWN"], "drop": ["ALL"]})
    out = evaluate(None, bad, "baseline")
    assert ids(out) == {"capabilities_baseline"}
    assert [v.value for v in out] == ["NET_RAW"]
    assert out[0].path == "/spec/containers/0/securityContext/capabilities/add/0"
    # names are exact: the CAP_ prefix and lower case are not the default set
    assert check(with_csc(hardened_spec(), capabilities={"add": ["chown"]}), "baseline") == {"capabilities_baseline"}


def test_capabilities_restricted_requires_drop_all_and_only_net_bind_service():
    assert check(with_csc(hardened_spec(), capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})) == set()
    assert check(with_csc(hardened_spec(), capabilities=None)) == {"capabilities_restricted"}
    assert check(with_csc(hardened_spec(), capabilities={"drop": ["NET_RAW"]})) == {"capabilities_restricted"}
    assert check(with_csc(hardened_spec(), capabilities={"drop": ["all"]})) == {"capabilities_restricted"}
    # CHOWN is fine for baseline but not for restricted
    chown = with_csc(hardened_spec(), capabilities={"drop": ["ALL"], "add": ["CHOWN"]})
    assert check(chown, "baseline") == set()
    assert check(chown) == {"capabilities_restricted"}


def test_capabilities_restricted_overrides_baseline_from_1_22():
    spec = with_csc(hardened_spec(), capabilities={"add": ["NET_RAW"]})  # no drop ALL either
    assert check(spec, "restricted", "1.21") == {"capabilities_baseline"}
    assert check(spec, "restricted", "1.22") == {"capabilities_restricted"}
    missing_drop = with_csc(hardened_spec(), capabilities={})
    assert check(missing_drop, "restricted", "1.21") == set()  # no restricted capabilities check before 1.22
    assert check(missing_drop, "restricted", "1.22") == {"capabilities_restricted"}


# --------------------------------------------------------------------------- volumes


def test_host_path_volumes_baseline_and_restricted_override():
    spec = hardened_spec(volumes=[{"name": "h", "hostPath": {"path": "/var/run"}}])
    out = evaluate(None, spec, "baseline")
    assert ids(out) == {"hostPathVolumes"}
    assert out[0].path == "/spec/volumes/0/hostPath"
    out = evaluate(None, spec, "restricted")
    assert ids(out) == {"restrictedVolumes"}  # restrictedVolumes overrides hostPathVolumes
    assert out[0].path == "/spec/volumes/0/hostPath"


@pytest.mark.parametrize("source", [
    {"configMap": {"name": "c"}}, {"secret": {"secretName": "s"}}, {"emptyDir": {}},
    {"persistentVolumeClaim": {"claimName": "p"}}, {"projected": {"sources": []}},
    {"downwardAPI": {"items": []}}, {"csi": {"driver": "d"}}, {"ephemeral": {"volumeClaimTemplate": {}}},
    {"image": {"reference": "r"}}, {},
])
def test_restricted_volumes_allowed(source):
    spec = hardened_spec(volumes=[dict(name="v", **source)])
    assert check(spec, "restricted", "1.22") == set()
    assert check(spec) == set()


@pytest.mark.parametrize("kind", ["nfs", "gitRepo", "awsElasticBlockStore", "gcePersistentDisk", "iscsi",
                                  "rbd", "cephfs", "flexVolume", "azureFile", "cinder"])
def test_restricted_volumes_forbidden(kind):
    spec = hardened_spec(volumes=[{"name": "v", kind: {"x": "y"}}])
    assert check(spec, "baseline") == set()
    out = evaluate(None, spec, "restricted")
    assert ids(out) == {"restrictedVolumes"}
    assert out[0].path == f"/spec/volumes/0/{kind}"


# --------------------------------------------------------------------------- hostPorts


def test_host_ports():
    spec = copy.deepcopy(hardened_spec())
    spec["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}]
    out = evaluate(None, spec, "baseline")
    assert ids(out) == {"hostPorts"}
    assert out[0].path == "/spec/containers/0/ports/1/hostPort" and out[0].value == 8443
    spec["containers"][0]["ports"][1]["hostPort"] = 0
    assert check(spec) == set()


def test_host_network_ports_are_host_ports():
    """pkg/apis/core/v1/defaults.go SetDefaults_Pod (defaultHostNetworkPorts): with
    hostNetwork the API server sets each unset hostPort of containers and init containers
    to containerPort, and PSA judges the defaulted pod — found by the real 1.37 server
    (tests/server/test_server_vap.py) where this mirror had passed node-exporter's ports."""
    spec = copy.deepcopy(hardened_spec())
    spec["hostNetwork"] = True
    spec["containers"][0]["ports"] = [{"containerPort": 9100}]
    out = [v for v in evaluate(None, spec, "baseline") if v.check == "hostPorts"]
    assert [(v.path, v.value) for v in out] == [("/spec/containers/0/ports/0/containerPort", 9100)]
    spec["hostNetwork"] = False
    assert check(spec) == set()


# --------------------------------------------------------------------------- AppArmor


@pytest.mark.parametrize("value, ok", [
    ("runtime/default", True), ("localhost/my-profile", True), ("", True), ("unconfined", False),
])
def test_apparmor_annotation(value, ok):
    key = "container.apparmor.security.beta.kubernetes.io/app"
    out = evaluate({"annotations": {key: value}}, hardened_spec(), "baseline")
    if ok:
        assert out == []
    else:
        assert ids(out) == {"appArmorProfile"}
        assert out[0].path == "/metadata/annotations/container.apparmor.security.beta.kubernetes.io~1app"
        assert out[0].container == "app"


@pytest.mark.parametrize("where", ["pod", "container"])
def test_apparmor_field(where):
    def spec_with(t):
        prof = {"appArmorProfile": {"type": t}}
        return with_psc(hardened_spec(), **prof) if where == "pod" else with_csc(hardened_spec(), **prof)

    assert check(spec_with("RuntimeDefault")) == set()
    assert check(spec_with("Localhost")) == set()
    bad = spec_with("Unconfined")
    assert check(bad, "baseline") == {"appArmorProfile"}
    # upstream added the field check to the single 1.0 revision: it applies at old versions too
    assert check(bad, "baseline", "1.22") == {"appArmorProfile"}
    out = evaluate(None, bad, "baseline")
    assert out[0].path.endswith("/securityContext/appArmorProfile/type")
    assert out[0].container == (None if where == "pod" else "app")


# --------------------------------------------------------------------------- SELinux


def test_selinux_types_and_user_role():
    for t in ("container_t", "container_init_t", "container_kvm_t", ""):
        assert check(with_psc(hardened_spec(), seLinuxOptions={"type": t}), "baseline") == set()
    assert check(with_psc(hardened_spec(), seLinuxOptions={"level": "s0:c1,c2"}), "baseline") == set()
    bad = with_csc(hardened_spec(), seLinuxOptions={"type": "spc_t"})
    out = evaluate(None, bad, "restricted")
    assert ids(out) == {"seLinuxOptions"}
    assert out[0].path == "/spec/containers/0/securityContext/seLinuxOptions/type"
    assert check(with_psc(hardened_spec(), seLinuxOptions={"user": "system_u"}), "baseline") == {"seLinuxOptions"}
    assert check(with_csc(hardened_spec(), seLinuxOptions={"role": "sysadm_r"}), "baseline") == {"seLinuxOptions"}


def test_selinux_container_engine_t_from_1_31():
    spec = with_psc(hardened_spec(), seLinuxOptions={"type": "container_engine_t"})
    assert check(spec, "baseline", "1.30") == {"seLinuxOptions"}
    assert check(spec, "baseline", "1.31") == set()
    assert check(spec, "restricted", "latest") == set()


# --------------------------------------------------------------------------- procMount


def test_proc_mount_baseline():
    bad = with_csc(hardened_spec(), procMount="Unmasked")
    out = evaluate(None, bad, "baseline")
    assert ids(out) == {"procMount"}
    assert out[0].path == "/spec/containers/0/securityContext/procMount"
    assert check(with_csc(hardened_spec(), procMount="Default"), "restricted") == set()


def test_proc_mount_user_namespace_relaxation_and_restricted_override():
    bad = with_csc(hardened_spec(hostUsers=False), procMount="Unmasked")
    assert check(bad, "baseline", "1.34") == {"procMount"}
    assert check(bad, "baseline", "1.35") == set()  # baseline relaxed for hostUsers: false
    assert check(bad, "restricted", "1.34") == {"procMount"}
    assert check(bad, "restricted", "1.35") == {"procMount_restricted"}  # re-tightened, overrides procMount
    host_users = with_csc(hardened_spec(hostUsers=True), procMount="Unmasked")
    assert check(host_users, "baseline", "1.35") == {"procMount"}
    assert check(host_users, "restricted", "1.35") == {"procMount_restricted"}
    levels = {v.check: v.level for v in evaluate(None, host_users, "restricted", "1.35")}
    assert levels == {"procMount_restricted": "restricted"}


# --------------------------------------------------------------------------- seccomp


POD_ANN = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANN = "container.seccomp.security.alpha.kubernetes.io/app"


def test_seccomp_annotations_only_before_1_19():
    spec = hardened_spec()
    meta = {"annotations": {POD_ANN: "unconfined"}}
    out = evaluate(meta, spec, "baseline", "1.18")
    assert ids(out) == {"seccompProfile_baseline"}
    assert out[0].path == "/metadata/annotations/seccomp.security.alpha.kubernetes.io~1pod"
    assert check(spec, "baseline", "1.19", meta) == set()
    meta = {"annotations": {CONTAINER_ANN: "unconfined"}}
    out = evaluate(meta, spec, "baseline", "1.0")
    assert ids(out) == {"seccompProfile_baseline"} and out[0].container == "app"
    for ok in ("runtime/default", "docker/default", "localhost/prof.json"):
        assert check(spec, "baseline", "1.18", {"annotations": {POD_ANN: ok, CONTAINER_ANN: ok}}) == set()
    # an annotation for a container that does not exist is not looked at
    other = {"annotations": {"container.seccomp.security.alpha.kubernetes.io/ghost": "unconfined"}}
    assert check(spec, "baseline", "1.18", other) == set()


def test_seccomp_field_only_from_1_19():
    spec = with_csc(hardened_spec(), seccompProfile={"type": "Unconfined"})
    assert check(spec, "baseline", "1.18") == set()
    assert check(spec, "baseline", "1.19") == {"seccompProfile_baseline"}
    out = evaluate(None, spec, "restricted", "1.19")
    assert ids(out) == {"seccompProfile_restricted"}  # overrides seccompProfile_baseline
    assert out[0].value == "Unconfined" and out[0].container == "app"


def test_seccomp_restricted_required_from_1_19():
    spec = hardened_spec()
    del spec["securityContext"]["seccompProfile"]
    assert check(spec, "restricted", "1.18") == set()
    assert check(spec, "restricted", "1.19") == {"seccompProfile_restricted"}
    # before 1.19 restricted uses the baseline annotation check
    assert check(spec, "restricted", "1.18", {"annotations": {POD_ANN: "unconfined"}}) == {"seccompProfile_baseline"}
    # annotations do not satisfy the field requirement from 1.19
    assert check(spec, "restricted", "1.19", {"annotations": {POD_ANN: "runtime/default"}}) == {
        "seccompProfile_restricted"}


def test_seccomp_restricted_container_level_fallback():
    spec = hardened_spec()
    del spec["securityContext"]["seccompProfile"]
    spec["initContainers"] = [hardened_container("init", seccompProfile={"type": "Localhost", "localhostProfile": "p"})]
    spec = with_csc(spec, seccompProfile={"type": "RuntimeDefault"})
    assert check(spec) == set()
    spec["containers"].append(hardened_container("side"))
    out = evaluate(None, spec)
    assert ids(out) == {"seccompProfile_restricted"}
    assert [v.container for v in out] == ["side"]
    assert out[0].path == "/spec/containers/1/securityContext/seccompProfile/type"
    # container value overrides the pod value: Unconfined on one container fails even with a pod default
    bad = with_csc(hardened_spec(), seccompProfile={"type": "Unconfined"})
    assert check(bad) == {"seccompProfile_restricted"}
    assert check(with_psc(hardened_spec(), seccompProfile={"type": "Unconfined"})) == {"seccompProfile_restricted"}


# --------------------------------------------------------------------------- sysctls


@pytest.mark.parametrize("name, first", [
    ("kernel.shm_rmid_forced", (1, 0)),
    ("net.ipv4.ip_local_port_range", (1, 0)),
    ("net.ipv4.tcp_syncookies", (1, 0)),
    ("net.ipv4.ping_group_range", (1, 0)),
    ("net.ipv4.ip_unprivileged_port_start", (1, 0)),
    ("net.ipv4.ip_local_reserved_ports", (1, 27)),
    ("net.ipv4.tcp_keepalive_time", (1, 29)),
    ("net.ipv4.tcp_fin_timeout", (1, 29)),
    ("net.ipv4.tcp_keepalive_intvl", (1, 29)),
    ("net.ipv4.tcp_keepalive_probes", (1, 29)),
    ("net.ipv4.tcp_rmem", (1, 32)),
    ("net.ipv4.tcp_wmem", (1, 32)),
    ("net.ipv4.tcp_slow_start_after_idle", (1, 37)),
    ("net.ipv4.tcp_notsent_lowat", (1, 37)),
])
def test_sysctl_safe_set_by_version(name, first):
    spec = with_psc(hardened_spec(), sysctls=[{"name": name, "value": "1"}])
    assert check(spec, "baseline", first) == set()
    assert check(spec, "restricted", "latest") == set()
    if first > (1, 0):
        out = evaluate(None, spec, "baseline", (1, first[1] - 1))
        assert ids(out) == {"sysctls"}
        assert out[0].path == "/spec/securityContext/sysctls/0/name" and out[0].value == name


def test_unsafe_sysctl():
    spec = with_psc(hardened_spec(), sysctls=[{"name": "kernel.shm_rmid_forced", "value": "1"},
                                              {"name": "kernel.msgmax", "value": "65536"}])
    out = evaluate(None, spec, "baseline")
    assert ids(out) == {"sysctls"}
    assert [(v.path, v.value) for v in out] == [("/spec/securityContext/sysctls/1/name", "kernel.msgmax")]


# --------------------------------------------------------------------------- windowsHostProcess


def test_windows_host_process():
    pod = with_psc(hardened_spec(), windowsOptions={"hostProcess": True})
    out = evaluate(None, pod, "baseline")
    assert ids(out) == {"windowsHostProcess"}
    assert out[0].path == "/spec/securityContext/windowsOptions/hostProcess"
    ctr = with_csc(hardened_spec(), windowsOptions={"hostProcess": True})
    assert check(ctr, "baseline") == {"windowsHostProcess"}
    assert check(with_csc(hardened_spec(), windowsOptions={"hostProcess": False})) == set()


# --------------------------------------------------------------------------- probe / lifecycle host


def test_probe_and_lifecycle_host_from_1_34():
    spec = copy.deepcopy(hardened_spec())
    spec["containers"][0]["livenessProbe"] = {"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}
    assert check(spec, "baseline", "1.33") == set()
    out = evaluate(None, spec, "baseline", "1.34")
    assert ids(out) == {"hostProbesAndHostLifecycle"}
    assert out[0].path == "/spec/containers/0/livenessProbe/httpGet/host"
    assert out[0].value == "10.0.0.1"

    tcp = copy.deepcopy(hardened_spec())
    tcp["initContainers"] = [hardened_container("init")]
    tcp["initContainers"][0]["readinessProbe"] = {"tcpSocket": {"port": 80, "host": "metadata"}}
    assert check(tcp, "baseline") == {"hostProbesAndHostLifecycle"}

    hook = copy.deepcopy(hardened_spec())
    hook["containers"][0]["lifecycle"] = {"preStop": {"httpGet": {"port": 80, "host": "example.com"}}}
    out = evaluate(None, hook, "restricted")
    assert ids(out) == {"hostProbesAndHostLifecycle"}
    assert out[0].path == "/spec/containers/0/lifecycle/preStop/httpGet/host"

    empty = copy.deepcopy(hardened_spec())
    empty["containers"][0]["startupProbe"] = {"httpGet": {"port": 80, "host": ""}}
    assert check(empty) == set()


# --------------------------------------------------------------------------- allowPrivilegeEscalation


def test_allow_privilege_escalation():
    missing = copy.deepcopy(hardened_spec())
    del missing["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
    out = evaluate(None, missing)
    assert ids(out) == {"allowPrivilegeEscalation"}
    assert out[0].path == "/spec/containers/0/securityContext/allowPrivilegeEscalation" and out[0].value is None
    assert check(missing, "baseline") == set()
    assert check(with_csc(hardened_spec(), allowPrivilegeEscalation=True)) == {"allowPrivilegeEscalation"}
    # the check starts at policy 1.8 (the field was added in Kubernetes 1.8)
    assert check(missing, "restricted", "1.7") == set()
    assert check(missing, "restricted", "1.8") == {"allowPrivilegeEscalation"}


# --------------------------------------------------------------------------- runAsNonRoot


def test_run_as_non_root_pod_or_every_container():
    assert check(hardened_spec()) == set()
    no_pod = with_psc(hardened_spec(), runAsNonRoot=None)
    assert check(no_pod) == {"runAsNonRoot"}
    every = with_csc(no_pod, runAsNonRoot=True)
    assert check(every) == set()
    every["initContainers"] = [hardened_container("init")]
    out = evaluate(None, every)
    assert ids(out) == {"runAsNonRoot"}
    assert [(v.container, v.path, v.value) for v in out] == [
        ("init", "/spec/initContainers/0/securityContext/runAsNonRoot", None)]
    every["initContainers"][0]["securityContext"]["runAsNonRoot"] = True
    every["ephemeralContainers"] = [hardened_container("debug")]
    assert {v.container for v in evaluate(None, every)} == {"debug"}


def test_run_as_non_root_explicit_false():
    # container false overrides the pod's true
    bad = with_csc(hardened_spec(), runAsNonRoot=False)
    out = evaluate(None, bad)
    assert ids(out) == {"runAsNonRoot"}
    assert out[0].value is False and out[0].container == "app"
    # pod false fails even if every container sets true
    pod_false = with_csc(with_psc(hardened_spec(), runAsNonRoot=False), runAsNonRoot=True)
    out = evaluate(None, pod_false)
    assert [(v.check, v.container, v.path) for v in out] == [
        ("runAsNonRoot", None, "/spec/securityContext/runAsNonRoot")]
    assert check(bad, "baseline") == set()


# --------------------------------------------------------------------------- runAsUser


def test_run_as_user_zero_from_1_23():
    pod_root = with_psc(hardened_spec(), runAsUser=0)
    assert check(pod_root, "restricted", "1.22") == set()
    out = evaluate(None, pod_root, "restricted", "1.23")
    assert ids(out) == {"runAsUser"}
    assert out[0].path == "/spec/securityContext/runAsUser" and out[0].value == 0
    ctr_root = with_csc(hardened_spec(), runAsUser=0)
    assert check(ctr_root, "restricted", "1.23") == {"runAsUser"}
    assert check(ctr_root, "baseline") == set()
    assert check(with_csc(hardened_spec(), runAsUser=1000)) == set()
    assert check(with_psc(hardened_spec(), runAsUser=False)) == set()  # a bool is not the integer 0


# --------------------------------------------------------------------------- hostUsers relaxation


def test_host_users_false_relaxes_run_as_non_root_and_run_as_user_from_1_35():
    spec = with_csc(with_psc(hardened_spec(hostUsers=False), runAsNonRoot=None), runAsUser=0)
    assert check(spec, "restricted", "1.34") == {"runAsNonRoot", "runAsUser"}
    assert check(spec, "restricted", "1.35") == set()
    assert check(spec, "restricted", "latest") == set()
    explicit = with_csc(hardened_spec(hostUsers=False), runAsNonRoot=False)
    assert check(explicit, "restricted", "1.35") == set()
    host = dict(spec, hostUsers=True)
    assert check(host, "restricted", "1.35") == {"runAsNonRoot", "runAsUser"}
    as_string = dict(spec, hostUsers="false")  # wrong type: absent, no relaxation
    assert check(as_string, "restricted", "1.35") == {"runAsNonRoot", "runAsUser"}
    # capabilities are not relaxed for user-namespaced pods
    caps = with_csc(hardened_spec(hostUsers=False), capabilities={"add": ["SYS_ADMIN"], "drop": ["ALL"]})
    assert check(caps, "baseline", "latest") == {"capabilities_baseline"}


# --------------------------------------------------------------------------- Windows exemptions


def bare_windows_spec():
    return {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "win", "image": "mcr.example/iis"}]}


def test_windows_pods_exempt_from_linux_only_restricted_checks_from_1_25():
    spec = bare_windows_spec()
    assert check(spec, "restricted", "1.24") == {
        "allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}
    assert check(spec, "restricted", "1.25") == set()
    assert check(spec, "restricted", "latest") == set()
    linux = dict(spec, os={"name": "linux"})
    assert check(linux, "restricted", "1.25") == {
        "allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"}


def test_windows_pods_still_need_run_as_non_root_and_baseline():
    spec = with_psc(bare_windows_spec(), runAsNonRoot=None)
    assert check(spec, "restricted", "1.25") == {"runAsNonRoot"}
    hp = with_csc(bare_windows_spec(), windowsOptions={"hostProcess": True})
    assert check(hp, "restricted", "1.25") == {"windowsHostProcess"}


# --------------------------------------------------------------------------- meets()


def test_meets():
    assert meets(None, hardened_spec()) == "restricted"
    assert meets({}, hardened_spec(hostNetwork=True)) == "privileged"
    no_seccomp = hardened_spec()
    del no_seccomp["securityContext"]["seccompProfile"]
    assert meets(None, no_seccomp) == "baseline"
    assert ids(evaluate(None, no_seccomp)) == {"seccompProfile_restricted"}
    # version matters: the same pod met restricted before seccomp became required (1.19)
    assert meets(None, no_seccomp, "1.18") == "restricted"
    assert meets(None, {"containers": [{"name": "a"}]}) == "baseline"
    assert meets(None, None) == "restricted"  # no containers: nothing to violate


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("spec", [
    None, {}, "spec", [], {"containers": None}, {"containers": "x"}, {"containers": ["a", 3, None]},
    {"containers": [{"name": 5, "securityContext": "x"}]},
    {"containers": [{"securityContext": {"capabilities": "x", "seccompProfile": "x", "runAsNonRoot": "yes"}}]},
    {"securityContext": [], "volumes": {"a": 1}, "hostNetwork": "true", "os": "windows"},
    {"securityContext": {"sysctls": None, "seLinuxOptions": "x", "windowsOptions": []}},
    {"securityContext": {"sysctls": ["x", {"value": 1}]}},
    {"containers": [{"name": "a", "ports": "80", "livenessProbe": [], "lifecycle": {"preStop": "x"}}]},
    {"containers": [{"name": "a", "ports": [None, {"hostPort": "80"}], "securityContext": {
        "capabilities": {"add": [1, None], "drop": "ALL"}, "procMount": 1, "runAsUser": "0"}}]},
    {"volumes": [None, "x", {"name": "v", "hostPath": "/etc"}]},
])
def test_malformed_input_never_raises(spec):
    for level in LEVELS:
        for version in ("1.0", "1.18", "1.24", "1.35", "latest"):
            result = evaluate({"annotations": ["x"]}, spec, level, version)
            assert isinstance(result, list)
    assert meets("meta", spec) in LEVELS


def test_malformed_values_are_treated_as_absent():
    assert check({"hostNetwork": "true", "containers": []}, "baseline") == set()
    assert check({"volumes": [{"name": "v", "hostPath": "/etc"}]}) == set()
    spec = {"containers": [{"name": "a", "securityContext": {"privileged": "true", "runAsUser": "0"}}]}
    assert check(spec, "baseline") == set()
    # a container that is not an object is skipped; the others are still checked
    spec = {"containers": ["junk", {"name": "b", "securityContext": {"privileged": True}}]}
    out = evaluate(None, spec, "baseline")
    assert [(v.check, v.container, v.path) for v in out] == [
        ("privileged", "b", "/spec/containers/1/securityContext/privileged")]
    # a sysctl without a name has name "" upstream, which is not a safe sysctl
    assert check({"securityContext": {"sysctls": [{"value": "1"}]}}, "baseline") == {"sysctls"}
    # a seccompProfile object without a type has type "" upstream: forbidden
    assert check(with_psc(hardened_spec(), seccompProfile={}), "baseline") == {"seccompProfile_baseline"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 70000) | st.sampled_from(
        ["", "ALL", "Unconfined", "RuntimeDefault", "Unmasked", "windows", "x", "runtime/default"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "securityContext", "containers", "initContainers", "ephemeralContainers",
                         "capabilities", "add", "drop", "type", "seccompProfile", "hostPath", "volumes",
                         "sysctls", "ports", "hostPort", "os", "hostUsers", "runAsNonRoot", "runAsUser",
                         "procMount", "livenessProbe", "httpGet", "host", "lifecycle", "preStop",
                         "appArmorProfile", "seLinuxOptions", "windowsOptions", "hostProcess", "annotations"]),
        children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(meta=JSON, spec=JSON, level=st.sampled_from(LEVELS), minor=st.integers(0, 40))
def test_fuzz_never_raises(meta, spec, level, minor):
    out = evaluate(meta, spec, level, (1, minor))
    assert all(isinstance(v, Violation) and v.path.startswith(("/spec", "/metadata")) for v in out)
    assert meets(meta, spec, (1, minor)) in LEVELS


def test_upstream_override_quirks_are_mirrored():
    """Overrides replace a baseline check only in restricted, so pods that API validation
    would reject anyway can fail baseline yet pass restricted, as in upstream PSA."""
    win = dict(bare_windows_spec(), securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}})
    assert check(win, "baseline", "1.25") == {"seccompProfile_baseline"}
    assert check(win, "restricted", "1.25") == set()
    two_sources = hardened_spec(volumes=[{"name": "v", "configMap": {"name": "c"}, "hostPath": {"path": "/"}}])
    assert check(two_sources, "baseline") == {"hostPathVolumes"}
    assert check(two_sources, "restricted") == set()
    # meets() walks the levels in order, so such a pod is reported as privileged
    assert meets(None, win, "1.25") == "privileged"


def test_restricted_at_1_0_has_only_the_1_0_checks():
    bare = {"containers": [{"name": "a"}]}
    assert check(bare, "restricted", "1.0") == {"runAsNonRoot"}
    assert check(bare, "restricted", "1.8") == {"runAsNonRoot", "allowPrivilegeEscalation"}
    assert check(bare, "restricted", "1.19") == {"runAsNonRoot", "allowPrivilegeEscalation",
                                                 "seccompProfile_restricted"}
    assert check(bare, "restricted", "1.22") == {"runAsNonRoot", "allowPrivilegeEscalation",
                                                 "seccompProfile_restricted", "capabilities_restricted"}
    assert check(bare, "baseline", "1.0") == set()
