"""The custom resources k8s-harden knows (crds.yaml), wildcard pointers, and pods that are
not pod templates (Argo Workflows templates, Tekton steps, Kruise SidecarSets).

`crds.yaml` is read once, and only when a document's (group, kind) is in :data:`KEYS` (a
cheap set beside it; a test keeps both equal), so a stream of ConfigMaps never pays for it.
A pod outside a PodTemplateSpec is seen through a :class:`PodView`: a synthetic template
`{metadata, spec: {securityContext, containers, initContainers, ...}}` whose values are the
resource's own dicts, so the controls and the Pod Security checks read it as a pod spec;
:meth:`PodView.translate` turns each planned change into the document pointer it lands
on, or into a Skip where the resource has no such field.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Iterator

from ..record import FrozenRecord, Record
from .pointer import escape, resolve, tokens

if TYPE_CHECKING:
    from pathlib import Path

#: (group, kind) of every entry in crds.yaml: the prefilter that decides whether a document
#: is loaded at all (tests/test_crds.py: equal to the table).
KEYS = frozenset({
    ("argoproj.io", k) for k in ("Rollout", "Experiment", "AnalysisTemplate", "ClusterAnalysisTemplate",
                                 "AnalysisRun", "Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate",
                                 "CronWorkflow")
} | {("keda.sh", "ScaledJob")} | {
    ("apps.kruise.io", k) for k in ("CloneSet", "StatefulSet", "DaemonSet", "BroadcastJob", "AdvancedCronJob",
                                    "UnitedDeployment", "SidecarSet", "EphemeralJob")
} | {
    ("kubeflow.org", k) for k in ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "MXJob")
} | {("trainer.kubeflow.org", k) for k in ("TrainingRuntime", "ClusterTrainingRuntime", "TrainJob")}
  | {("jobset.x-k8s.io", "JobSet")}
  | {("ray.io", k) for k in ("RayCluster", "RayJob", "RayService", "RayCronJob")}
  | {("batch.volcano.sh", "Job"), ("batch.volcano.sh", "CronJob"), ("flow.volcano.sh", "JobTemplate"),
     ("flow.volcano.sh", "JobFlow")}
  | {("tekton.dev", k) for k in ("Task", "ClusterTask", "TaskRun", "Pipeline", "PipelineRun", "StepAction")}
  | {("serving.knative.dev", k) for k in ("Service", "Configuration", "Revision")})

CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


#: Why a pod of a PodSet without a pod-level securityContext cannot take pod-level settings.
NO_POD_LEVEL = "this resource has no pod-level securityContext"


class PodSet(FrozenRecord):
    """Where the pods of a kind are when they are not PodTemplateSpecs (crds.yaml `pods:`):
    `at`, pointers (wildcards) of the objects that are one pod each; `containers`, list name
    -> pointers (`{at}` = the object); `pod_level`, objects that may hold the pod
    securityContext (first wins); `metadata`; `volumes`; `unsupported`; `versions`, the
    apiVersion versions it is for (empty: all; a field that moved between versions);
    `service_accounts`, pointers of the pods' service account names (PodView.service_accounts)."""

    __slots__ = _fields = ("at", "containers", "pod_level", "metadata", "volumes", "unsupported", "versions",
                           "service_accounts")

    def __init__(self, at: tuple[str, ...], containers: dict | None = None, pod_level: tuple[str, ...] = (),
                 metadata: str | None = None, volumes: str | None = None,
                 unsupported: str = NO_POD_LEVEL, versions: tuple[str, ...] = (),
                 service_accounts: tuple[str, ...] = ()) -> None:
        self._init(at, {} if containers is None else containers, pod_level, metadata, volumes, unsupported,
                   versions, service_accounts)

    def serves(self, api_version: Any) -> bool:
        """Whether the pods of this set are where it says in a resource of `api_version`."""
        return not self.versions or (isinstance(api_version, str)
                                     and api_version.rpartition("/")[2] in self.versions)


