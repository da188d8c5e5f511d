"""Custom resources (#12): the built-in CRD table, wildcard pointers, pods outside pod
templates (Argo Workflows, Tekton, SidecarSet), Knative's webhook limits, and custom resources
no table knows, which are reported and never silently passed through."""

from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener import pss
from hardener.errors import ProfileError
from hardener.kube import crds
from hardener.kube.workloads import PodView, WorkloadTable, find_pod_templates, reported
from hardener.profile import load_profile
from hardener.results import UNKNOWN_WORKLOAD, UNSUPPORTED
from helpers import CORPUS, dump, harden, invoke, load_all

C = {"name": "app", "image": "busybox"}


def doc(api, kind, spec, name="x"):
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}, "spec": spec}


def tpl(*containers):
    return {"metadata": {}, "spec": {"containers": [dict(c) for c in containers or (C,)]}}


# --------------------------------------------------------------------------- the table
def test_keys_prefilter_equals_the_table():
    """crds.KEYS decides which documents are loaded at all; it must list exactly the table."""
    assert set(crds.table()) == crds.KEYS
    for e in crds.entries():
        assert e.get("source"), e["kinds"]  # every entry cites the project's API types
        assert set(e) <= {"group", "kinds", "versions", "source", "podTemplates", "pods", "report",
                          "restrictions"}


def test_table_is_not_read_for_streams_without_its_kinds():
    crds.table.cache_clear()
    text = dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"containers": "x"}},
                doc("apps/v1", "Deployment", {"template": tpl()}),
                doc("v1", "Service", {"ports": [{"port": 80}]}))
    out = harden(text)
    assert out.results[0].changes
    assert crds.table.cache_info().currsize == 0
    assert not WorkloadTable().may_contain("Service", "v1")
    assert WorkloadTable().may_contain("Service", "serving.knative.dev/v1")


@pytest.mark.parametrize("pointer, expected", [
    ("/a/*/b", [("/a/0/b", 1), ("/a/2/b", 3)]),  # list items; an item without `b` finds nothing
    ("/m/*/t", [("/m/Master/t", "x"), ("/m/Worker/t", "y")]),  # map values
    ("/m/*", [("/m/Master", {"t": "x"}), ("/m/Worker", {"t": "y"})]),
    ("/missing/*/b", []),
    ("/a/1/b", []),
    ("", [("", "ROOT")]),
    ("/k~1s", [("/k~1s", 5)]),
])
def test_wildcard_resolver(pointer, expected):
    data = {"a": [{"b": 1}, {"c": 2}, {"b": 3}], "m": {"Master": {"t": "x"}, "Worker": {"t": "y"}}, "k/s": 5}
    got = list(crds.expand(data, pointer))
    if pointer == "":
        assert got == [("", data)]
    else:
        assert got == expected


@pytest.mark.parametrize("api, kind, spec_at, builtin", [
    ("apps/v1", "StatefulSet", "/spec/template", True),
    ("apps.kruise.io/v1beta1", "StatefulSet", "/spec/template", False),  # Advanced StatefulSet
    ("apps.kruise.io/v1alpha1", "DaemonSet", "/spec/template", False),
    ("batch/v1", "Job", "/spec/template", True),
])
def test_group_clash_same_pointer(api, kind, spec_at, builtin):
    [pt] = find_pod_templates(doc(api, kind, {"template": tpl()}), WorkloadTable())
    assert pt.pointer == spec_at and pt.builtin is builtin


