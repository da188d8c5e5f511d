"""Every Pod Security Standards check is accounted for: after hardening, each check of the
profile's level a pod template still fails is named by a `skipped` entry (its PSS check id,
the field, why) — fixed by a control where that is safe, reported where fixing would change
what the workload does. Never silent.

The pods below mirror the upstream Pod Security Admission fail fixtures
(kubernetes/pod-security-admission test/testdata/restricted/v1.37/fail/*.yaml, one per
check_*.go) that the hardener cannot simply fix.
"""

from __future__ import annotations

import json

import pytest
import yaml

from hardener import pss
from hardener.harden import account, explains
from hardener.results import UNFIXED
from helpers import CORPUS_FILES, dump, harden, invoke, load_all, pod


def c(name="app", **extra):
    return {"name": name, "image": "example/app:1", **extra}


def sc(**fields):
    return c(securityContext=fields)


# name -> (pod spec, annotations, the checks it fails after hardening with restricted)
CASES = {
    # check_restrictedVolumes.go: restrictedvolumes*.yaml
    **{f"volume-{kind}": ({"containers": [c()], "volumes": [{"name": "v", kind: source}]}, None,
                          {"restrictedVolumes"})
       for kind, source in (("nfs", {"server": "nfs.example", "path": "/x"}),
                            ("iscsi", {"targetPortal": "1.2.3.4:3260", "iqn": "iqn.x", "lun": 0}),
                            ("awsElasticBlockStore", {"volumeID": "vol-1"}),
                            ("cephfs", {"monitors": ["m:6789"]}),
                            ("gcePersistentDisk", {"pdName": "pd"}),
                            ("rbd", {"monitors": ["m"], "image": "i"}),
                            ("glusterfs", {"endpoints": "e", "path": "p"}))},
    # check_hostProbesAndHostLifecycle.go (1.34): hostprobesandhostlifecycle*.yaml
    "probe-host": ({"containers": [c(livenessProbe={"httpGet": {"host": "bad.host", "port": 80}})]},
                   None, {"hostProbesAndHostLifecycle"}),
    "lifecycle-host": ({"containers": [c(lifecycle={"preStop": {"tcpSocket": {"host": "::1", "port": 9}}})]},
                       None, {"hostProbesAndHostLifecycle"}),
    # check_procMount.go: procmount*.yaml
    "procmount": ({"containers": [sc(procMount="Unmasked")]}, None, {"procMount_restricted"}),
    "procmount-userns": ({"hostUsers": False, "containers": [sc(procMount="Unmasked")]}, None,
                         {"procMount_restricted"}),
    # check_seLinuxOptions.go: selinuxoptions*.yaml
    "selinux-type": ({"containers": [sc(seLinuxOptions={"type": "spc_t"})]}, None, {"seLinuxOptions"}),
    "selinux-user": ({"securityContext": {"seLinuxOptions": {"user": "sysadm_u"}}, "containers": [c()]},
                     None, {"seLinuxOptions"}),
    "selinux-role": ({"containers": [c()], "initContainers": [sc(seLinuxOptions={"role": "r"})]},
                     None, {"seLinuxOptions"}),
    # check_sysctls.go: sysctls0.yaml
    "sysctl": ({"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1"}]},
                "containers": [c()]}, None, {"sysctls"}),
    # check_appArmorProfile.go: apparmorprofile*.yaml (the AppArmor control is off by default)
    "apparmor-annotation": ({"containers": [c()]},
                            {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"},
                            {"appArmorProfile"}),
    # host access, explicit settings kept by the rule `keep`
    "host-network": ({"hostNetwork": True, "containers": [c()]}, None, {"hostNamespaces"}),
    "host-path": ({"containers": [c()], "volumes": [{"name": "h", "hostPath": {"path": "/a"}}]}, None,
                  {"restrictedVolumes"}),
    "host-port": ({"containers": [c(ports=[{"containerPort": 8080, "hostPort": 8080}])]}, None,
                  {"hostPorts"}),
    "privileged": ({"containers": [sc(privileged=True)]}, None, None),
    "capability": ({"containers": [sc(capabilities={"add": ["NET_RAW"]})]}, None, None),
    "uid-0": ({"containers": [sc(runAsUser=0)]}, None, None),
    "non-root-false": ({"securityContext": {"runAsNonRoot": False}, "containers": [c()]}, None, None),
    "seccomp-unconfined": ({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
                            "containers": [c()]}, None, {"seccompProfile_restricted"}),
    "escalation": ({"containers": [sc(allowPrivilegeEscalation=True)]}, None, {"allowPrivilegeEscalation"}),
    "windows-host-process": ({"os": {"name": "windows"}, "hostNetwork": True,
                              "securityContext": {"windowsOptions": {"hostProcess": True}},
                              "containers": [c()]}, None, {"hostNamespaces", "windowsHostProcess", "runAsNonRoot"}),
}


