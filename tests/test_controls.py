"""Unit tests, one group per hardening control, including every known trap."""

from __future__ import annotations

import pytest

from hardener.errors import ConflictError
from helpers import dump, harden, load_all, pod


APPARMOR_NODES = "appArmor,unprivilegedPortSysctl"


def run_pod(spec, profile="restricted", kube=None, annotations=None, **options):
    out = harden(dump(pod(spec, annotations=annotations)), profile, kube, **options)
    data = load_all(out.output)[0]
    result = out.results[0] if out.results else None
    return data, result


def c(name="app", **extra):
    return {"name": name, "image": "example/app:1", **extra}


def skipped(result, control):
    return [s for s in result.skipped if s.control == control]


# ---------------------------------------------------------------- pod identity
def test_run_as_non_root_sets_numeric_user_and_group():
    data, res = run_pod({"containers": [c()]})
    sc = data["spec"]["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 1000 and sc["runAsGroup"] == 3000
    assert sc["fsGroup"] == 2000 and sc["fsGroupChangePolicy"] == "OnRootMismatch"


def test_explicit_non_root_uid_is_kept():
    data, _ = run_pod({"securityContext": {"runAsUser": 101}, "containers": [c()]})
    assert data["spec"]["securityContext"]["runAsUser"] == 101


def test_pod_uid_zero_is_kept_and_reported_and_no_run_as_non_root_added():
    data, res = run_pod({"securityContext": {"runAsUser": 0}, "containers": [c()]})
    sc = data["spec"]["securityContext"]
    assert sc["runAsUser"] == 0
    assert "runAsNonRoot" not in sc  # the kubelet would refuse to start the container
    assert skipped(res, "runAsUser") and skipped(res, "runAsNonRoot")


def test_container_uid_zero_gets_no_pod_level_identity_but_siblings_do():
    spec = {"containers": [c("root", securityContext={"runAsUser": 0}), c("app")]}
    data, res = run_pod(spec)
    pod_sc = data["spec"].get("securityContext", {})
    assert "runAsNonRoot" not in pod_sc and "runAsUser" not in pod_sc
    root, app = data["spec"]["containers"]
    assert root["securityContext"]["runAsUser"] == 0 and "runAsNonRoot" not in root["securityContext"]
    assert app["securityContext"]["runAsNonRoot"] is True and app["securityContext"]["runAsUser"] == 1000


def test_uid_zero_overridden_by_rule_override(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\nconflicts: override\n")
    data, res = run_pod({"securityContext": {"runAsUser": 0}, "containers": [c()]}, str(prof))
    assert data["spec"]["securityContext"]["runAsUser"] == 1000
    assert data["spec"]["securityContext"]["runAsNonRoot"] is True


def test_uid_zero_with_rule_fail_raises(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  runAsUser: {conflicts: fail}\n")
    with pytest.raises(ConflictError, match="runAsUser"):
        run_pod({"securityContext": {"runAsUser": 0}, "containers": [c()]}, str(prof))


def test_supplemental_groups_when_profile_lists_them(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  supplementalGroups: {groups: [4000]}\n")
    data, _ = run_pod({"containers": [c()]}, str(prof))
    assert data["spec"]["securityContext"]["supplementalGroups"] == [4000]


def test_fs_group_change_policy_not_before_1_20():
    data, _ = run_pod({"containers": [c()]}, kube="1.19")
    assert "fsGroupChangePolicy" not in data["spec"]["securityContext"]


# ---------------------------------------------------------------- privilege
def test_privileged_false_and_no_escalation_on_every_container_kind():
    spec = {"initContainers": [c("init")], "containers": [c("app")],
            "ephemeralContainers": [c("debug")]}
    data, _ = run_pod(spec)
    for list_name in ("initContainers", "containers", "ephemeralContainers"):
        sc = data["spec"][list_name][0]["securityContext"]
        assert sc["privileged"] is False
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]


def test_privileged_container_is_kept_and_escalation_skipped():
    data, res = run_pod({"containers": [c(securityContext={"privileged": True})]})
    sc = data["spec"]["containers"][0]["securityContext"]
    assert sc["privileged"] is True
    assert "allowPrivilegeEscalation" not in sc  # the API rejects it with privileged: true
    assert "capabilities" not in sc
    reasons = " ".join(s.reason for s in res.skipped)
    assert "privileged" in reasons
    assert "runAsNonRoot" not in data["spec"].get("securityContext", {})


def test_sys_admin_add_is_kept_escalation_set_and_warned():
    """validation.go ValidateSecurityContext rejects allowPrivilegeEscalation: false only next
    to privileged: true or the literal string CAP_SYS_ADMIN in add; `SYS_ADMIN` is accepted."""
    data, res = run_pod({"containers": [c(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}})]})
    sc = data["spec"]["containers"][0]["securityContext"]
    assert sc["capabilities"]["add"][0] == "SYS_ADMIN"
    assert sc["allowPrivilegeEscalation"] is False
    assert skipped(res, "capabilities") and not skipped(res, "allowPrivilegeEscalation")
    assert any("SYS_ADMIN" in w.message for w in res.warnings if w.control == "allowPrivilegeEscalation")


def test_literal_cap_sys_admin_blocks_escalation_false_when_left_as_written(tmp_path):
    """ValidateSecurityContext compares `CAP_SYS_ADMIN` literally: written so (and not respelled,
    here because the capabilities control is opted out) the API would reject the false."""
    ann = {"k8s-harden.io/skip-controls": "capabilities"}
    data, res = run_pod({"containers": [c(securityContext={"capabilities": {"add": ["CAP_SYS_ADMIN"]}})]},
                        annotations=ann)
    sc = data["spec"]["containers"][0]["securityContext"]
    assert "allowPrivilegeEscalation" not in sc
    assert skipped(res, "allowPrivilegeEscalation")[0].kind == "blocked"


def test_cap_prefixed_adds_are_respelled():
    """PSA check_capabilities_restricted.go compares `NET_BIND_SERVICE` exactly, and containerd's
    spec_opts.go prefixes CAP_ itself (CAP_CAP_NET_BIND_SERVICE is no capability)."""
    spec = {"containers": [c(securityContext={"capabilities": {"add": ["CAP_NET_BIND_SERVICE"]}},
                             ports=[{"containerPort": 80}])]}
    data, res = run_pod(spec)
    assert data["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    assert not skipped(res, "capabilities")
    assert not [w for w in res.warnings if w.control == "capabilities"]  # an allowed capability


def test_explicit_escalation_true_conflict_kept():
    data, res = run_pod({"containers": [c(securityContext={"allowPrivilegeEscalation": True})]})
    assert data["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is True
    assert skipped(res, "allowPrivilegeEscalation")


def test_privileged_override_then_escalation_applied(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  privileged: {conflicts: override}\n")
    data, _ = run_pod({"containers": [c(securityContext={"privileged": True})]}, str(prof))
    sc = data["spec"]["containers"][0]["securityContext"]
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False


# ---------------------------------------------------------------- capabilities and ports
def test_low_port_gets_net_bind_service_and_sysctl():
    data, res = run_pod({"containers": [c(ports=[{"containerPort": 8443}, {"containerPort": 443},
                                                  {"containerPort": 80, "protocol": "TCP"}])]})
    caps = data["spec"]["containers"][0]["securityContext"]["capabilities"]
    assert caps == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert data["spec"]["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}]


def test_high_port_gets_no_added_capability():
    data, _ = run_pod({"containers": [c(ports=[{"containerPort": 8080}])]})
    assert "add" not in data["spec"]["containers"][0]["securityContext"]["capabilities"]
    assert "sysctls" not in data["spec"]["securityContext"]


def test_low_port_with_host_network_keeps_the_container_root():
    """validation.go ValidateHostSysctl (1.29+) and the kubelet's sysctl allowlist (every
    version) refuse a net sysctl with hostNetwork, and NET_BIND_SERVICE never reaches a
    non-root process: a hostNetwork DNS server on port 53 must stay root to bind it."""
    data, res = run_pod({"hostNetwork": True, "containers": [c(ports=[{"containerPort": 53}])]})
    assert data["spec"]["hostNetwork"] is True  # host access is never removed
    pod_sc = data["spec"].get("securityContext", {})
    assert "sysctls" not in pod_sc and "runAsUser" not in pod_sc and "runAsNonRoot" not in pod_sc
    sc = data["spec"]["containers"][0]["securityContext"]
    assert "runAsUser" not in sc and "runAsNonRoot" not in sc
    assert "hostNetwork" in skipped(res, "runAsUser")[0].reason and skipped(res, "hostAccess")
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"NET_BIND_SERVICE", "CHOWN", "SETUID"} <= set(sc["capabilities"]["add"])


def test_port_sysctl_kept_when_already_set_and_skipped_before_1_22():
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
            "containers": [c(ports=[{"containerPort": 80}])]}
    data, _ = run_pod(spec)
    assert data["spec"]["securityContext"]["sysctls"] == spec["securityContext"]["sysctls"]
    data, res = run_pod({"containers": [c(ports=[{"containerPort": 80}])]}, kube="1.21")
    assert "sysctls" not in data["spec"].get("securityContext", {})
    assert "1.22" in skipped(res, "runAsUser")[0].reason  # so it stays root, and binds port 80


def test_lowercase_all_is_spelled_as_pss_expects():
    data, _ = run_pod({"containers": [c(securityContext={"capabilities": {"drop": ["all"]}})]})
    assert data["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_existing_drops_are_kept_and_all_appended():
    data, _ = run_pod({"containers": [c(securityContext={"capabilities": {"drop": ["NET_RAW"]}})]})
    assert data["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"] == ["NET_RAW", "ALL"]


def test_disallowed_add_removed_with_override(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  capabilities: {conflicts: override}\n")
    spec = {"containers": [c(securityContext={"capabilities": {"add": ["NET_RAW", "NET_BIND_SERVICE"]}})]}
    data, _ = run_pod(spec, str(prof))
    assert data["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["NET_BIND_SERVICE"]


# ---------------------------------------------------------------- seccomp / AppArmor / SELinux
def test_seccomp_field_from_1_19_annotation_before():
    data, _ = run_pod({"containers": [c()]}, kube="1.19")
    assert data["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    data, _ = run_pod({"containers": [c()]}, kube="1.18")
    assert "seccompProfile" not in data["spec"]["securityContext"]
    assert data["metadata"]["annotations"]["seccomp.security.alpha.kubernetes.io/pod"] == "runtime/default"


def test_seccomp_localhost_is_kept_and_unconfined_conflicts():
    local = {"type": "Localhost", "localhostProfile": "my.json"}
    data, _ = run_pod({"securityContext": {"seccompProfile": local}, "containers": [c()]})
    assert data["spec"]["securityContext"]["seccompProfile"] == local
    data, res = run_pod({"containers": [c(securityContext={"seccompProfile": {"type": "Unconfined"}})]})
    assert data["spec"]["containers"][0]["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
    assert skipped(res, "seccompProfile")


def test_apparmor_is_not_set_unless_the_nodes_have_it():
    """pkg/security/apparmor helpers.go isRequired / validate.go validateHost and the kubelet's
    AppArmor admit handler refuse any pod asking for a profile other than unconfined on a node
    without AppArmor (Pending before 1.31, Failed from 1.31): the default nodes have none."""
    out = harden(dump(pod({"containers": [c("a")]})), kube="1.30")
    data = load_all(out.output)[0]
    assert "appArmorProfile" not in data["spec"]["securityContext"]
    assert not data["metadata"].get("annotations")
    assert "appArmor" in out.inactive and "--node-features appArmor" in out.inactive["appArmor"]


def test_apparmor_field_from_1_30_annotations_before():
    data, _ = run_pod({"containers": [c("a"), c("b")]}, kube="1.30", node_features=APPARMOR_NODES)
    assert data["spec"]["securityContext"]["appArmorProfile"] == {"type": "RuntimeDefault"}
    data, _ = run_pod({"containers": [c("a"), c("b")]}, kube="1.29", node_features=APPARMOR_NODES)
    ann = data["metadata"]["annotations"]
    assert ann["container.apparmor.security.beta.kubernetes.io/a"] == "runtime/default"
    assert ann["container.apparmor.security.beta.kubernetes.io/b"] == "runtime/default"
    assert "appArmorProfile" not in data["spec"]["securityContext"]


def test_apparmor_unconfined_annotation_conflict_kept():
    ann = {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}
    data, res = run_pod({"containers": [c("a")]}, kube="1.29", annotations=ann,
                        node_features=APPARMOR_NODES)
    assert data["metadata"]["annotations"] == ann
    assert skipped(res, "appArmor")


def test_selinux_options_when_profile_sets_them(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\ncontrols:\n  seLinux: {options: {type: container_t, level: 's0:c1,c2'}}\n")
    data, _ = run_pod({"containers": [c()]}, str(prof))
    assert data["spec"]["securityContext"]["seLinuxOptions"] == {"type": "container_t", "level": "s0:c1,c2"}
    data, _ = run_pod({"containers": [c()]})
    assert "seLinuxOptions" not in data["spec"]["securityContext"]


# ---------------------------------------------------------------- read-only root filesystem
def test_strict_read_only_root_with_writable_tmp():
    data, _ = run_pod({"containers": [c("a"), c("b")]}, "strict")
    for cont in data["spec"]["containers"]:
        assert cont["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "k8s-harden-tmp", "mountPath": "/tmp"} in cont["volumeMounts"]
    assert data["spec"]["volumes"] == [{"name": "k8s-harden-tmp", "emptyDir": {}}]


def test_existing_tmp_mount_is_not_duplicated():
    spec = {"volumes": [{"name": "scratch", "emptyDir": {}}],
            "containers": [c(volumeMounts=[{"name": "scratch", "mountPath": "/tmp/"}])]}
    data, _ = run_pod(spec, "strict")
    assert data["spec"]["containers"][0]["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp/"}]
    assert data["spec"]["volumes"] == [{"name": "scratch", "emptyDir": {}}]


def _ro_warnings(result):
    return [w for w in result.warnings if w.control == "readOnlyRootFilesystem"]


def test_strict_warns_where_a_known_image_writes_outside_its_volumes():
    """Issue #23 item 7: strict makes the root read-only on images that write elsewhere at
    start (hardener/images/writes.py cites each image's Dockerfile): warned, as for a uid
    change, naming the paths; a writable mount at the path or above it (not readOnly), a
    writablePath, an explicit readOnlyRootFilesystem: true or an image not listed says
    nothing. /var/run is /run (a symlink on these images)."""
    _, res = run_pod({"containers": [c("web", image="nginx:1.27"), c("db", image="postgres:17")]}, "strict")
    [web, db] = _ro_warnings(res)
    assert (web.container, web.image) == ("web", "nginx:1.27")
    assert web.message.startswith("image nginx:1.27 writes /var/cache/nginx (its temp files), /var/run "
                                  "(nginx.pid) at start: with a read-only root filesystem it is predicted to fail")
    assert "/var/run/postgresql (its unix socket and lock file)" in db.message
    mounts = [{"name": "v", "mountPath": "/var/cache/nginx"}, {"name": "r", "mountPath": "/run/"}]
    spec = {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "r", "emptyDir": {}}],
            "containers": [c("web", image="docker.io/library/nginx:1.27", volumeMounts=mounts)]}
    assert _ro_warnings(run_pod(spec, "strict")[1]) == []
    ro = [dict(mounts[0], readOnly=True), mounts[1]]
    spec["containers"][0]["volumeMounts"] = ro
    [only] = _ro_warnings(run_pod(spec, "strict")[1])
    assert "/var/cache/nginx" in only.message and "nginx.pid" not in only.message
    kept = c("web", image="nginx", securityContext={"readOnlyRootFilesystem": True})
    assert _ro_warnings(run_pod({"containers": [kept]}, "strict")[1]) == []
    assert _ro_warnings(run_pod({"containers": [c("app")]}, "strict")[1]) == []
    mirrored = run_pod({"containers": [c("web", image="public.ecr.aws/docker/library/httpd:2.4")]}, "strict")[1]
    assert "/usr/local/apache2/logs (httpd.pid)" in _ro_warnings(mirrored)[0].message
    assert _ro_warnings(run_pod({"containers": [c("web", image="nginx")]})[1]) == []  # restricted: no RO


def test_writable_paths_of_the_profile_cover_what_the_image_writes(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("name: p\nextends: strict\ncontrols:\n  readOnlyRootFilesystem:\n"
                    "    writablePaths: [/tmp, /var/run/postgresql]\n")
    data, res = run_pod({"containers": [c("db", image="postgres:17")]}, str(prof))
    assert _ro_warnings(res) == []
    assert {"name": "k8s-harden-var-run-postgresql", "mountPath": "/var/run/postgresql"} in \
        data["spec"]["containers"][0]["volumeMounts"]


def test_the_read_only_warning_reaches_the_cli_report():
    from helpers import invoke

    r = invoke("-p", "strict", "--emit", "none", "--report", "json",
               input=dump(pod({"containers": [c("db", image="mariadb:11")]})))
    assert r.exit_code == 0
    import json

    [w] = [w for res in json.loads(r.stderr)["resources"] for w in res["warnings"]
           if w["control"] == "readOnlyRootFilesystem"]
    assert w["image"] == "mariadb:11" and "/run/mysqld (its socket and lock files)" in w["message"]


def test_strict_fails_on_conflict_naming_the_resource():
    with pytest.raises(ConflictError, match=r"v1 Pod p: container 'app': privileged: true"):
        run_pod({"containers": [c(securityContext={"privileged": True})]}, "strict")


# ---------------------------------------------------------------- Windows, host access, opt-outs
def test_windows_pod_gets_no_linux_fields():
    """validation.go validateWindows forbids every Linux security field on a windows pod; the
    Windows kubelet refuses every sysctl (safe_sysctls.go: no allowlist off Linux)."""
    spec = {"os": {"name": "windows"}, "containers": [c(ports=[{"containerPort": 80}])]}
    out = harden(dump(pod(spec)))
    assert load_all(out.output)[0] == pod(spec)
    res = out.results[0]
    assert all(s.reason.startswith("Windows pod") for s in res.skipped
               if s.control not in ("hostAccess", "runAsNonRoot"))
    assert "ContainerAdministrator" in skipped(res, "runAsNonRoot")[0].reason


@pytest.mark.parametrize("targeting", [
    {"nodeSelector": {"kubernetes.io/os": "windows"}},
    {"nodeSelector": {"beta.kubernetes.io/os": "windows"}},
    {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}}},
    {"securityContext": {"windowsOptions": {"gmsaCredentialSpecName": "spec"}}},
])
def test_windows_is_recognised_however_targeted(targeting):
    out = harden(dump(pod({**targeting, "containers": [c()]})))
    assert not out.results[0].changes


def test_affinity_that_admits_linux_nodes_is_not_windows():
    terms = [{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]},
             {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms}}}, "containers": [c()]}
    assert harden(dump(pod(spec))).results[0].changes


def test_windows_run_as_non_root_for_a_named_non_admin_user():
    """security_context_windows.go verifyRunAsNonRoot fails only ContainerAdministrator."""
    spec = {"os": {"name": "windows"}, "containers": [
        c("app", securityContext={"windowsOptions": {"runAsUserName": "ContainerUser"}}),
        c("iis", securityContext={"windowsOptions": {"runAsUserName": "ContainerAdministrator"}})]}
    data, res = run_pod(spec)
    app, iis = data["spec"]["containers"]
    assert app["securityContext"]["runAsNonRoot"] is True
    assert "runAsNonRoot" not in iis["securityContext"]
    assert [s.container for s in skipped(res, "runAsNonRoot")] == ["iis"]


def test_host_access_is_never_removed():
    spec = {"hostNetwork": True, "hostPID": True,
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "containers": [c(ports=[{"containerPort": 9100, "hostPort": 9100}])]}
    data, res = run_pod(spec)
    assert data["spec"]["hostNetwork"] and data["spec"]["hostPID"]
    assert data["spec"]["volumes"] == spec["volumes"]
    assert data["spec"]["containers"][0]["ports"] == spec["containers"][0]["ports"]
    reasons = [s.reason for s in skipped(res, "hostAccess")]
    assert any("hostNetwork" in r for r in reasons) and any("hostPath" in r for r in reasons)
    assert any("hostPort 9100" in r for r in reasons)


def test_opt_out_whole_workload():
    out = harden(dump(pod({"containers": [c()]}, annotations={"k8s-harden.io/skip": "true"})))
    assert not out.results[0].changes
    assert out.results[0].skipped[0].control == "*"


def test_opt_out_named_containers_and_controls():
    ann = {"k8s-harden.io/skip-containers": "istio-proxy",
           "k8s-harden.io/skip-controls": "appArmor, fsGroup"}
    data, res = run_pod({"containers": [c("app"), c("istio-proxy")]}, annotations=ann,
                        node_features=APPARMOR_NODES)
    assert "securityContext" not in data["spec"]["containers"][1]
    assert "appArmorProfile" not in data["spec"].get("securityContext", {})
    assert "fsGroup" not in data["spec"].get("securityContext", {})
    assert {s.control for s in res.skipped} >= {"*", "appArmor", "fsGroup"}


@pytest.mark.parametrize("present", [True, False])
def test_opted_out_sidecar_keeps_its_effective_identity(present):
    """An opted-out container (present, or injected at admission as meshes do) inherits
    nothing new: identity and seccomp go on the other containers, not at pod level."""
    ann = {"k8s-harden.io/skip-containers": "istio-proxy"}
    containers = [c("app"), c("istio-proxy")] if present else [c("app")]
    data, res = run_pod({"containers": containers}, annotations=ann)
    pod_sc = data["spec"].get("securityContext", {})
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile"):
        assert key not in pod_sc, key
    app = data["spec"]["containers"][0]["securityContext"]
    assert app["runAsUser"] == 1000 and app["runAsNonRoot"] is True
    assert app["seccompProfile"] == {"type": "RuntimeDefault"}
    if present:
        assert "securityContext" not in data["spec"]["containers"][1]
        # pod-level-only settings would reach it too: left out, and said so
        assert "fsGroup" not in pod_sc and "sysctls" not in pod_sc
        assert skipped(res, "fsGroup")[0].kind == "opt-out"


def test_opt_out_unknown_control_is_an_error():
    from hardener.errors import InputError

    with pytest.raises(InputError, match="unknown control"):
        harden(dump(pod({"containers": [c()]}, annotations={"k8s-harden.io/skip-controls": "nope"})))


# ---------------------------------------------------------------- /proc masks, sysctls, SELinux
def rule_profile(tmp_path, rule="override", **controls):
    p = tmp_path / "p.yaml"
    body = "".join(f"  {k}: {v}\n" for k, v in controls.items())
    p.write_text(f"extends: restricted\nconflicts: {rule}\n" + (f"controls:\n{body}" if body else ""))
    return str(p)


def test_proc_mount_unmasked_is_kept_and_reported_or_overridden(tmp_path):
    """check_procMount.go: Default or unset; restricted refuses Unmasked from 1.35 even with
    hostUsers: false, baseline allows it there."""
    spec = {"hostUsers": False, "containers": [c(securityContext={"procMount": "Unmasked"})]}
    data, r = run_pod(spec)
    assert data["spec"]["containers"][0]["securityContext"]["procMount"] == "Unmasked"
    assert [(s.kind, s.check) for s in skipped(r, "procMount")] == [("conflict", "procMount_restricted")]
    data, r = run_pod(spec, rule_profile(tmp_path))
    assert data["spec"]["containers"][0]["securityContext"]["procMount"] == "Default"
    data, r = run_pod(spec, "baseline")
    assert not skipped(r, "procMount")
    data, r = run_pod(spec, "baseline", kube="1.34")  # before 1.35 baseline refuses it too
    assert [s.check for s in skipped(r, "procMount")] == ["procMount"]


def test_unsafe_sysctls_are_kept_and_reported_or_removed(tmp_path):
    """check_sysctls.go: only the safe set of the version; removed from the end under override."""
    sysctls = [{"name": "net.core.somaxconn", "value": "1024"},
               {"name": "kernel.shm_rmid_forced", "value": "1"},
               {"name": "kernel.msgmax", "value": "65536"}]
    spec = {"securityContext": {"sysctls": sysctls}, "containers": [c()]}
    data, r = run_pod(spec)
    assert data["spec"]["securityContext"]["sysctls"] == sysctls
    assert [s.setting for s in skipped(r, "sysctls")] == ["sysctl kernel.msgmax", "sysctl net.core.somaxconn"]
    out = harden(dump(pod(spec)), rule_profile(tmp_path))
    assert load_all(out.output)[0]["spec"]["securityContext"]["sysctls"] == [sysctls[1]]
    again = harden(out.output, rule_profile(tmp_path))
    assert again.output == out.output
    # net.ipv4.tcp_keepalive_time is safe from 1.29 (check_sysctls.go sysctlsV1Dot29)
    spec = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]},
            "containers": [c()]}
    assert skipped(run_pod(spec, kube="1.28")[1], "sysctls")
    assert not skipped(run_pod(spec, kube="1.29")[1], "sysctls")