def test_group_clash_volcano_job_is_not_a_batch_job():
    vj = doc("batch.volcano.sh/v1alpha1", "Job", {"tasks": [{"name": "a", "template": tpl()},
                                                          {"name": "b", "template": tpl()}],
                                                "template": tpl()})  # a batch/v1 path: not Volcano's
    assert [p.pointer for p in find_pod_templates(vj, WorkloadTable())] == ["/spec/tasks/0/template",
                                                                          "/spec/tasks/1/template"]
    cj = doc("batch.volcano.sh/v1alpha1", "CronJob",
             {"jobTemplate": {"spec": {"tasks": [{"template": tpl()}], "template": tpl()}}})
    assert [p.pointer for p in find_pod_templates(cj, WorkloadTable())] == ["/spec/jobTemplate/spec/tasks/0/template"]
    # and the same kind in a group no table knows is no workload at all
    assert list(find_pod_templates(doc("example.com/v1", "Job", {"template": tpl()}), WorkloadTable())) == []


def test_multi_template_resource_gives_one_result_at_its_weakest_level():
    """A PyTorchJob's Master and Worker (a map keyed by replica type) are one resource."""
    job = doc("kubeflow.org/v1", "PyTorchJob", {"pytorchReplicaSpecs": {
        "Master": {"replicas": 1, "template": tpl()},
        "Worker": {"replicas": 2, "template": tpl({"name": "w", "image": "x",
                                                   "securityContext": {"privileged": True}})}}})
    out = harden(dump(job), assess=True)
    [r] = out.results
    assert [t.pointer for t in r.templates] == ["/spec/pytorchReplicaSpecs/Master/template",
                                                "/spec/pytorchReplicaSpecs/Worker/template"]
    assert r.extra["pss"] == {"before": "privileged", "after": "privileged"}  # the kept privileged worker
    master = load_all(out.output)[0]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pss.meets(None, master) == "restricted"


# --------------------------------------------------------------------------- profiles
def _profile(tmp_path, body):
    p = tmp_path / "p.yaml"
    p.write_text("extends: restricted\nworkloads:\n" + body)
    return str(p)


@pytest.mark.parametrize("body, message", [
    ("  - {kind: K, podTemplates: []}\n", r"workloads[0].podTemplates: must be a non-empty list"),
    ("  - {kind: K, podTemplates: /spec/t}\n", r"workloads[0].podTemplates: must be a non-empty list"),
    ("  - {kind: K, podTemplates: [spec/t]}\n", r"workloads[0].podTemplates[0]: must be a JSON pointer"),
    ("  - {kind: K, podTemplates: [/spec//t]}\n", "has an empty step"),
    ("  - {kind: K, podTemplate: /spec/t/}\n", "has an empty step"),
    ("  - {kind: K, podTemplate: /a~2b}\n", "~ must be escaped"),
    ("  - {kind: K, podTemplate: /t, podTemplates: [/t]}\n", "give podTemplate or podTemplates, not both"),
    ("  - {kind: K, podTemplat: /t}\n", "workloads[0].podTemplat: unknown key"),
])
def test_profile_workload_errors(tmp_path, body, message):
    path = _profile(tmp_path, body)
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert message in str(exc.value)
    res = invoke("--profile", path, input="")
    assert res.exit_code == 2 and "Traceback" not in res.output and message in res.stderr


def test_profile_podtemplates_with_wildcards_and_replacing_a_table_row(tmp_path):
    path = _profile(tmp_path, "  - {kind: Runner, apiVersion: acme.io/v1, podTemplates: [/spec/runners/*/t]}\n"
                              "  - {kind: RayCluster, group: ray.io, podTemplates: [/spec/headGroupSpec/template]}\n")
    runner = doc("acme.io/v1", "Runner", {"runners": [{"t": tpl()}, {"t": tpl()}]})
    ray = doc("ray.io/v1", "RayCluster", {"headGroupSpec": {"template": tpl()},
                                          "workerGroupSpecs": [{"template": tpl()}]})
    out = harden(dump(runner, ray), path)
    assert [len(r.templates) for r in out.results] == [2, 1]  # the profile's row replaces the table's
    again = load_profile(path)
    assert {w.kind: w.pod_templates for w in again.workloads}["Runner"] == ("/spec/runners/*/t",)
    shown = invoke("profiles", "show", path)
    assert "/spec/runners/*/t" in shown.stdout


