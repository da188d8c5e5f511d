"""Profiles: built-ins load, `extends:` composes (maps merge, lists replace, base untouched),
and every mistake is an exact error with file and key path."""

from __future__ import annotations

import pytest

from hardener import controls
from hardener.errors import ProfileError
from hardener.profile import builtin_names, load_profile


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_builtins_load_and_fill_defaults():
    assert builtin_names() == ["baseline", "restricted", "strict"]
    r = load_profile("restricted")
    assert r.level == "restricted" and r.conflicts == "keep"
    assert r.controls["runAsUser"]["value"] == 1000 and r.controls["runAsGroup"]["value"] == 3000
    assert r.controls["runAsNonRoot"] == {"enabled": True, "conflicts": None}
    assert "readOnlyRootFilesystem" not in r.controls
    assert list(r.controls) == [c for c in controls.CONTROLS if c in r.controls]  # registry order


def test_extends_merges_maps_replaces_lists_and_does_not_mutate_base(tmp_path):
    base_before = load_profile("restricted").raw
    p = write(tmp_path, "mine.yaml",
              "extends: restricted\ncontrols:\n  capabilities:\n    drop: [ALL]\n    allowAdd: [NET_RAW]\n"
              "  runAsUser: {value: 2000}\n")
    mine = load_profile(p)
    assert mine.controls["capabilities"]["drop"] == ["ALL"]  # not [ALL, ALL]
    assert mine.controls["capabilities"]["allowAdd"] == ["NET_RAW"]  # replaced, not appended
    assert mine.controls["capabilities"]["netBindService"] is True  # merged from the base
    assert mine.controls["runAsUser"]["value"] == 2000
    assert load_profile("restricted").raw == base_before


def test_extends_relative_path_and_disable_control(tmp_path):
    write(tmp_path, "base.yaml", "extends: strict\ncontrols:\n  appArmor: {enabled: false}\n")
    p = write(tmp_path, "child.yaml", "extends: ./base.yaml\nname: child\n")
    prof = load_profile(p)
    assert prof.name == "child" and "appArmor" not in prof.controls
    assert "readOnlyRootFilesystem" in prof.controls


@pytest.mark.parametrize("text, key_path, fragment", [
    ("colour: red\n", "colour", "unknown key; allowed: name"),
    ("controls:\n  runAsRoot: {}\n", "controls.runAsRoot", "unknown control; known: hostAccess"),
    ("controls:\n  runAsUser: {valu: 1}\n", "controls.runAsUser.valu", "unknown option; allowed: enabled"),
    ("controls:\n  runAsUser: {value: root}\n", "controls.runAsUser.value", "must be an integer from 1"),
    ("controls:\n  runAsUser: {value: 0}\n", "controls.runAsUser.value", "must be an integer from 1"),
    ("controls:\n  seccompProfile: {type: Unconfined}\n", "controls.seccompProfile.type", "one of"),
    ("conflicts: ignore\n", "conflicts", "keep, override or fail"),
    ("controls:\n  privileged: {conflicts: maybe}\n", "controls.privileged.conflicts", "keep, override, fail"),
    ("controls:\n  capabilities: {drop: ALL}\n", "controls.capabilities.drop", "a list of capability names"),
    # PSA compares `ALL` literally: `all` would leave the pod at baseline under a restricted profile
    ("controls:\n  capabilities: {drop: [all]}\n", "controls.capabilities.drop", "upper case without CAP_"),
    ("controls:\n  capabilities: {allowAdd: [NET_FOO]}\n", "controls.capabilities.allowAdd", "not ['NET_FOO']"),
    ("controls:\n  capabilities: {allowAdd: [CAP_NET_RAW]}\n", "controls.capabilities.allowAdd", "without CAP_"),
    ("controls:\n  capabilities: {allowAdd: [ALL]}\n", "controls.capabilities.allowAdd", "capability names"),
    ("controls:\n  readOnlyRootFilesystem: {writablePaths: [tmp]}\n",
     "controls.readOnlyRootFilesystem.writablePaths", "absolute paths"),
    # validation.go validateSeccompProfileField -> validateLocalDescendingPath
    ("controls:\n  seccompProfile: {type: Localhost, localhostProfile: /etc/p.json}\n",
     "controls.seccompProfile.localhostProfile", "relative path"),
    ("controls:\n  seccompProfile: {type: Localhost, localhostProfile: a/../../p.json}\n",
     "controls.seccompProfile.localhostProfile", "without '..'"),
    # validation.go ValidateAppArmorProfileField
    ("controls:\n  appArmor: {type: Localhost, localhostProfile: ' k8s-apparmor'}\n",
     "controls.appArmor.localhostProfile", "no surrounding spaces"),
    ("controls:\n  appArmor: {type: Localhost, localhostProfile: ''}\n",
     "controls.appArmor.localhostProfile", "not empty"),
    ("emit: [psp, crd]\n", "emit", "auto, none or a list"),
    ("level: strict\n", "level", "baseline or restricted"),
    ("workloads:\n  - {kind: X, podTemplate: spec.template}\n", "workloads[0].podTemplate", "JSON pointer"),
    ("controls: [runAsUser]\n", "controls", "mapping of control id"),
])
def test_validation_errors_name_file_and_key(tmp_path, text, key_path, fragment):
    p = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ProfileError) as exc:
        load_profile(p)
    assert str(exc.value).startswith(f"{p}: {key_path}: ")
    assert fragment in str(exc.value)


