"""Every kind that carries a pod template is found; everything else passes through."""

from __future__ import annotations

import pytest

from helpers import harden, load_all

POD_SPEC = "spec:\n  containers:\n  - name: app\n    image: x\n"


def indent(text: str, n: int) -> str:
    return "".join(" " * n + line if line.strip() else line for line in text.splitlines(True))


TEMPLATE = "template:\n  metadata:\n    labels: {app: a}\n" + indent(POD_SPEC, 2)

KINDS = {
    "Pod": ("v1", POD_SPEC, "/spec"),
    "PodTemplate": ("v1", TEMPLATE, "/template/spec"),
    "ReplicationController": ("v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "Deployment": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "StatefulSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "DaemonSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "ReplicaSet": ("apps/v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "Job": ("batch/v1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
    "CronJob": ("batch/v1", "spec:\n  jobTemplate:\n    spec:\n" + indent(TEMPLATE, 6),
                "/spec/jobTemplate/spec/template/spec"),
    "Rollout": ("argoproj.io/v1alpha1", "spec:\n" + indent(TEMPLATE, 2), "/spec/template/spec"),
}


def get(obj, pointer):
    for part in pointer.strip("/").split("/"):
        obj = obj[part]
    return obj


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_is_hardened(kind):
    api, body, spec_ptr = KINDS[kind]
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: w\n{body}"
    out = harden(text)
    spec = get(load_all(out.output)[0], spec_ptr)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert out.results[0].changes[0].path.startswith(spec_ptr)


def test_cronjob_v1beta1_is_hardened():
    api, body, ptr = KINDS["CronJob"]
    out = harden(f"apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: c\n{body}")
    assert get(load_all(out.output)[0], ptr)["securityContext"]["runAsNonRoot"] is True


def test_list_items_are_hardened_and_other_items_kept():
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n  data: {a: b}\n"
            "- apiVersion: apps/v1\n  kind: DeploymentList\n  items:\n"
            "  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n    spec:\n"
            + indent(TEMPLATE, 6))
    out = harden(text)
    data = load_all(out.output)[0]
    assert data["items"][0] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                "data": {"a": "b"}}
    inner = data["items"][1]["items"][0]["spec"]["template"]["spec"]
    assert inner["securityContext"]["runAsNonRoot"] is True
    assert out.results[0].pointer == "/items/1/items/0"


def test_unknown_kinds_and_foreign_groups_pass_through_byte_for_byte():
    text = ("# a CRD that happens to be called Deployment\n"
            "apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: x}\n"
            "spec:\n" + indent(TEMPLATE, 2) +
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: 'v'  # comment\n")
    out = harden(text)
    assert out.output == text
    # never silent: the CRD's pod template is reported, and left as it is
    [r] = out.results
    assert not r.changes and r.templates == []
    assert [(s.kind, s.control) for s in r.skipped] == [("unknown-workload", "*")]
    assert "spec.template in Deployment example.com/v1" in r.skipped[0].reason


def test_rollout_only_in_its_own_group():
    api, body, _ = KINDS["Rollout"]
    text = f"apiVersion: other.io/v1\nkind: Rollout\nmetadata:\n  name: w\n{body}"
    assert harden(text).output == text


def test_custom_crd_from_profile(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("extends: restricted\nworkloads:\n"
                    "  - {kind: Workflow, apiVersion: acme.io/v1, podTemplate: /spec/podTemplate}\n")
    text = "apiVersion: acme.io/v1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  podTemplate:\n" + indent(POD_SPEC, 4)
    out = harden(text, str(prof))
    assert load_all(out.output)[0]["spec"]["podTemplate"]["spec"]["securityContext"]["runAsNonRoot"]


@pytest.mark.parametrize("body", [
    "spec: null\n",
    "spec:\n  template: null\n",
    "spec:\n  template:\n    spec:\n      containers: null\n",
    "spec:\n  template:\n    spec:\n      containers: [just-a-string, 42]\n",
])
def test_degenerate_templates_do_not_crash(body):
    text = f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\n{body}"
    out = harden(text)
    data = load_all(out.output)[0]
    assert data["kind"] == "Deployment"
    if "containers: [just" in body:
        assert data["spec"]["template"]["spec"]["containers"] == ["just-a-string", 42]