# --------------------------------------------------------------------------- Argo Workflows
def _argo(spec):
    return doc("argoproj.io/v1alpha1", "Workflow", spec)


def test_argo_template_security_context_replaces_the_workflow_one():
    """workflow/controller/workflowpod.go: `if tmpl.SecurityContext != nil {
    pod.Spec.SecurityContext = tmpl.SecurityContext } else if wfSpec.SecurityContext != nil`
    (pkg/apis/workflow/v1alpha1/workflow_types.go Template.SecurityContext): a template with
    its own is hardened there; the others through the workflow's."""
    wf = _argo({"securityContext": {"fsGroup": 5000},
                "templates": [{"name": "own", "securityContext": {"runAsUser": 1234}, "container": dict(C)},
                              {"name": "shared", "script": {**C, "source": "echo"}},
                              {"name": "steps", "steps": [[{"name": "a", "template": "own"}]]}]})
    out = harden(dump(wf))
    spec = load_all(out.output)[0]["spec"]
    assert spec["templates"][0]["securityContext"]["runAsNonRoot"] is True
    assert spec["templates"][0]["securityContext"]["runAsUser"] == 1234
    assert "securityContext" not in spec["templates"][1]  # takes the workflow's
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["fsGroup"] == 5000
    assert "securityContext" not in spec["templates"][2]  # steps run no pod
    [r] = out.results
    assert len(r.templates) == 2 and all(isinstance(t, PodView) for t in r.templates)
    for t in r.templates:
        assert pss.meets(None, t.template["spec"]) == "restricted"


def test_argo_without_any_security_context_creates_it_in_each_template():
    wf = _argo({"templates": [{"name": "a", "container": dict(C), "initContainers": [dict(C, name="i")],
                               "sidecars": [dict(C, name="s")]},
                              {"name": "b", "containerSet": {"containers": [dict(C, name="m1"), dict(C, name="m2")]}}]})
    out = harden(dump(wf))
    t = load_all(out.output)[0]["spec"]["templates"]
    assert t[0]["securityContext"]["runAsNonRoot"] and t[1]["securityContext"]["seccompProfile"]
    for c in (t[0]["container"], t[0]["initContainers"][0], t[0]["sidecars"][0], *t[1]["containerSet"]["containers"]):
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "securityContext" not in load_all(out.output)[0]["spec"]
    assert all(c.path.startswith("/spec/templates/") for c in out.results[0].changes)


@pytest.mark.parametrize("kind, pre", [("Workflow", ()), ("CronWorkflow", ("workflowSpec",))])
def test_argo_pod_spec_patch_is_reported_never_ignored(kind, pre):
    """Issue #21. workflow/util/util.go ApplyPodSpecPatch (from workflowpod.go
    createWorkflowPod) merges the podSpecPatch string over the pod the controller builds, so
    it wins over the hardened template: each one (workflow-wide and per template) is
    reported, through the CLI too; an empty one is not."""
    patch = '{"containers": [{"name": "main", "securityContext": {"runAsUser": 0}}]}'
    spec = {"podSpecPatch": patch,
            "templates": [{"name": "a", "container": dict(C), "podSpecPatch": "containers: []"},
                          {"name": "b", "container": dict(C), "podSpecPatch": ""}]}
    for key in reversed(pre):
        spec = {key: spec}
    text = dump(doc("argoproj.io/v1alpha1", kind, spec))
    out = harden(text)
    where = ".".join(("spec", *pre))
    reasons = sorted(s.reason.partition(":")[0] for s in out.results[0].skipped
                     if s.kind == UNSUPPORTED and "podSpecPatch is merged" in s.reason)
    assert reasons == [f"{where}.podSpecPatch", f"{where}.templates[0].podSpecPatch"]
    hardened = load_all(out.output)[0]["spec"]
    for key in pre:
        hardened = hardened[key]
    assert hardened["podSpecPatch"] == patch  # left as written: reported, not rewritten
    r = invoke("--report", "text", "--emit", "none", input=text)
    assert r.exit_code == 0 and r.stderr.count("podSpecPatch is merged over the pod") == 2, r.stderr