def test_localhost_needs_a_profile_name(tmp_path):
    """validation.go validateSeccompProfileField / ValidateAppArmorProfileField: localhostProfile
    is required with type Localhost and refused with any other type."""
    p = write(tmp_path, "bad.yaml", "extends: restricted\ncontrols:\n  seccompProfile: {type: Localhost}\n")
    with pytest.raises(ProfileError, match="controls.seccompProfile: type Localhost needs localhostProfile"):
        load_profile(p)
    p = write(tmp_path, "bad2.yaml", "extends: restricted\ncontrols:\n  appArmor: {localhostProfile: x}\n")
    with pytest.raises(ProfileError, match="controls.appArmor: localhostProfile can only be set with type Localhost"):
        load_profile(p)
    good = write(tmp_path, "good.yaml", "extends: restricted\ncontrols:\n  seccompProfile: "
                 "{type: Localhost, localhostProfile: profiles/audit..json}\n")
    assert load_profile(good).controls["seccompProfile"]["localhostProfile"] == "profiles/audit..json"


def test_extends_cycle_missing_base_and_not_a_mapping(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: ./b.yaml\n")
    write(tmp_path, "b.yaml", "extends: ./a.yaml\n")
    with pytest.raises(ProfileError, match="extends cycle"):
        load_profile(a)
    with pytest.raises(ProfileError, match="no built-in profile 'nope'"):
        load_profile(write(tmp_path, "c.yaml", "extends: nope\n"))
    with pytest.raises(ProfileError, match="must be a YAML mapping"):
        load_profile(write(tmp_path, "d.yaml", "- a\n"))
    with pytest.raises(ProfileError, match="invalid YAML"):
        load_profile(write(tmp_path, "e.yaml", "controls: {\n"))
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile(str(tmp_path / "missing.yaml"))


def test_every_control_is_documented_with_defaults():
    for cid, cls in controls.CONTROLS.items():
        assert cls.__doc__ and len(cls.__doc__.strip()) > 40, cid
        assert cls.scope in ("pod", "container")
        for name, opt in cls.all_options().items():
            assert opt.check(opt.default) is None, (cid, name)
    with pytest.raises(KeyError, match="unknown control 'x'"):
        controls.get("x")


@pytest.mark.parametrize("name", builtin_names())
def test_profiles_show_prints_a_profile_that_loads_back_the_same(name, tmp_path):
    from helpers import invoke

    shown = invoke("profiles", "show", name)
    assert shown.exit_code == 0, shown.stderr
    path = tmp_path / "p.yaml"
    path.write_text(shown.stdout)
    again, original = load_profile(str(path)), load_profile(name)
    for attr in ("name", "description", "level", "conflicts", "emit", "node_features", "controls",
                 "listed", "workloads"):
        assert getattr(again, attr) == getattr(original, attr), attr


def test_an_extending_profile_keeps_its_base_workloads_and_has_its_own_name(tmp_path):
    """`workloads:` extends the base's table (lists replace everywhere else): a profile adding a
    CRD keeps the base's CRDs (an entry for the same kind and group replaces the base's); its
    name and description are its own. The built-in CRD table (Argo Rollouts, ...) is there
    whatever the profile lists."""
    write(tmp_path, "base.yaml", "extends: restricted\nworkloads:\n"
                 "  - {kind: Worker, apiVersion: acme.io/v1, podTemplate: /spec/template}\n"
                 "  - {kind: Runner, apiVersion: acme.io/v1, podTemplate: /spec/template}\n")
    p = write(tmp_path, "mine.yaml", "extends: base.yaml\nworkloads:\n"
              "  - {kind: Workflow, apiVersion: acme.io/v1, podTemplate: /spec/podTemplate}\n"
              "  - {kind: Runner, group: acme.io, podTemplates: [/spec/runners/*/template]}\n")
    mine = load_profile(p)
    assert {(w.kind, w.group, w.pod_templates) for w in mine.workloads} == {
        ("Worker", "acme.io", ("/spec/template",)), ("Workflow", "acme.io", ("/spec/podTemplate",)),
        ("Runner", "acme.io", ("/spec/runners/*/template",))}
    assert mine.name == "mine" and mine.description == "base with the changes in mine.yaml"