class Entry(FrozenRecord):
    """One kind of crds.yaml (or of a profile's `workloads:`); `report`: (pointer, reason)
    pairs, reported, never changed."""

    __slots__ = _fields = ("kind", "group", "pod_templates", "pods", "report", "restrictions", "source")

    def __init__(self, kind: str, group: str | None, pod_templates: tuple[str, ...] = (),
                 pods: tuple[PodSet, ...] = (), report: tuple[tuple[str, str], ...] = (),
                 restrictions: str | None = None, source: str = "") -> None:
        self._init(kind, group, pod_templates, pods, report, restrictions, source)


def _podset(d: dict) -> PodSet:
    return PodSet(tuple(d["at"]), {k: tuple(d[k]) for k in CONTAINER_KEYS if d.get(k)},
                  tuple(d.get("podLevel") or ()), d.get("metadata"), d.get("volumes"),
                  d.get("unsupported") or NO_POD_LEVEL, tuple(d.get("versions") or ()),
                  tuple(d.get("serviceAccounts") or ()))


def _path() -> Path:
    from pathlib import Path  # only when the table is read (cold start)

    return Path(__file__).with_name("crds.yaml")


@functools.lru_cache(maxsize=1)
def table() -> dict[tuple[str, str], Entry]:
    """(group, kind) -> Entry, read from crds.yaml on first use."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(_path().read_text(encoding="utf-8"), Loader=loader)
    out: dict[tuple[str, str], Entry] = {}
    for e in data["customWorkloads"]:
        for kind in e["kinds"]:
            out[(e["group"], kind)] = Entry(
                kind, e["group"], tuple(e.get("podTemplates") or ()),
                tuple(_podset(p) for p in e.get("pods") or ()),
                tuple((r["at"], r["reason"]) for r in e.get("report") or ()),
                e.get("restrictions"), e.get("source", ""))
    return out


def entries() -> list[dict]:
    """The raw entries of crds.yaml, for the docs."""
    import yaml

    return yaml.safe_load(_path().read_text(encoding="utf-8"))["customWorkloads"]


# --------------------------------------------------------------------------- wildcards
def expand(data: Any, pointer: str, base: str = "") -> Iterator[tuple[str, Any]]:
    """(concrete pointer, value) for every match of `pointer` in `data`: a `*` token is
    every item of a list or every value of a mapping; a step that is missing finds
    nothing. `base` is prefixed to the pointers returned."""
    yield from _walk(data, tokens(pointer), base)


def _walk(obj: Any, parts: list[str], at: str) -> Iterator[tuple[str, Any]]:
    # a module function, not a closure: a closure that calls itself is a reference cycle,
    # and the CLI runs with the cyclic GC off (tests/test_lean_paths.py)
    if not parts:
        if obj is not None:
            yield at, obj
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                yield from _walk(item, rest, f"{at}/{i}")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                yield from _walk(v, rest, f"{at}/{escape(str(k))}")
        return
    nxt = resolve(obj, "/" + escape(head))
    if nxt is not None:
        yield from _walk(nxt, rest, f"{at}/{escape(head)}")


# --------------------------------------------------------------------------- Knative
#: What the Knative Serving webhook admits with its default config-features
#: (knative/serving pkg/apis/serving/fieldmask.go). Container securityContext,
#: SecurityContextMask: these fields only (privileged only `false`); capabilities,
#: CapabilitiesMask: `drop` only (`add` needs kubernetes.containerspec-addcapabilities).
KNATIVE_CONTAINER = frozenset(("capabilities", "readOnlyRootFilesystem", "runAsUser", "runAsGroup",
                               "runAsNonRoot", "allowPrivilegeEscalation", "seccompProfile", "privileged"))
#: PodSecurityContextMask with kubernetes.podspec-securitycontext enabled (a manifest that
#: already has a pod securityContext is taken to run there); without the flag, none.
KNATIVE_POD = frozenset(("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups",
                         "seccompProfile"))
#: PodSpecMask: the pod fields admitted without a flag (securityContext has its own rule).
KNATIVE_POD_FIELDS = frozenset(("serviceAccountName", "containers", "initContainers", "volumes",
                                "imagePullSecrets", "enableServiceLinks", "securityContext"))
KNATIVE_WHY = "Knative Serving's webhook rejects it (pkg/apis/serving/fieldmask.go {mask}{flag})"


def _leaves(value: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every leaf of `value` (a non-empty mapping is walked into)."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, prefix + (k,))
    else:
        yield prefix, value


def knative_refusal(rel: list[str], value: Any, pod_sc_present: bool) -> str | None:
    """Why Knative's webhook would refuse a change at `rel` (tokens inside the pod
    template) with `value`; None when it admits it."""
    if not rel or rel[0] == "metadata":
        return None
    if rel[0] != "spec" or len(rel) < 2:
        return KNATIVE_WHY.format(mask="PodSpecMask", flag="")
    head = rel[1]
    if head not in KNATIVE_POD_FIELDS:
        return KNATIVE_WHY.format(mask="PodSpecMask", flag=f": spec.{head}")
    if head == "securityContext":
        if not pod_sc_present:
            return KNATIVE_WHY.format(mask="PodSpecMask", flag=": a pod securityContext needs the "
                                      "feature flag kubernetes.podspec-securitycontext")
        for leaf, _ in _leaves(value, tuple(rel[2:])):
            if not leaf or leaf[0] not in KNATIVE_POD:
                return KNATIVE_WHY.format(mask="PodSecurityContextMask",
                                          flag=f": securityContext.{leaf[0] if leaf else ''}")
        return None
    if head in CONTAINER_KEYS and len(rel) >= 4 and rel[3] == "securityContext":
        for leaf, v in _leaves(value, tuple(rel[4:])):
            if not leaf:
                continue
            if leaf[0] not in KNATIVE_CONTAINER:
                return KNATIVE_WHY.format(mask="SecurityContextMask", flag=f": {leaf[0]}")
            if leaf[0] == "capabilities" and leaf[1:2] != ("drop",):
                return KNATIVE_WHY.format(mask="CapabilitiesMask", flag=": capabilities.add needs "
                                          "kubernetes.containerspec-addcapabilities")
            if leaf[0] == "privileged" and v is not False:
                return KNATIVE_WHY.format(mask="SecurityContextMask", flag=": privileged other than false")
    return None


# --------------------------------------------------------------------------- pods without a template
def _fill(pattern: str, at: str) -> str:
    return pattern.replace("{at}", at)


class PodParts(Record):
    """Where the parts of one synthetic pod are in the resource (pointers from it);
    `containers`: list name -> container pointers."""

    __slots__ = _fields = ("at", "podset", "containers")

    def __init__(self, at: str, podset: PodSet, containers: dict[str, list[str]]) -> None:
        self.at, self.podset, self.containers = at, podset, containers

    @property
    def chain(self) -> list[str]:
        seen: list[str] = []
        for p in self.podset.pod_level:
            p = _fill(p, self.at)
            if p not in seen:
                seen.append(p)
        return seen


def find_pods(resource: dict, podset: PodSet) -> Iterator[PodParts]:
    """Every object `podset.at` matches that holds at least one container mapping."""
    for at_pattern in podset.at:
        for at, obj in expand(resource, at_pattern):
            if not isinstance(obj, dict):
                continue
            found: dict[str, list[str]] = {}
            for list_name, patterns in podset.containers.items():
                for pat in patterns:
                    for ptr, c in expand(resource, _fill(pat, at)):
                        if isinstance(c, dict):
                            found.setdefault(list_name, []).append(ptr)
            if found:
                yield PodParts(at, podset, found)