# --------------------------------------------------------------------------- Tekton
def test_tekton_task_has_no_pod_level_so_settings_go_per_container():
    task = doc("tekton.dev/v1", "Task", {"steps": [dict(C, name="build")], "sidecars": [dict(C, name="db")]})
    out = harden(dump(task))
    spec = load_all(out.output)[0]["spec"]
    assert "securityContext" not in spec
    for c in spec["steps"] + spec["sidecars"]:
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    [r] = out.results
    fs = [s for s in r.skipped if s.control == "fsGroup"]
    assert [(s.kind, s.reason) for s in fs] == [(UNSUPPORTED, "Tekton Task has no pod-level securityContext; "
                                                 "set it in the TaskRun/PipelineRun podTemplate")]


def test_tekton_taskrun_pod_level_goes_to_its_pod_template():
    """taskrun_types.go TaskRunSpec.PodTemplate *pod.PodTemplate; created when missing."""
    tr = doc("tekton.dev/v1", "TaskRun", {"taskSpec": {"steps": [dict(C, name="s")]}})
    out = harden(dump(tr))
    spec = load_all(out.output)[0]["spec"]
    assert spec["podTemplate"]["securityContext"]["runAsNonRoot"] is True
    assert spec["podTemplate"]["securityContext"]["fsGroup"] == 2000
    assert not [s for s in out.results[0].skipped if s.kind == UNSUPPORTED]


@pytest.mark.parametrize("api, at", [("tekton.dev/v1", ("taskRunTemplate", "podTemplate")),
                                      ("tekton.dev/v1beta1", ("podTemplate",))])
def test_tekton_pipelinerun_pod_level_goes_to_the_runs_pod_template(api, at):
    """Issue #21. pipelinerun_types.go: every TaskRun of a PipelineRun gets the run's pod
    template, PipelineRunSpec.TaskRunTemplate.PodTemplate (v1) or PipelineRunSpec.PodTemplate
    (v1beta1): the pod-level settings go there (created when missing), once for all tasks;
    a taskRunSpecs podTemplate that replaces it for one task is reported."""
    tasks = [{"name": n, "taskSpec": {"steps": [dict(C, name="s")]}} for n in ("a", "b")]
    run = doc(api, "PipelineRun", {"pipelineSpec": {"tasks": tasks},
                                   "taskRunSpecs": [{"pipelineTaskName": "a",
                                                     "podTemplate": {"securityContext": {"runAsUser": 0}}}]})
    out = harden(dump(run))
    spec = load_all(out.output)[0]["spec"]
    pod_sc = spec[at[0]][at[1]]["securityContext"] if len(at) == 2 else spec[at[0]]["securityContext"]
    assert pod_sc["fsGroup"] == 2000 and pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    other = "podTemplate" if len(at) == 2 else "taskRunTemplate"
    assert other not in spec
    [r] = out.results
    assert not [s for s in r.skipped if s.kind == UNSUPPORTED and s.control == "fsGroup"]
    assert any(s.reason.startswith("spec.taskRunSpecs[0].podTemplate.securityContext: a taskRunSpecs "
                                   "podTemplate replaces the run's pod securityContext")
               for s in r.skipped if s.kind == UNSUPPORTED), r.skipped
    again = harden(out.output)
    assert again.output == out.output


def test_tekton_step_template_is_reported():
    task = doc("tekton.dev/v1", "Task", {"stepTemplate": {"image": "x", "securityContext": {"runAsUser": 0}},
                                         "steps": [dict(C, name="s")]})
    out = harden(dump(task))
    assert any(s.kind == UNSUPPORTED and s.reason.startswith("spec.stepTemplate: stepTemplate is merged")
               for s in out.results[0].skipped)


