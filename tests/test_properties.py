"""Property tests: on generated workloads the hardener is idempotent, loses no data, and
its output passes PSS restricted unless it reported an exception."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener import pss
from helpers import harden, leaves, load_all

names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
scalars = st.one_of(st.text(max_size=12), st.integers(-5, 70000), st.booleans(), st.none(),
                    st.sampled_from(["on", "yes", "0755", "1.10", "null", "", "a: b", "#x", "multi\nline\n"]))
extra = st.dictionaries(st.from_regex(r"x[a-zA-Z]{0,6}", fullmatch=True), scalars, max_size=3)

container_sc = st.fixed_dictionaries({}, optional={
    "privileged": st.booleans(),
    "allowPrivilegeEscalation": st.booleans(),
    "runAsUser": st.sampled_from([0, 1, 101, 65534]),
    "runAsNonRoot": st.booleans(),
    "readOnlyRootFilesystem": st.booleans(),
    "capabilities": st.fixed_dictionaries({}, optional={
        "drop": st.lists(st.sampled_from(["ALL", "all", "NET_RAW", "CHOWN"]), max_size=2, unique=True),
        "add": st.lists(st.sampled_from(["NET_BIND_SERVICE", "SYS_ADMIN", "NET_RAW"]), max_size=2, unique=True),
    }),
    "seccompProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
})


@st.composite
def containers(draw):
    c = {"name": draw(names), "image": draw(st.sampled_from(["nginx", "app:1", "r/x@sha256:00"]))}
    if draw(st.booleans()):
        c["ports"] = [{"containerPort": p} for p in draw(st.lists(st.sampled_from([53, 80, 443, 8080]),
                                                                   max_size=2, unique=True))]
    if draw(st.booleans()):
        c["securityContext"] = draw(container_sc)
    c.update(draw(extra))
    return c


@st.composite
def workloads(draw):
    cs = draw(st.lists(containers(), min_size=1, max_size=3, unique_by=lambda c: c["name"]))
    spec = {"containers": cs}
    if draw(st.booleans()):
        spec["initContainers"] = [dict(draw(containers()), name="init-" + draw(names))]
    if draw(st.booleans()):
        spec["securityContext"] = draw(st.fixed_dictionaries({}, optional={
            "runAsUser": st.sampled_from([0, 1000, 1234]), "runAsNonRoot": st.booleans(),
            "fsGroup": st.sampled_from([0, 10]), "seccompProfile": st.just({"type": "RuntimeDefault"})}))
    if draw(st.booleans()):
        spec["hostNetwork"] = draw(st.booleans())
    spec.update(draw(extra))
    kind = draw(st.sampled_from(["Pod", "Deployment", "Job"]))
    meta = {"name": draw(names), **draw(extra)}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": spec}
    api = "apps/v1" if kind == "Deployment" else "batch/v1"
    return {"apiVersion": api, "kind": kind, "metadata": meta,
            "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": spec}}}


style = st.sampled_from([{"default_flow_style": False}, {"default_flow_style": None},
                         {"default_flow_style": False, "indent": 4}])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(workloads(), min_size=1, max_size=3), style, st.sampled_from(["restricted", "strict-keep"]))
def test_idempotent_lossless_and_restricted(tmp_path_factory, docs, dump_style, profile):
    if profile == "strict-keep":
        path = tmp_path_factory.mktemp("p") / "p.yaml"
        path.write_text("extends: strict\nconflicts: keep\n")
        profile = str(path)
    text = yaml.safe_dump_all(docs, sort_keys=False, **dump_style)
    out = harden(text, profile)
    # idempotence: a second run changes nothing, byte for byte
    again = harden(out.output, profile)
    assert again.output == out.output
    assert not any(r.changes for r in again.results)
    # no data loss: every input leaf is still there with its value (the only rewrite the
    # profile makes under `keep` is spelling a dropped `all` as `ALL`)
    after_docs = load_all(out.output)
    for before, after in zip(docs, after_docs):
        new = dict(leaves(after))
        for path, value in leaves(before):
            if value == "all" and "/drop/" in path:
                assert new[path] in ("ALL", "all")
            else:
                assert path in new and new[path] == value, path
    # every pod template passes restricted, or its resource reports what was kept
    reported = {r.document for r in out.results if r.skipped}
    for i, d in enumerate(after_docs):
        tpl = d if d["kind"] == "Pod" else d["spec"]["template"]
        if pss.evaluate(tpl.get("metadata"), tpl["spec"], "restricted"):
            assert i in reported
