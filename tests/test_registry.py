"""The control registry and every table keyed by it: complete, and loud when they are not.

Adding a control touches its class (id, scope, docstring, options, pss_checks, example,
plan), the registry in hardener/controls/__init__.py, the profiles that apply it, and the
two policy tables below; each test here fails when one of them is forgotten.
"""

from __future__ import annotations

import pytest
import yaml

from hardener import pss
from hardener.controls import CONTROLS
from hardener.controls.base import Control
from hardener.profile import load_profile
from helpers import harden

OWN = ("id", "scope", "pss_checks", "example", "plan")

@pytest.mark.parametrize("cid", list(CONTROLS))
def test_every_control_declares_what_is_its_own(cid):
    cls = CONTROLS[cid]
    assert cls.id == cid and cls.__doc__ and cls.__doc__.strip()
    missing = [name for name in OWN if name not in vars(cls)]
    assert not missing, f"{cid} does not declare {missing}"
    assert cls.scope in ("pod", "container")
    assert cls.pss_checks <= set(pss.CHECKS), cls.pss_checks - set(pss.CHECKS)
    assert all(o.doc for o in cls.options.values()), "every option has a line of documentation"

@pytest.mark.parametrize("cid", list(CONTROLS))
def test_every_example_shows_the_control_at_work(cid, tmp_path):
    """The example, hardened by a profile of this control alone, changes or reports something."""
    cls = CONTROLS[cid]
    profile = tmp_path / "one.yaml"

    data = {"controls": {cid: dict(cls.example_options)}}
    if cls.requires:
        data["nodeFeatures"] = [cls.requires]
    profile.write_text(yaml.safe_dump(data))
    out = harden(cls.example, profile=str(profile))
    assert out.results and (out.results[0].changes or out.results[0].skipped), cid
    assert {c.control for c in out.results[0].changes} <= {cid}

def _everything():
    """The restricted profile with every control of the registry enabled."""
    prof = load_profile("restricted")
    prof.controls = {cid: {**cls.defaults(), **prof.controls.get(cid, {})} for cid, cls in CONTROLS.items()}
    return prof

def test_vap_table_covers_every_control_and_fails_loudly_without_one(monkeypatch):
    from hardener.kube.versions import LATEST
    from hardener.policy import vap
    from hardener.policy.envelope import Envelope

    env = Envelope.of(_everything(), LATEST)
    assert vap.cel_validations(env)  # complete: no AssertionError
    fake = type("Fake", (Control,), {"id": "fake", "scope": "pod", "__doc__": "x"})
    monkeypatch.setattr(vap, "CONTROLS", {**CONTROLS, "fake": fake})
    with pytest.raises(AssertionError, match="fake"):
        vap.cel_validations(env)

def test_envelope_rules_cover_every_control():
    from hardener.kube.versions import LATEST
    from hardener.policy.envelope import PSS_ONLY_RULES, Envelope, rules
    from hardener.policy.usage import Usage

    keys = {key.split(":")[0] for key, _, _ in rules(Usage(), Envelope.of(_everything(), LATEST))}
    assert keys == set(CONTROLS) | set(PSS_ONLY_RULES), keys ^ (set(CONTROLS) | set(PSS_ONLY_RULES))