# --------------------------------------------------------------------------- Knative
def test_knative_only_what_the_webhook_admits():
    """knative/serving pkg/apis/serving/fieldmask.go: PodSpecMask copies securityContext only
    with kubernetes.podspec-securitycontext; SecurityContextMask has no appArmorProfile,
    seLinuxOptions, procMount; CapabilitiesMask keeps `add` only with
    kubernetes.containerspec-addcapabilities (validated in k8s_validation.go
    validateSecurityContext)."""
    svc = doc("serving.knative.dev/v1", "Service",
              {"template": {"spec": {"containers": [dict(C, ports=[{"containerPort": 8080}]),
                                                    dict(C, name="low", ports=[{"containerPort": 80}])]}}})
    out = harden(dump(svc), node_features="appArmor,unprivilegedPortSysctl")
    spec = load_all(out.output)[0]["spec"]["template"]["spec"]
    assert "securityContext" not in spec
    sc = spec["containers"][0]["securityContext"]
    assert set(sc) <= crds.KNATIVE_CONTAINER
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    skipped = {s.control: s for s in out.results[0].skipped if s.kind == UNSUPPORTED}
    assert {"capabilities", "fsGroup", "appArmor"} <= set(skipped)
    assert "fieldmask.go" in skipped["fsGroup"].reason
    # port 80: no NET_BIND_SERVICE and no sysctl admitted, so the container keeps its identity
    # and (issue #21) the capabilities it binds the port with: drop ALL without the add would
    # leave even root unable to bind it (net/ipv4 inet_bind: CAP_NET_BIND_SERVICE below
    # ip_unprivileged_port_start), so nothing is dropped and the skip says why
    low = spec["containers"][1]["securityContext"]
    assert "runAsNonRoot" not in low and "capabilities" not in low
    assert any(s.control == "runAsNonRoot" and s.container == "low" for s in out.results[0].skipped)
    [caps] = [s for s in out.results[0].skipped if s.control == "capabilities" and s.container == "low"]
    assert caps.kind == UNSUPPORTED and caps.check == "capabilities_restricted"
    assert caps.reason.startswith("kept the runtime's default capabilities: the container needs "
                                  "NET_BIND_SERVICE, CHOWN") and "CapabilitiesMask" in caps.reason
    assert harden(out.output, node_features="appArmor,unprivilegedPortSysctl").output == out.output


def test_knative_with_a_pod_security_context_hardens_only_its_admitted_fields():
    svc = doc("serving.knative.dev/v1", "Service",
              {"template": {"spec": {"securityContext": {"runAsUser": 1001}, "containers": [dict(C)]}}})
    out = harden(dump(svc))
    psc = load_all(out.output)[0]["spec"]["template"]["spec"]["securityContext"]
    assert set(psc) <= crds.KNATIVE_POD and psc["runAsNonRoot"] is True
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"} and psc["runAsUser"] == 1001
    svc["spec"]["template"]["spec"]["securityContext"] = {"runAsGroup": 3000}
    out = harden(dump(svc))
    psc = load_all(out.output)[0]["spec"]["template"]["spec"]["securityContext"]
    assert set(psc) <= crds.KNATIVE_POD and psc["fsGroup"] == 2000
    assert any(s.control == "fsGroup" and "securityContext.fsGroupChangePolicy" in s.reason
               for s in out.results[0].skipped)


# --------------------------------------------------------------------------- unknown kinds
PLANTED = {"apiVersion": "acme.example.com/v1", "kind": "Thing", "metadata": {"name": "t"},
           "spec": {"deep": [{"worker": {"metadata": {"labels": {"a": "b"}},
                                         "spec": {"containers": [dict(C)]}}}],
                    "bare": {"containers": [dict(C, name="b")]},
                    "notapod": {"containers": [{"name": "x"}]}}}