def unexplained(results, level="restricted", kube=pss.LATEST):
    """Violations of the hardened templates that no skip of their own explains: the
    checker of this file (proved to fail below)."""
    out = []
    for r in results:
        for pt in r.templates:
            tpl = pt.template
            for v in pss.evaluate(tpl.get("metadata"), tpl.get("spec"), level, kube):
                if not any(explains(s, v) for s in r.template_skips.get(pt.pointer, [])):
                    out.append((r.ref, v.check, v.path))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_check_still_failing_is_reported_with_its_id(name):
    spec, annotations, expected = CASES[name]
    out = harden(dump(pod(spec, annotations=annotations)), assess=True)
    (r,) = out.results
    tpl = r.templates[0].template
    failing = {v.check for v in pss.evaluate(tpl.get("metadata"), tpl.get("spec"), "restricted")}
    assert failing, "the case must still fail after hardening"
    if expected is not None:
        assert failing == expected
    assert unexplained(out.results) == []
    assert failing <= {s.check for s in r.skipped}
    # the report's level agrees: below restricted, and said why
    assert r.extra["pss"]["after"] != "restricted" and r.skipped


def test_the_checker_fails_when_nothing_is_accounted(monkeypatch):
    import hardener.harden as h

    monkeypatch.setattr(h, "account", lambda *a, **k: None)
    spec, _, _ = CASES["volume-nfs"]
    out = harden(dump(pod(spec)))
    assert unexplained(out.results) == [("Pod p", "restrictedVolumes", "/spec/volumes/0/nfs")]


def test_restricted_volume_is_kept_and_named_in_text_and_json():
    spec, _, _ = CASES["volume-nfs"]
    r = invoke("--report", "json", input=dump(pod(spec)))
    assert r.exit_code == 0
    assert load_all(r.stdout)[0]["spec"]["volumes"] == spec["volumes"]  # never "fixed" by removal
    (res,) = json.loads(r.stderr)["resources"]
    (skip,) = [s for s in res["skipped"] if s["check"] == "restrictedVolumes"]
    assert skip["kind"] == "unfixable" and '"nfs"' in skip["reason"] and "/spec/volumes/0/nfs" in skip["reason"]
    text = invoke("--report", "text", input=dump(pod(spec))).stderr
    assert "skipped hostAccess (PSS restrictedVolumes): volume \"v\" uses restricted volume type \"nfs\"" in text


def test_each_volume_gets_its_own_entry():
    spec = {"containers": [c()], "volumes": [{"name": "a", "nfs": {"server": "s", "path": "/"}},
                                             {"name": "b", "iscsi": {"targetPortal": "t", "iqn": "i", "lun": 0}}]}
    (r,) = harden(dump(pod(spec))).results
    assert [s.reason.split(" at ")[0] for s in r.skipped if s.check == "restrictedVolumes"] == [
        'volume "a" uses restricted volume type "nfs"', 'volume "b" uses restricted volume type "iscsi"']


def test_opted_out_container_explains_its_own_failures_only():
    spec = {"containers": [c("mesh", securityContext={"runAsUser": 0}),
                           c("app", securityContext={"procMount": "Unmasked"})]}
    out = harden(dump(pod(spec, annotations={"k8s-harden.io/skip-containers": "mesh"})))
    (r,) = out.results
    assert unexplained(out.results) == []
    assert [s.check for s in r.skipped if s.container == "app"] == ["procMount_restricted"]