def test_selinux_options_outside_pss_are_kept_or_overridden(tmp_path):
    """check_seLinuxOptions.go: allowed types, no user, no role (pod and containers)."""
    spec = {"securityContext": {"seLinuxOptions": {"user": "sysadm_u", "level": "s0:c1,c2"}},
            "containers": [c(securityContext={"seLinuxOptions": {"type": "spc_t"}})]}
    data, r = run_pod(spec)
    assert [(s.container, s.setting) for s in skipped(r, "seLinux")] == [
        (None, "seLinuxOptions.user: sysadm_u"), ("app", "seLinuxOptions.type: spc_t")]
    data, r = run_pod(spec, rule_profile(tmp_path))
    assert data["spec"]["securityContext"]["seLinuxOptions"] == {"level": "s0:c1,c2"}  # the MCS level stays
    assert data["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] == {}
    data, _ = run_pod(spec, rule_profile(tmp_path, seLinux="{options: {type: container_t}}"))
    assert data["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] == {"type": "container_t"}
    # container_engine_t is allowed from 1.31 only
    spec = {"containers": [c(securityContext={"seLinuxOptions": {"type": "container_engine_t"}})]}
    assert skipped(run_pod(spec, kube="1.30")[1], "seLinux")
    assert not skipped(run_pod(spec, kube="1.31")[1], "seLinux")


@pytest.mark.parametrize("options, message", [
    ("{type: spc_t}", "type 'spc_t' fails PSS check seLinuxOptions"),
    ("{type: container_t, role: system_r}", "role fails PSS check seLinuxOptions"),
])
def test_profile_selinux_options_must_pass_the_check_they_enforce(tmp_path, options, message):
    from helpers import invoke

    r = invoke("--profile", rule_profile(tmp_path, "keep", seLinux=f"{{options: {options}}}"),
               input=dump(pod({"containers": [c()]})))
    assert r.exit_code == 2 and r.stdout == "" and message in r.stderr


def test_root_add_back_is_no_conflict_on_the_second_run():
    """A root container (port 80 on hostNetwork) gets rootAdd back with drop ALL; under
    strict's `fail`, running again on that output must not call them a conflict: the second
    run gives the same bytes (and says the same of the capabilities)."""
    from helpers import cli

    text = dump(pod({"hostNetwork": True, "containers": [c(ports=[{"containerPort": 80}])]}))
    first = cli("--profile", "strict", "--report", "text", input=text)
    assert first.returncode == 0, first.stderr
    second = cli("--profile", "strict", "--report", "text", input=first.stdout)
    assert second.returncode == 0 and second.stdout == first.stdout, second.stderr
    def said(r):
        return [ln for ln in r.stderr.decode().splitlines() if ln.startswith("  skipped capabilities [app]")]

    assert said(first) and said(first) == said(second)