def test_unknown_kind_walk_reports_planted_pod_templates_and_changes_nothing():
    text = "# keep me\n" + dump(PLANTED)
    out = harden(text, verify=True)
    assert out.output == text
    [r] = out.results
    assert not r.changes and not r.templates
    assert [s.kind for s in r.skipped] == [UNKNOWN_WORKLOAD, UNKNOWN_WORKLOAD]
    assert "possible pod template at spec.deep[0].worker in Thing acme.example.com/v1" in r.skipped[0].reason
    assert "spec.bare" in r.skipped[1].reason
    assert r.skipped[0].reason.endswith("add it to the profile's workloads:")
    # the report, KRM results and JSON show it
    res = invoke("--report", "text", input=text)
    assert "possible pod template at spec.deep[0].worker" in res.stderr and res.stdout == text
    res = invoke("--report", "json", input=text)
    assert '"kind": "unknown-workload"' in res.stderr


def test_unknown_walk_checker_fails_on_nothing_planted():
    """The checker itself: without a pod shape nothing is reported; built-in groups are
    never walked; a List's items are."""
    table = WorkloadTable()
    clean = {**PLANTED, "spec": {"notapod": {"containers": [{"name": "x"}]}}}
    assert list(reported(clean, table)) == []
    builtin = {**PLANTED, "apiVersion": "networking.k8s.io/v1"}
    assert list(reported(builtin, table)) == []
    assert len(list(reported({"apiVersion": "v1", "kind": "List", "items": [PLANTED]}, table))) == 2
    # a profile entry makes it a workload: hardened, not reported
    assert WorkloadTable.__init__  # (documented in docs/controls.md)


def test_unknown_kind_documents_without_containers_are_not_loaded():
    from hardener import yamlio

    _, docs = yamlio.split_stream(dump({**PLANTED, "spec": {"image": "x"}}, PLANTED))
    table = WorkloadTable()
    assert [table.may_hide(d.kind, d.api_version, d.text) for d in docs] == [False, True]


def test_audit_shows_unknown_workloads():
    res = invoke("audit", "--format", "text", input=dump(PLANTED))
    assert "possible pod template at spec.deep[0].worker" in res.output


# --------------------------------------------------------------------------- corpus
#: /work/notes/crd-paths.md §11: pod-type templates per stream (+ what this table adds:
#: Argo templateDefaults and an executor plugin sidecar; Tekton StepActions; the Ray
#: autoscaler; SidecarSets), and the containers of the non-template pods.
COUNTS = {
    "crds-argo-workflows.yaml": ({"view": 90 + 2}, 101),
    "crds-keda.yaml": ({"pts": 2}, 0),
    "crds-openkruise.yaml": ({"pts": 15, "view": 3}, 5),
    "crds-kubeflow.yaml": ({"pts": 43}, 0),
    "crds-jobset.yaml": ({"pts": 32}, 0),
    "crds-kuberay.yaml": ({"pts": 104, "view": 1}, 1),
    "crds-volcano.yaml": ({"pts": 29}, 0),
    "crds-tekton.yaml": ({"view": 150 + 4}, 199 - 1),  # stepTemplate: reported, not a container
    "crds-knative.yaml": ({"pts": 7}, 0),
}