def test_baseline_profile_accounts_at_baseline():
    spec, _, _ = CASES["volume-nfs"]  # restricted forbids nfs, baseline does not
    (r,) = harden(dump(pod(spec)), profile="baseline").results
    assert not [s for s in r.skipped if s.check == "restrictedVolumes"]
    spec, _, _ = CASES["sysctl"]
    (r,) = harden(dump(pod(spec)), profile="baseline").results
    assert [s.check for s in r.skipped] == ["sysctls"]


def test_verify_passes_reported_exceptions_and_fails_on_a_gap(tmp_path):
    spec, _, _ = CASES["volume-nfs"]
    assert invoke("--verify", "--report", "none", input=dump(pod(spec))).exit_code == 0
    # AppArmor's control is off on nodes not declared to have it: reported as not applicable
    spec, annotations, _ = CASES["apparmor-annotation"]
    r = invoke("--verify", "--report", "json", input=dump(pod(spec, annotations=annotations)))
    assert r.exit_code == 0, r.stderr
    (skip,) = [s for s in json.loads(r.stderr)["resources"][0]["skipped"] if s["check"] == "appArmorProfile"]
    assert skip["kind"] == "not-applicable" and "control appArmor is off" in skip["reason"]
    # with the control on, the unconfined annotation is a kept conflict: reported, verified
    r = invoke("--verify", "--node-features", "appArmor", "--report", "text",
               input=dump(pod(spec, annotations=annotations)))
    assert r.exit_code == 0, r.stderr
    assert "(PSS appArmorProfile): kept: annotation" in r.stderr
    # a profile that claims restricted without a control for a check: a gap --verify fails on
    weak = tmp_path / "weak.yaml"
    weak.write_text("extends: restricted\ncontrols:\n  procMount: {enabled: false}\n")
    spec, _, _ = CASES["procmount"]
    r = invoke("--verify", "--profile", str(weak), "--report", "none", input=dump(pod(spec)))
    assert r.exit_code == 2 and r.stdout == "" and "check procMount_restricted" in r.stderr


def test_unfixed_names_the_missing_control(tmp_path):
    weak = tmp_path / "weak.yaml"
    weak.write_text("extends: restricted\ncontrols:\n  procMount: {enabled: false}\n")
    spec, _, _ = CASES["procmount"]
    (r,) = harden(dump(pod(spec)), profile=str(weak)).results
    (s,) = [s for s in r.skipped if s.check == "procMount_restricted"]
    assert s.kind == UNFIXED and "no control procMount" in s.reason


def test_account_adds_nothing_to_a_template_that_passes():
    out = harden(dump(pod({"containers": [c()]})))
    (r,) = out.results
    skips = list(r.skipped)
    account(r.templates[0], __import__("hardener.profile", fromlist=["x"]).load_profile("restricted"),
            pss.LATEST, r.skipped, 0)
    assert r.skipped == skips


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_no_corpus_template_fails_silently(path):
    out = harden(path.read_text(), source=str(path))
    assert unexplained(out.results) == []


def test_upstream_fixture_shape_round_trips():
    """The report's JSON is YAML-loadable and names the check for every skip it explains."""
    spec, _, _ = CASES["selinux-type"]
    r = invoke("--report", "json", input=dump(pod(spec)))
    res = yaml.safe_load(r.stderr)["resources"][0]
    assert [s["check"] for s in res["skipped"]] == ["seLinuxOptions"]


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_report_verify_and_audit_give_one_verdict(path):
    """The report's levels are what `audit` finds before and after; below the profile's
    level always comes with a skip that explains it; --verify agrees (nothing unexplained)."""
    from hardener.audit import audit_sources
    from hardener.harden import verify
    from hardener.inputs import Source
    from hardener.profile import load_profile

    text = path.read_text()
    out = harden(text, source=str(path), assess=True)
    before = {(r.document, r.pointer): r.meets for r in audit_sources([Source(str(path), text)]).resources}
    after = {(r.document, r.pointer): r.meets for r in audit_sources([Source("out", out.output)]).resources}
    for r in out.results:
        if "pss" not in r.extra:
            continue
        key = (r.document, r.pointer)
        assert (before[key], after[key]) == (r.extra["pss"]["before"], r.extra["pss"]["after"]), r.ref
        if r.extra["pss"]["after"] != "restricted":
            assert any(s.check for s in r.skipped), r.ref
    assert verify(out.results, load_profile("restricted"), pss.LATEST) == []
