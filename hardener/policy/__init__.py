"""Admission objects that hold the cluster to the profile, chosen by Kubernetes version.

Hardening the pod templates is half the job; this module appends the objects that make the
API server refuse pods that are not hardened, on whatever version the user runs:

=================  ===========  ==============================================================
``--emit`` kind    served       objects
=================  ===========  ==============================================================
``psp``            < 1.25       PodSecurityPolicy ``policy/v1beta1``: one ``restricted`` policy
                                and one narrower policy per exception workload
``rbac``           any          per policy a ClusterRole (``use`` + ``resourceNames``) and a
                                RoleBinding per namespace and service account (``--binding
                                cluster``: one ClusterRoleBinding per policy)
``pss-labels``     >= 1.23      Pod Security Admission labels on the stream's Namespace objects
``vap``            >= 1.30      ValidatingAdmissionPolicy + Binding (CEL) enforcing the controls
``map``            >= 1.36      MutatingAdmissionPolicy + Binding (CEL JSONPatch) making the
                                controls' changes to pods at admission (v1beta1 on 1.34-1.35
                                with ``--force``)
=================  ===========  ==============================================================

``auto`` is ``psp,rbac`` below 1.25 and ``pss-labels`` from 1.25 (``vap`` and ``map`` only on
request).
PodSecurityPolicy was removed in 1.25 and a stream holding one fails the whole install, so
``psp`` for >= 1.25 (and ``vap`` for < 1.30) is a usage error unless ``--force``.

**Exceptions.** A workload is an exception when its hardened pod template does not fit the
profile's envelope (:class:`Envelope`: no host namespaces, host paths, host ports or
privileged containers, the profile's capabilities, identity, seccomp/AppArmor, read-only
root, only restricted volume types and safe sysctls). Exceptions never widen the restricted
policy: each gets its own PodSecurityPolicy allowing exactly what it uses, bound only to its
own service accounts; the ValidatingAdmissionPolicy exempts it from exactly the checks it
fails, in the containers that fail them (:mod:`.exemptions`). Its policy
carries the annotations ``k8s-harden.io/exception-for`` (the workload) and
``k8s-harden.io/exception-reasons`` (what it uses beyond the envelope).

**Least privilege beyond the seed's ``restricted`` PSP** (the restricted policy lists what
the fitting workloads use, within the envelope):

* ``volumes`` only the types used (a pod's service-account token is a ``projected`` volume
  from 1.21, ``secret`` before, unless ``automountServiceAccountToken: false``); ``csi`` comes
  with ``allowedCSIDrivers``;
* ``allowedCapabilities`` only what containers add (e.g. ``NET_BIND_SERVICE``);
* seccomp/AppArmor ``allowedProfileNames`` only the profiles used (no ``docker/default``);
* ``runAsGroup`` is ``MustRunAs`` 1-65535 (the seed leaves it open); ``fsGroup`` likewise;
  ``supplementalGroups`` is ``MayRunAs`` 1-65535 unless every pod sets some: ``MustRunAs``
  would inject group 1 into every pod that sets none; ranges grow past 65535 only to cover
  an id a workload uses;
* sysctls: PSP allows ``(safe + allowedUnsafeSysctls) - forbiddenSysctls``, so
  ``allowedUnsafeSysctls`` lists the sysctls used and ``forbiddenSysctls`` the other safe
  ones (``["*"]`` when none is used);
* ``seLinux: RunAsAny`` (a required field the seed omits);
* ``readOnlyRootFilesystem`` true when the profile requires it, and also when every covered
  container already runs read-only.

**Names** are ``k8s-harden-<policy>[-<part>]`` where ``<part>`` is ``--name-prefix`` or else
the release, read from the workloads' ``app.kubernetes.io/instance`` label (the most common
value), so two Helm releases never collide. Exception policies are ``<kind>-<name>`` (plus
the namespace if two exceptions share kind and name). Every object is labelled
``app.kubernetes.io/managed-by: k8s-harden`` (and ``app.kubernetes.io/instance`` when known).

**Namespaces.** A workload without ``metadata.namespace`` is taken to be in ``--namespace``;
without it, RoleBindings and their subjects get no namespace (Helm installs them into the
release namespace; the API reads an empty subject namespace as the binding's), and it counts
for every Namespace of the stream when choosing PSA levels. The ValidatingAdmissionPolicy is
bound to the stream's namespaces (and ``--namespace``) but never to kube-system,
kube-public or kube-node-lease: it checks every pod there, not only the stream's.

**Once.** Objects are appended after the input, deterministically, and not at all when the
input holds only Helm hook documents (a post-renderer pass over hooks alone). Objects an
earlier pass generated (our kinds, labelled ``app.kubernetes.io/managed-by: k8s-harden``) are
recognised in the input and replaced by the fresh ones, never duplicated: a second pass, a
kpt pipeline run again, give the same output.

The package, one module per job: :mod:`.stream` (the stream's workloads and namespaces),
:mod:`.usage` (what they use), :mod:`.envelope` (what the profile allows), :mod:`.naming`,
and one module per kind of object: :mod:`.psp` (with RBAC), :mod:`.psa` (a transformer of
Namespace documents) and :mod:`.vap`. The pipeline calls :func:`prepare`, then
:func:`label_namespaces`, then :func:`generate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import yamlio
from ..errors import UsageError
from ..kube import names
from ..kube.names import GENERATOR, HELM4_FILENAME, MANAGED_BY_LABEL
from ..kube.podspec import dig as _get
from ..kube.versions import PSP_REMOVED, VAP_V1, fmt
from ..options import Options
from ..profile import EMIT_KINDS
from ..results import ResourceResult
from .envelope import Envelope
from .naming import Naming
from .psa import label_namespaces
from .psp import psp_object, psp_plans, rbac_objects
from .stream import Workload, collect_workloads, mark_meshed, stream_namespaces
from .map import map_api_version, map_objects
from .vap import vap_objects

__all__ = ["PolicyRun", "prepare", "label_namespaces", "generate", "requested_kinds"]


#: The kinds of object this package generates (and so may replace).
GENERATED_KINDS = frozenset({"PodSecurityPolicy", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
                             "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                             "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"})


@dataclass
class PolicyRun:
    """What every policy stage reads: the kinds asked for, the stream and its workloads, and
    the objects an earlier pass generated (to be replaced)."""

    kinds: frozenset[str]
    docs: list[yamlio.Document]
    workloads: list[Workload]
    opts: Options
    replaced: list[yamlio.Document]
    notes: list[str] = field(default_factory=list)  # what the user should know (stderr)


def prepare(docs: list[yamlio.Document], results: list[ResourceResult], opts: Options) -> PolicyRun | None:
    """The policy stages' input, or None when nothing is to be emitted (`--emit none`, or
    a post-renderer pass over Helm hooks alone)."""
    kinds = requested_kinds(opts)
    if not kinds or only_hooks(docs):
        return None
    workloads = collect_workloads(results, opts)
    if "vap" in kinds:
        mark_meshed(docs, workloads)
    return PolicyRun(kinds, docs, workloads, opts, [d for d in docs if generated_earlier(d)])


def generate(run: PolicyRun) -> list[str]:
    """YAML texts (each starting with ``---``) of the policy objects to append."""
    kinds, docs, workloads, opts = run.kinds, run.docs, run.workloads, run.opts
    naming = Naming.of(workloads, opts)
    env = Envelope.of(opts.profile, opts.kube)
    objects: list[dict] = []
    if kinds & {"psp", "rbac"}:
        plans = psp_plans(workloads, env, naming, opts)
        if "psp" in kinds:
            objects += [psp_object(p, naming) for p in plans]
        if "rbac" in kinds:
            objects += rbac_objects(plans, naming, opts)
    if "vap" in kinds:
        objects += vap_objects(workloads, env, naming, stream_namespaces(docs, workloads, opts), opts, run.notes)
    if "map" in kinds:
        objects += map_objects(workloads, naming, stream_namespaces(docs, workloads, opts), opts)
    filename = helm4_filename(docs)
    if filename:
        for o in objects:
            o["metadata"].setdefault("annotations", {})[HELM4_FILENAME] = filename
    return ["---\n" + yamlio.dump_data(o) for o in objects]


def helm4_filename(docs: list[yamlio.Document]) -> str | None:
    """Under Helm 4 every input document names its template file; give the generated
    objects a file of the same chart so Helm files them under a real `# Source:`."""
    for d in docs:
        if d.root == "mapping" and HELM4_FILENAME in d.text:
            value = _get(d.load(), "metadata", "annotations", HELM4_FILENAME)
            if isinstance(value, str) and "/" in value:
                return value.split("/", 1)[0] + "/templates/k8s-harden-policy.yaml"
    return None


def requested_kinds(opts: Options) -> frozenset[str]:
    """The kinds `--emit` asks for; refuses objects the target version does not serve."""
    value = (opts.emit or "auto").strip()
    if value == "none":
        return frozenset()
    if value == "auto":
        return frozenset({"psp", "rbac"} if opts.kube < PSP_REMOVED else {"pss-labels"})
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EMIT_KINDS]
    if unknown or not kinds:
        raise UsageError(f"--emit: unknown kind {', '.join(unknown) or value!r}; use auto, none "
                         f"or a comma list of {', '.join(EMIT_KINDS)}")
    if "psp" in kinds and opts.kube >= PSP_REMOVED and not opts.force:
        raise UsageError(f"--emit psp: PodSecurityPolicy (policy/v1beta1) was removed in Kubernetes "
                         f"1.25, and a stream holding one fails the whole install on {fmt(opts.kube)}; "
                         "emit pss-labels or vap instead, or pass --force to emit it anyway")
    if "vap" in kinds and opts.kube < VAP_V1 and not opts.force:
        raise UsageError(f"--emit vap: ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) "
                         f"is served from Kubernetes 1.30, not {fmt(opts.kube)}; pass --force to "
                         "emit it anyway")
    if "map" in kinds:
        map_api_version(opts)  # refuses 1.34-1.35 without --force, and anything older
    return frozenset(kinds)


def only_hooks(docs: list[yamlio.Document]) -> bool:
    """True when no document is a regular manifest: a post-renderer pass over hooks alone
    (Helm 4 may render them apart) must not emit the release's policy objects again."""
    return all(_is_hook(d) for d in docs if d.root == "mapping")


def _is_hook(doc: yamlio.Document) -> bool:
    if names.HELM_HOOK not in doc.text:  # cheap: most documents are never loaded
        return False
    ann = _get(doc.load(), "metadata", "annotations")
    return isinstance(ann, dict) and names.HELM_HOOK in ann


def generated_earlier(doc: yamlio.Document) -> bool:
    """Is this an object k8s-harden generated on an earlier pass (one of our kinds, with our
    managed-by label)? A ResourceList's items are loaded already; a stream's documents are
    loaded only when their text can say so."""
    if doc.root != "mapping" or doc.kind not in GENERATED_KINDS:
        return False
    if not doc.loaded and GENERATOR not in doc.text:
        return False
    data = doc.load()
    return isinstance(data, dict) and data.get("kind") in GENERATED_KINDS \
        and _get(data, "metadata", "labels", MANAGED_BY_LABEL) == GENERATOR