def _images(obj, at=""):
    if isinstance(obj, dict):
        if isinstance(obj.get("image"), str):
            yield at
        for k, v in obj.items():
            yield from _images(v, f"{at}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _images(v, f"{at}/{i}")


@pytest.mark.skipif(not (CORPUS / "crds-tekton.yaml").exists(), reason="../shared/corpus not present")
@pytest.mark.parametrize("name", sorted(COUNTS))
def test_corpus_crd_streams(name):
    text = (CORPUS / name).read_text()
    table = WorkloadTable(load_profile("restricted").workloads)
    found, containers = collections.Counter(), 0
    for data in load_all(text):
        covered = []
        for pt in find_pod_templates(data, table):
            found["view" if isinstance(pt, PodView) else "pts"] += 1
            if isinstance(pt, PodView):
                ptrs = [p for v in pt.parts.containers.values() for p in v]
                containers += len(ptrs)
                covered += ptrs
            else:
                covered.append(pt.pointer)
        entry = table.lookup(data.get("apiVersion"), data.get("kind")) if isinstance(data, dict) else None
        if isinstance(entry, crds.Entry):
            covered += [at for pat, _ in entry.report for at, _ in crds.expand(data, pat)]
            # nothing with an image in a custom resource is left uncovered and unreported
            for at in _images(data):
                assert any(at == c or at.startswith(c + "/") for c in covered), (name, data["kind"], at)
    assert found == collections.Counter(COUNTS[name][0])
    assert containers == COUNTS[name][1]
    out = harden(text)
    assert harden(out.output).output == out.output  # idempotent
    for r in out.results:
        for pt in r.templates:
            t = pt.template
            if pss.evaluate(t.get("metadata"), t["spec"], "restricted"):
                assert r.skipped, (name, r.ref, pt.pointer)  # meets the level or says why not


# --------------------------------------------------------------------------- properties
_containers = st.lists(st.fixed_dictionaries({
    "name": st.sampled_from(["a", "b", "c"]), "image": st.just("x"),
}, optional={"securityContext": st.fixed_dictionaries({}, optional={
    "runAsUser": st.sampled_from([0, 1000, 1234]), "privileged": st.booleans(),
    "runAsNonRoot": st.booleans(), "capabilities": st.just({"add": ["NET_ADMIN"]})}),
    "ports": st.just([{"containerPort": 80}])}), min_size=1, max_size=3)

_psc = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"runAsUser": st.sampled_from([0, 1000]),
                                                                 "fsGroup": st.just(7)}))


@st.composite
def crd_docs(draw):
    which = draw(st.sampled_from(["argo", "tekton", "taskrun", "knative", "ray", "sidecarset"]))
    cs = draw(_containers)
    psc = draw(_psc)
    if which == "argo":
        t = {"name": "t", "container": cs[0], "sidecars": cs[1:]}
        if psc is not None:
            t["securityContext"] = psc
        return _argo({"templates": [t], **({"securityContext": draw(_psc)} if draw(st.booleans()) else {})})
    if which in ("tekton", "taskrun"):
        spec = {"steps": cs}
        if which == "tekton":
            return doc("tekton.dev/v1", "Task", spec)
        return doc("tekton.dev/v1", "TaskRun", {"taskSpec": spec, **({"podTemplate": {"securityContext": psc}}
                                                                     if psc is not None else {})})
    if which == "knative":
        return doc("serving.knative.dev/v1", "Service", {"template": {"spec": {
            "containers": cs, **({"securityContext": psc} if psc is not None else {})}}})
    if which == "ray":
        return doc("ray.io/v1", "RayCluster", {"headGroupSpec": {"template": {"spec": {"containers": cs}}},
                                               "autoscalerOptions": {"securityContext": psc or {}}})
    return doc("apps.kruise.io/v1beta1", "SidecarSet", {"containers": cs})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crd_docs(), st.sampled_from(["restricted", "baseline"]))
def test_crd_hardening_is_idempotent(data, profile):
    # (not strict: its `fail` refuses the generated uid 0; a second strict run over a root
    # container's rootAdd is tests/test_controls.py::test_root_add_back_is_no_conflict_on_the_second_run)
    text = dump(data)
    once = harden(text, profile)
    twice = harden(once.output, profile)
    assert twice.output == once.output
    assert not any(r.changes for r in twice.results)


def test_every_podset_says_why_it_has_no_pod_level_in_words():
    """A PodSet without `unsupported` in crds.yaml takes the default reason, a string (the
    slot's class attribute is a descriptor, not a default: it once stood in the table)."""
    from hardener.kube import crds

    podsets = [p for e in crds.table().values() for p in e.pods]
    assert podsets and all(isinstance(p.unsupported, str) and p.unsupported for p in podsets)
    assert any(p.unsupported == crds.NO_POD_LEVEL for p in podsets)
