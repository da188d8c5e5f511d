"""Never lose or disturb data: untouched documents byte-for-byte, changed ones keep every
field, key order, comments around them, block scalars and quoting; idempotence."""

from __future__ import annotations

from helpers import harden, leaves, load_all

DEPLOY = """\
---
# Source: chart/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    enabled: "on"
    version: "1.10"
    mode: "0755"
    flag: "yes"
spec:
  replicas: 2
  template:
    metadata:
      annotations:
        checksum/config: "0123"
    spec:
      containers:
        - name: app
          image: nginx:1.25
          args:
            - --config
            - |
              line one
              line two
          env:
            - name: EMPTY
              value: ""
            - name: NULLISH
              value: "null"
# trailing comment of the deployment
"""

CONFIGMAP = """\
---
# Source: chart/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg   # inline comment
data:
  'quoted': "double"
  script: |
    #!/bin/sh
    echo hi
"""


def test_untouched_documents_are_byte_identical():
    text = CONFIGMAP + DEPLOY + CONFIGMAP
    out = harden(text).output
    assert out.startswith(CONFIGMAP)
    assert out.endswith(CONFIGMAP)


def test_changed_document_keeps_values_types_order_and_comments():
    out = harden(DEPLOY).output
    before, after = load_all(DEPLOY)[0], load_all(out)[0]
    assert out.startswith("---\n# Source: chart/templates/deploy.yaml\n")
    assert "# trailing comment of the deployment" in out
    assert after["metadata"] == before["metadata"]  # "on", "1.10", "0755", "yes" stay strings
    assert list(after) == list(before) and list(after["spec"]) == list(before["spec"])
    c0 = after["spec"]["template"]["spec"]["containers"][0]
    assert c0["args"][1] == "line one\nline two\n"
    assert "|" in out  # the multi-line string is still a block scalar
    assert c0["env"] == [{"name": "EMPTY", "value": ""}, {"name": "NULLISH", "value": "null"}]
    assert "&id" not in out and "*id" not in out


def test_no_input_field_lost():

    out = harden(DEPLOY).output
    after = dict(leaves(load_all(out)[0]))
    for path, value in leaves(load_all(DEPLOY)[0]):
        assert after[path] == value, path


def test_idempotent():
    once = harden(CONFIGMAP + DEPLOY).output
    assert harden(once).output == once


def test_crlf_documents_stay_crlf():
    text = DEPLOY.replace("\n", "\r\n") + CONFIGMAP.replace("\n", "\r\n")
    out = harden(text).output
    assert "\n" not in out.replace("\r\n", "")
    assert out.endswith(CONFIGMAP.replace("\n", "\r\n"))


def test_anchors_and_merge_keys_are_resolved_without_anchors_in_output():
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web}
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels:
        <<: *labels
        tier: front
    spec:
      containers: [{name: app, image: x}]
"""
    out = harden(text).output
    data = load_all(out)[0]
    assert data["spec"]["template"]["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert data["spec"]["selector"]["matchLabels"] == {"app": "web"}
    assert "&" not in out and "*" not in out


def test_empty_and_comment_only_and_non_mapping_documents_pass_through():
    text = "# only a comment\n---\n---\n- a\n- b\n---\njust a scalar\n---\nfoo: bar\n"
    assert harden(text).output == text
    assert harden("").output == ""
    assert harden("# nothing\n").output == "# nothing\n"


def test_timestamps_stay_strings():
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  creationTimestamp: 2020-01-01T00:00:00Z\n"
            "spec:\n  containers: [{name: a, image: x}]\n")
    out = harden(text).output
    assert out != text  # the Pod was changed, so it was re-written
    assert "creationTimestamp: 2020-01-01T00:00:00Z\n" in out  # not re-formatted as a datetime


SHARED_ANCHOR = """\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: skipped
    annotations: {k8s-harden.io/skip: "true"}
  spec:
    template:
      spec:
        securityContext: &sc  # shared with the next one
          runAsUser: 0
        containers: [{name: a, image: x}]
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: hardened}
  spec:
    template:
      spec:
        securityContext: *sc
        containers: [{name: b, image: y}]
"""


def test_an_alias_never_carries_a_change_to_an_opted_out_workload():
    """The loader makes an alias the same object as its anchor: unshared before planning, the
    opted-out Deployment stays as it was although the other one, which aliases its
    securityContext, is hardened."""
    out = harden(SHARED_ANCHOR)
    skipped, hardened = load_all(out.output)[0]["items"]
    before = load_all(SHARED_ANCHOR)[0]["items"][0]
    assert skipped == before
    assert hardened["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert [r.name for r in out.results if r.changes] == ["hardened"]


def test_a_re_written_document_keeps_its_quotes_and_says_its_comments_are_gone():
    """The anchored node changes, so the document cannot be edited in place: it is re-written
    from its nodes (quotes and plain text of every unchanged value kept) and the report says
    the comments inside it were not kept."""
    out = harden(SHARED_ANCHOR)
    assert '{k8s-harden.io/skip: "true"}' in out.output  # flow style and double quotes kept
    assert "# shared with the next one" not in out.output
    warnings = [w.message for r in out.results for w in r.warnings if w.control == "fidelity"]
    assert warnings and "comments inside it were not kept" in warnings[0]


def test_an_anchor_away_from_the_change_is_kept_as_it_is():
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {app: web}  # kept\n"
            "  annotations: *l\nspec:\n  containers:\n  - name: a\n    image: x\n")
    out = harden(text)
    assert "  labels: &l {app: web}  # kept\n  annotations: *l\n" in out.output
    assert not [w for r in out.results for w in r.warnings if w.control == "fidelity"]


def test_a_value_written_anew_is_quoted_for_every_reader():
    """A new string value a YAML 1.1 or a YAML 1.2 reader would take for a number, a boolean,
    a timestamp or null is quoted (hardener.yamlio.dump.needs_quotes)."""
    from hardener.yamlio.dump import dump_data, needs_quotes

    for text in ("1e3", "0o17", "2024-01-01", "12:30:00", "on", "yes", "~", "null", ".inf", "0x1F", "true"):
        assert needs_quotes(text), text
        assert load_all(dump_data({"v": text}))[0]["v"] == text
        assert dump_data({"v": text}) != f"v: {text}\n", text
    for text in ("nginx", "1.2.3", "a:b", "RuntimeDefault", "v1"):
        assert not needs_quotes(text), text
