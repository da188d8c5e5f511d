"""MutatingAdmissionPolicy + Binding (JSONPatch): the profile's changes, made to pods at admission.

The hardener changes the pod templates of the stream; pods created any other way (`kubectl
run`, an operator, a chart installed without the post-renderer) reach the API server as
written. This policy makes the hardener's pod-level and container-level changes to them,
in CEL, as `JSONPatch{op, path, value}` lists (apiserver
`pkg/admission/plugin/policy/mutating/patch/json_patch.go`), and only ever *adds* what is
absent: an explicit setting, stricter or looser, stays as written (the VAP and Pod Security
Admission judge it), so every conflict rule reads as `keep` here.

Two mutations, evaluated in order (`dispatcher.go`: "Mutations for a single invocation ...
are evaluated in order"), each against the object the previous one left:

1. *parents*: `spec.securityContext` and each container's `securityContext` as `{}` where
   absent. evanphx/json-patch v4 (what the API server applies) fails an `add` whose parent
   is missing, and a second `add` of a whole object would replace the first.
2. *fields*: every control's leaves, all decided on the same object (the hardener decides
   identity from the manifest as written too: :meth:`PodContext.root_kept`,
   :meth:`PodContext.needs_root` are read once).

Idempotent: every op is guarded by the absence of what it adds, so the policy applied to its
own output yields no op (`reinvocationPolicy: IfNeeded` may run it again after a webhook).

The CEL uses `lists.range`, `.flatten()` (cel-go ext.Lists, in the API server's base
environment from 1.34), `upperAscii`, `substring`, `split`, `trim` (ext.Strings, from 1.29)
and no optional syntax, so the tests can evaluate it with cel-python.
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..kube import names
from ..kube.kubelet import PORT_SYSCTL
from ..kube.podspec import LINUX_CAPABILITIES
from ..kube.versions import MAP_V1, MAP_V1BETA1, fmt
from ..options import Options
from ..profile import Profile
from .cel import has_path
from .cel import string as s
from .cel import strings as lst
from .naming import Naming, binding_scope
from .stream import Workload

#: Namespaces the policy is never bound to (the same as the VAP's: hardening the cluster's
#: The container lists a pod CREATE can hold (ephemeral containers come by a subresource
#: the policy does not match).
LISTS = ("initContainers", "containers")
FEATURE_GATE = "MutatingAdmissionPolicy"
LINUX_ONLY_HERE = ("privileged", "capabilities", "allowPrivilegeEscalation", "runAsUser", "runAsGroup",
                   "fsGroup", "supplementalGroups", "seccompProfile", "appArmor", "seLinux",
                   "readOnlyRootFilesystem", "unprivilegedPortStart")


def map_api_version(opts: Options) -> str:
    """admissionregistration.k8s.io/v1 from 1.36; v1beta1 on 1.34-1.35 with --force (the
    feature gate is off by default there and the version needs runtime-config); below: error."""
    if opts.kube >= MAP_V1:
        return "admissionregistration.k8s.io/v1"
    if opts.kube >= MAP_V1BETA1:
        if not opts.force:
            raise UsageError(
                f"--emit map: MutatingAdmissionPolicy is beta on Kubernetes {fmt(opts.kube)} and off by "
                f"default: the API server needs --feature-gates={FEATURE_GATE}=true and "
                "--runtime-config=admissionregistration.k8s.io/v1beta1=true; pass --force to emit "
                "admissionregistration.k8s.io/v1beta1 anyway (v1 is served from 1.36)")
        return "admissionregistration.k8s.io/v1beta1"
    raise UsageError(f"--emit map: MutatingAdmissionPolicy (admissionregistration.k8s.io/v1beta1 from 1.34, "
                     f"v1 from 1.36) is not served by Kubernetes {fmt(opts.kube)}, not even with --force")


def map_objects(workloads: list[Workload], naming: Naming, namespaces: list[str], opts: Options) -> list[dict]:
    """The MutatingAdmissionPolicy and its Binding, scoped like the VAP's binding."""
    api = map_api_version(opts)
    scope = binding_scope(namespaces, "map", "mutate")
    name = naming.name(opts.profile.name, "mutate")
    policy = {"apiVersion": api, "kind": "MutatingAdmissionPolicy", "metadata": naming.metadata(name),
              "spec": policy_spec(opts.profile)}
    binding = {"apiVersion": api, "kind": "MutatingAdmissionPolicyBinding", "metadata": naming.metadata(name),
               "spec": {"policyName": name,
                        "matchResources": {"namespaceSelector": {"matchExpressions": [
                            {"key": names.NAMESPACE_NAME_LABEL, "operator": "In", "values": scope}]}}}}
    return [policy, binding]


def policy_spec(profile: Profile) -> dict:
    """The policy's spec for a profile (independent of the stream)."""
    exprs, variables = mutations(profile)
    return {
        "matchConstraints": {"resourceRules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
        # Ignore: a mutation that errors (a pod shape the CEL did not foresee) must not stop
        # pods from being created; enforcement is the VAP's / Pod Security Admission's job,
        # and they still reject a pod the policy could not harden.
        "failurePolicy": "Ignore",
        "reinvocationPolicy": "IfNeeded",
        "matchConditions": [{"name": "not-opted-out", "expression": NOT_OPTED_OUT}],
        "variables": [{"name": n, "expression": e} for n, e in (*VARIABLES, REFS, *variables)],
        "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": e}} for e in exprs],
    }


# ----------------------------------------------------------------------------- CEL helpers


def val(v: Any) -> str:
    """A CEL literal of a JSON value. The API server's CEL environment type-checks aggregate
    literals as homogeneous (cel-go HomogeneousAggregateLiterals, in
    k8s.io/apiserver/pkg/cel/environment): `{'name': 'x', 'emptyDir': {}}` does not compile,
    so the items of a list or map whose values differ in type are each wrapped in dyn()."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return s(v)
    if isinstance(v, list):
        return "[" + ", ".join(_item(x, v) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{s(k)}: {_item(x, v.values())}" for k, x in v.items()) + "}"
    raise TypeError(v)


def _item(x: Any, siblings) -> str:
    kinds = {bool if isinstance(y, bool) else type(y) for y in siblings}
    return f"dyn({val(x)})" if len(kinds) > 1 else val(x)


def op(kind: str, path: str, value: str | None = None) -> str:
    """A JSONPatch literal; `path` and `value` are CEL expressions."""
    tail = f", value: {value}" if value is not None else ""
    return f"JSONPatch{{op: {s(kind)}, path: {path}{tail}}}"


def when(cond: str, *ops: str) -> str:
    return f"(({cond}) ? [{', '.join(ops)}] : [])"


def cat(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    return " + ".join(parts) if parts else "[]"


def field_is(base: str, path: str, test: str) -> str:
    """`base.path` is set and `test` ({} = the value) holds."""
    return f"({has_path(base, path)} && {test.format(base + '.' + path)})"


POD = "variables.podSC"
ANN = "variables.annotations"


def _annotation_list(key: str) -> str:
    return (f"({s(key)} in {ANN} ? {ANN}[{s(key)}].split(',').map(x, x.trim()).filter(x, x != '') : [])")


NOT_OPTED_OUT = ("!(has(object.metadata.annotations) && " + s(names.SKIP) + " in object.metadata.annotations && "
                 f"object.metadata.annotations[{s(names.SKIP)}].lowerAscii() in ['true', 'yes', '1'])")

def _os_variables() -> tuple[tuple[str, str], ...]:
    """CEL for hardener.kube.nodes.node_os, the one rule the CLI decides a pod's OS by (a
    Windows pod gets no Linux-only field): spec.os.name, else a node selector on an OS label,
    else required node affinity whose every term insists on one OS, else windowsOptions on a
    pod that sets no Linux-only field (the tables of nodes.py, so both stay in step)."""
    from ..kube.nodes import CONTAINER_LINUX_FIELDS, OS_LABELS, POD_LINUX_FIELDS, _items, _true

    oses, labels = val(["windows", "linux"]), val(list(OS_LABELS))
    spec = "object.spec"
    field = (f"({has_path(spec, 'os.name')} && {spec}.os.name in {oses}) ? {spec}.os.name : ''")
    selector = "''"
    for label in reversed(OS_LABELS):
        selector = (f"(has({spec}.nodeSelector) && {s(label)} in {spec}.nodeSelector && "
                    f"{spec}.nodeSelector[{s(label)}] in {oses}) ? {spec}.nodeSelector[{s(label)}] : ({selector})")
    terms = f"{spec}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
    term_os = ("(has(t.matchExpressions) ? t.matchExpressions.filter(e, has(e.key) && e.key in "
               f"{labels} && has(e.operator) && e.operator == 'In' && has(e.values) && size(e.values) > 0 && "
               f"e.values.all(v, v == e.values[0]) && e.values[0] in {oses}).map(e, e.values[0]) : [])")
    first = f"(size({term_os}) > 0 ? {term_os}[0] : '')"
    has_terms = f"{has_path(spec, 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms')} && size({terms}) > 0"
    affinity = (f"({has_terms} && {terms}.all(t, {first} == 'windows')) ? 'windows' : "
                f"(({has_terms} && {terms}.all(t, {first} == 'linux')) ? 'linux' : '')")

    def is_set(base: str, path: str, test) -> str:
        where = has_path(base, path.replace("/", "."))
        value = f"{base}.{path.replace('/', '.')}"
        if test is _true:
            return f"({where} && {value} == true)"
        if test is _items:
            return f"({where} && size({value}) > 0)"
        return f"({where})"

    linux = " || ".join([is_set(spec, path, test) for path, test in POD_LINUX_FIELDS] + [
        "variables.all.exists(c, " + " || ".join(is_set("c", f"securityContext/{f}", test)
                                                 for f, test in CONTAINER_LINUX_FIELDS) + ")"])
    options = (f"({has_path(spec, 'securityContext.windowsOptions')}) || variables.all.exists(c, "
               f"{has_path('c', 'securityContext.windowsOptions')})")
    windows = ("variables.osField != '' ? variables.osField == 'windows' : (variables.osSelector != '' ? "
               "variables.osSelector == 'windows' : (variables.osAffinity != '' ? variables.osAffinity == 'windows' : "
               f"(({options}) && !({linux}))))")
    return (("osField", field), ("osSelector", selector), ("osAffinity", affinity), ("windows", windows))



VARIABLES = (
    ("annotations", "has(object.metadata.annotations) ? object.metadata.annotations : {}"),
    ("skipContainers", _annotation_list(names.SKIP_CONTAINERS)),
    ("skipControls", _annotation_list(names.SKIP_CONTROLS)),
    ("podSC", "has(object.spec.securityContext) ? object.spec.securityContext : {}"),
    # every container of the pod, opted out or not, and those the policy changes
    ("all", "(has(object.spec.initContainers) ? object.spec.initContainers : []) + "
            "(has(object.spec.containers) ? object.spec.containers : [])"),
    ("containers", "variables.all.filter(c, !(c.name in variables.skipContainers))"),
    ("skippedPresent", "variables.all.exists(c, c.name in variables.skipContainers)"),
    *_os_variables(),
    ("portSysctl", f"has({POD}.sysctls) ? {POD}.sysctls.filter(x, has(x.name) && x.name == {s(PORT_SYSCTL)}) : []"),
)


def sc(c: str) -> str:
    return f"{c}.securityContext"


def own(c: str, key: str, test: str) -> str:
    """The container's own setting `key` is set and passes `test`."""
    return field_is(sc(c), key, test)


def eff(c: str, key: str, test: str, unset: str = "false") -> str:
    """`test` on the container's setting, else the pod's, else `unset` (podspec.effective).
    has() on every step from the container: an opted-out container has no securityContext
    (the parents patch skips it), and on the API server `has(c.securityContext.x)` is then
    an error, not false (cel-python answered false: the MAP silently did nothing there)."""
    return (f"({has_path(c, 'securityContext.' + key)} ? {test.format(sc(c) + '.' + key)} : "
            f"(has({POD}.{key}) ? {test.format(POD + '.' + key)} : {unset}))")


def norm(x: str) -> str:
    """podspec.cap_name: upper case, without CAP_."""
    return f"({x}.upperAscii().startsWith('CAP_') ? {x}.upperAscii().substring(4) : {x}.upperAscii())"


def adds_raw(c: str) -> str:
    return f"({has_path(sc(c), 'capabilities.add')} ? {sc(c)}.capabilities.add : [])"


def drops_raw(c: str) -> str:
    return f"({has_path(sc(c), 'capabilities.drop')} ? {sc(c)}.capabilities.drop : [])"


def adds_norm(c: str) -> str:
    return f"{adds_raw(c)}.map(a, {norm('a')})"


def low_ports(c: str) -> str:
    return (f"(has({c}.ports) ? {c}.ports.filter(p, has(p.containerPort) && p.containerPort > 0 && "
            f"p.containerPort < 1024).map(p, p.containerPort) : [])")


def min_of(expr: str) -> str:
    return f"{expr}.filter(p, {expr}.all(q, p <= q))[0]"


class Cel:
    """The CEL of one profile: which controls are active, their options."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.controls = profile.controls
        self.extra: list[tuple[str, str]] = []  # variables the mutations' CEL asked for

    def active(self, cid: str) -> str:
        if cid not in self.controls:
            return "false"
        test = f"!({s(cid)} in variables.skipControls)"
        return f"({test} && !variables.windows)" if cid in LINUX_ONLY_HERE else test

    def opt(self, cid: str, key: str) -> Any:
        return self.controls[cid][key]

    # ---- identity decisions (PodContext.root_kept / needs_root / keeps_identity / will_run_as_root)
    def root_kept(self, c: str) -> str:
        return (f"({own(c, 'privileged', '{} == true')} || {eff(c, 'runAsUser', '{} == 0')} || "
                f"{own(c, 'runAsNonRoot', '{} == false')})")

    def port_blocked(self, ports: str) -> str:
        """port_sysctl_blocker(min(ports)) is not None."""
        value = "variables.portSysctl[0].value"
        return (f"((has(object.spec.hostNetwork) && object.spec.hostNetwork == true) || "
                f"(size(variables.portSysctl) > 0 ? (!has(variables.portSysctl[0].value) || "
                f"!string({value}).matches('^[0-9]+$') || {ports}.exists(p, int(string({value})) > p)) : "
                f"(!{self.active('unprivilegedPortStart')} || variables.skippedPresent)))")

    def needs_root(self, c: str) -> str:
        return (f"({adds_norm(c)}.exists(a, a != 'NET_BIND_SERVICE') || "
                f"(size({low_ports(c)}) > 0 && {self.port_blocked(low_ports(c))}))")

    def keeps(self, c: str) -> str:
        return f"({c}.name in variables.keepers)"

    def runs_as_root(self, c: str) -> str:
        return f"({c}.name in variables.rootRunners)"

    def chosen(self, c: str) -> str:
        return f"({c}.name in variables.chosen)"

    def variables(self) -> list[tuple[str, str]]:
        """Per-container decisions as lists of names (container names are unique in a pod:
        ValidatePodSpec), so each is written once; variables are evaluated again for every
        mutation, on the object it sees."""
        keeps = f"({self.root_kept('c')} || {self.needs_root('c')})"
        root = (f"(!{eff('c', 'runAsNonRoot', '{} == true')} && !({self.active('runAsNonRoot')} && !{self.keeps('c')})"
                f" && ({has_path(sc('c'), 'runAsUser')} || has({POD}.runAsUser) ? {eff('c', 'runAsUser', '{} == 0')}"
                f" : !({self.active('runAsUser')} && !{self.keeps('c')})))")
        # the image's own uid under the manifest's runAsNonRoot (PodContext.image_uid)
        image_uid = (f"{eff('c', 'runAsNonRoot', '{} == true')} && !({has_path('c', 'securityContext.runAsUser')}"
                     f" || has({POD}.runAsUser))")
        return [("keepers", f"variables.containers.filter(c, {keeps}).map(c, c.name)"),
                ("rootRunners", f"variables.containers.filter(c, {root}).map(c, c.name)"),
                ("imageUid", f"variables.windows ? [] : variables.all.filter(c, {image_uid}).map(c, c.name)"),
                ("chosen", f"variables.all.filter(c, {eff('c', 'runAsUser', '{} > 0')}"
                           " || c.name in variables.imageUid).map(c, c.name)")] + self.extra

    # ---- identity (controls/identity.py _identity), keep rule
    def identity(self, cid: str, field: str, value: Any) -> tuple[str, callable]:
        """(pod-level ops, per-container ops builder) for one identity field."""
        left = {"runAsGroup": self.chosen, "runAsUser": lambda c: f"({c}.name in variables.imageUid)"}.get(
            cid, lambda c: "false")
        act = self.active(cid)
        if cid == "runAsNonRoot":  # Windows pods take RunAsNonRoot._windows instead
            act = f"({act} && !variables.windows)"
        done = f"(has({POD}.{field}) || variables.containers.all(c, {has_path(sc('c'), field)}))"
        pod_mode = (f"(!variables.containers.exists(c, {self.keeps('c')} || {left('c')}) && "
                    f"size(variables.skipContainers) == 0)")
        # written once, as variables: whether the field goes to pod level, or to containers
        self.extra.append((f"{field}Pod", f"{act} && !{done} && {pod_mode}"))
        self.extra.append((f"{field}PerContainer", f"{act} && !{done} && !{pod_mode}"))
        pod = when(f"variables.{field}Pod", op("add", s(f"/spec/securityContext/{field}"), val(value)))

        def per_container(c: str, path: str) -> str:
            return when(f"variables.{field}PerContainer && !{has_path(sc(c), field)} && !{left(c)} && "
                        f"!{self.keeps(c)}", op("add", f"{path} + '/securityContext/{field}'", val(value)))
        return pod, per_container

    def windows_non_root(self, c: str, path: str) -> str:
        """RunAsNonRoot._windows: only for a named user other than ContainerAdministrator."""
        if "runAsNonRoot" not in self.controls:
            return ""
        user = (f"({has_path(sc(c), 'windowsOptions.runAsUserName')} ? {sc(c)}.windowsOptions.runAsUserName : "
                f"({has_path(POD, 'windowsOptions.runAsUserName')} ? {POD}.windowsOptions.runAsUserName : ''))")
        return when(f"!({s('runAsNonRoot')} in variables.skipControls) && variables.windows && "
                    f"!has({POD}.runAsNonRoot) && !{has_path(sc(c), 'runAsNonRoot')} && {user} != '' && "
                    f"{user} != 'ContainerAdministrator'",
                    op("add", f"{path} + '/securityContext/runAsNonRoot'", "true"))

    # ---- per container
    def container_ops(self, c: str, path: str, identity: list) -> str:
        parts = []
        scp = f"{path} + '/securityContext"
        if "privileged" in self.controls:
            parts.append(when(f"{self.active('privileged')} && !{has_path(sc(c), 'privileged')}",
                              op("add", scp + "/privileged'", "false")))
        if "capabilities" in self.controls:
            parts.append(self.capabilities(c, scp))
        if "allowPrivilegeEscalation" in self.controls:
            sysadmin = f"{adds_raw(c)}.exists(a, a == 'CAP_SYS_ADMIN')"
            if "capabilities" in self.controls:  # its spelling fix turns CAP_SYS_ADMIN into SYS_ADMIN first
                sysadmin = f"({sysadmin} && !{self.active('capabilities')})"
            parts.append(when(f"{self.active('allowPrivilegeEscalation')} && "
                              f"!{has_path(sc(c), 'allowPrivilegeEscalation')} && "
                              f"!{own(c, 'privileged', '{} == true')} && !{sysadmin}",
                              op("add", scp + "/allowPrivilegeEscalation'", "false")))
        parts.append(self.windows_non_root(c, path))
        parts += [build(c, path) for build in identity]
        for cid, field in (("seccompProfile", "seccompProfile"), ("appArmor", "appArmorProfile")):
            if cid in self.controls:
                parts.append(when(f"{self.active(cid)} && {self.confine_per_container(cid)} && "
                                  f"!{has_path(sc(c), field)}",
                                  op("add", scp + f"/{field}'", val(self.profile_field(cid)))))
        if "readOnlyRootFilesystem" in self.controls:
            act = self.active("readOnlyRootFilesystem")
            parts.append(when(f"{act} && !{has_path(sc(c), 'readOnlyRootFilesystem')}",
                              op("add", scp + "/readOnlyRootFilesystem'", "true")))
            paths = self.opt("readOnlyRootFilesystem", "writablePaths")
            if paths:
                kept_false = own(c, "readOnlyRootFilesystem", "{} == false")
                wanted = (f"{val([{'name': _volume_name(p), 'mountPath': p} for p in paths])}"
                          f".filter(m, !{self.mounted(c, 'm.mountPath')})")
                cond = f"{act} && !{kept_false}"
                parts.append(f"(({cond}) ? (has({c}.volumeMounts) ? {wanted}.map(m, "
                             f"{op('add', path + ' + ' + s('/volumeMounts/-'), 'm')}) : "
                             f"(size({wanted}) > 0 ? [{op('add', path + ' + ' + s('/volumeMounts'), wanted)}] : []))"
                             " : [])")
        return cat(parts)

    def mounted(self, c: str, mount_path: str) -> str:
        return (f"(has({c}.volumeMounts) && {c}.volumeMounts.exists(v, has(v.mountPath) && "
                f"(v.mountPath == {mount_path} || v.mountPath == {mount_path} + '/')))")

    def capabilities(self, c: str, scp: str) -> str:
        """Capabilities.plan, keep rule: drop what the profile drops (appended), spell names as
        Kubernetes does, add NET_BIND_SERVICE for a low port and rootAdd to a container that
        stays root once ALL is newly dropped; explicit extra adds stay."""
        o = self.controls["capabilities"]
        drop, allowed = list(o["drop"]), {a for a in o["allowAdd"]}
        missing = f"{lst(drop)}.filter(w, !{drops_raw(c)}.exists(d, {norm('d')} == w))"
        nbs = (f"(size({low_ports(c)}) > 0 && !({adds_norm(c)}.exists(a, a == 'NET_BIND_SERVICE')) ? "
               "['NET_BIND_SERVICE'] : [])") if o["netBindService"] and "NET_BIND_SERVICE" in allowed else "[]"
        root = "[]"
        if "ALL" in drop and o["rootAdd"]:
            root = (f"(!{drops_raw(c)}.exists(d, {norm('d')} == 'ALL') && {self.runs_as_root(c)} ? "
                    f"{lst(o['rootAdd'])}.filter(cap, !({adds_norm(c)}.exists(a, a == cap))) : [])")
        wanted = f"({nbs} + {root})"
        caps = f"{sc(c)}.capabilities"
        # spelling: the first drop of each wanted capability spelled otherwise; adds spelled CAP_x / lower case
        spell_drop = " + ".join(
            f"lists.range(size({drops_raw(c)})).filter(j, {norm(drops_raw(c) + '[j]')} == {s(w)} && "
            f"{drops_raw(c)}[j] != {s(w)} && !lists.range(j).exists(k, {norm(drops_raw(c) + '[k]')} == {s(w)}))"
            f".map(j, {op('replace', scp + '/capabilities/drop/' + chr(39) + ' + string(j)', s(w))})"
            for w in drop) or "[]"
        spell_add = (f"lists.range(size({adds_raw(c)})).filter(j, {norm(adds_raw(c) + '[j]')} != {adds_raw(c)}[j] && "
                     f"{norm(adds_raw(c) + '[j]')} in {lst(sorted(LINUX_CAPABILITIES))})"
                     f".map(j, {op('replace', scp + '/capabilities/add/' + chr(39) + ' + string(j)', norm(adds_raw(c) + '[j]'))})")
        new = (f"(size({missing}) > 0 && size({wanted}) > 0 ? {{'drop': {missing}, 'add': {wanted}}} : "
               f"(size({missing}) > 0 ? {{'drop': {missing}}} : {{'add': {wanted}}}))")
        absent = when(f"!has({caps}) && (size({missing}) > 0 || size({wanted}) > 0)",
                      op("add", scp + "/capabilities'", new))
        present = (f"(has({caps}) ? ({spell_drop}) + {spell_add} + "
                   f"(has({caps}.drop) ? {missing}.map(w, {op('add', scp + '/capabilities/drop/-' + chr(39), 'w')}) : "
                   f"(size({missing}) > 0 ? [{op('add', scp + '/capabilities/drop' + chr(39), missing)}] : [])) + "
                   f"(has({caps}.add) ? {wanted}.map(w, {op('add', scp + '/capabilities/add/-' + chr(39), 'w')}) : "
                   f"(size({wanted}) > 0 ? [{op('add', scp + '/capabilities/add' + chr(39), wanted)}] : [])) : [])")
        return (f"(({self.active('capabilities')} && !{own(c, 'privileged', '{} == true')}) ? "
                f"{absent} + {present} : [])")

    # ---- seccomp / AppArmor (kernel.py _confine), field era (MAP is served from 1.34)
    def confine_blocked(self, cid: str, pod_annotation: bool = True) -> str:
        """An annotation of this kind on the pod: the hardener mirrors or keeps it; the policy
        leaves the pod alone (documented limit) — but for seccomp's pod annotation at pod
        level, which it mirrors as the hardener does (:meth:`seccomp_pod_value`)."""
        prefixes = [names.SECCOMP_CONTAINER_PREFIX] if cid == "seccompProfile" else [names.APPARMOR_CONTAINER_PREFIX]
        exact = [names.SECCOMP_POD] if cid == "seccompProfile" and pod_annotation else []
        terms = [f"{s(k)} in {ANN}" for k in exact]
        terms += [f"{ANN}.exists(k, k.startsWith({s(p)}))" for p in prefixes]
        return "(" + " || ".join(terms) + ")"

    def seccomp_pod_value(self) -> tuple[str, str]:
        """(condition, value): the pod-level seccompProfile the hardener writes — the kept
        `seccomp.security.alpha.kubernetes.io/pod` annotation mirrored in the field
        (kernel.py _field_for_annotation: runtime/ and docker/default -> RuntimeDefault,
        localhost/NAME -> Localhost NAME for a relative NAME without `..`; anything else, as
        unconfined, gets nothing), else the profile's."""
        ann = f"{ANN}[{s(names.SECCOMP_POD)}]"
        name = f"{ann}.substring(10)"
        local = (f"({ann}.startsWith('localhost/') && size({name}) > 0 && !{name}.startsWith('/') && "
                 f"!{name}.replace('\\\\', '/').split('/').exists(p, p == '..'))")
        default = f"({ann} in ['runtime/default', 'docker/default'])"
        present = f"({s(names.SECCOMP_POD)} in {ANN})"
        cond = f"(!{present} || {default} || {local})"
        value = (f"({present} ? ({default} ? {{'type': 'RuntimeDefault'}} : "
                 f"{{'type': 'Localhost', 'localhostProfile': {name}}}) : {val(self.profile_field('seccompProfile'))})")
        return cond, value

    def confine_per_container(self, cid: str) -> str:
        field = "seccompProfile" if cid == "seccompProfile" else "appArmorProfile"
        return (f"(!{self.confine_blocked(cid)} && !has({POD}.{field}) && size(variables.skipContainers) > 0)")

    def profile_field(self, cid: str) -> dict:
        o = self.controls[cid]
        out = {"type": o["type"]}
        if o["type"] == "Localhost":
            out["localhostProfile"] = o["localhostProfile"]
        return out

    # ---- pod level
    def pod_ops(self) -> list[str]:
        out = []
        for cid, field in (("seccompProfile", "seccompProfile"), ("appArmor", "appArmorProfile")):
            if cid not in self.controls:
                continue
            if cid == "seccompProfile":
                cond, value = self.seccomp_pod_value()
                out.append(when(f"{self.active(cid)} && !{self.confine_blocked(cid, pod_annotation=False)} && "
                                f"{cond} && !has({POD}.{field}) && size(variables.skipContainers) == 0",
                                op("add", s(f"/spec/securityContext/{field}"), value)))
                continue
            out.append(when(f"{self.active(cid)} && !{self.confine_blocked(cid)} && !has({POD}.{field}) && "
                            "size(variables.skipContainers) == 0",
                            op("add", s(f"/spec/securityContext/{field}"), val(self.profile_field(cid)))))
        if "fsGroup" in self.controls:
            out.append(self.fs_group())
        if "supplementalGroups" in self.controls and self.opt("supplementalGroups", "groups"):
            out.append(when(f"{self.active('supplementalGroups')} && !has({POD}.supplementalGroups) && "
                            "!variables.skippedPresent",
                            op("add", s("/spec/securityContext/supplementalGroups"),
                               val(list(self.opt("supplementalGroups", "groups"))))))
        if "seLinux" in self.controls and self.opt("seLinux", "options"):
            out.append(when(f"{self.active('seLinux')} && !has({POD}.seLinuxOptions) && !variables.skippedPresent",
                            op("add", s("/spec/securityContext/seLinuxOptions"),
                               val(dict(self.opt("seLinux", "options"))))))
        if "unprivilegedPortStart" in self.controls:
            out.append(self.port_sysctl())
        if "readOnlyRootFilesystem" in self.controls and self.opt("readOnlyRootFilesystem", "writablePaths"):
            out.append(self.scratch_volumes())
        return out

    def fs_group(self) -> str:
        o = self.controls["fsGroup"]
        act = self.active("fsGroup")
        all_chosen = f"(size(variables.all) > 0 && variables.all.all(c, {self.chosen('c')}))"
        first = "variables.containers[0]"
        group_of = (lambda c: f"({has_path(sc(c), 'runAsGroup')} ? {sc(c)}.runAsGroup : {POD}.runAsGroup)")
        one_group = (f"(size(variables.containers) > 0 && variables.containers.all(c, "
                     f"{eff('c', 'runAsGroup', '{} != 0')} && {group_of('c')} == {group_of(first)}))")
        value = f"({all_chosen} ? {group_of(first)} : {o['value']})"
        sets = f"!has({POD}.fsGroup) && !variables.skippedPresent && (!{all_chosen} || {one_group})"
        out = when(f"{act} && {sets}", op("add", s("/spec/securityContext/fsGroup"), value))
        if o["changePolicy"]:
            # FsGroup.plan returns before the change policy on a kept fsGroup 0, an opt-out, or no shared group
            reached = f"(has({POD}.fsGroup) ? {POD}.fsGroup != 0 : ({sets}))"
            out += " + " + when(f"{act} && {reached} && !has({POD}.fsGroupChangePolicy)",
                                op("add", s("/spec/securityContext/fsGroupChangePolicy"), s(o["changePolicy"])))
        return out

    def port_sysctl(self) -> str:
        ports = (f"variables.containers.filter(c, !{self.runs_as_root('c')})"
                 f".map(c, {low_ports('c')}).flatten()")
        value = f"{{'name': {s(PORT_SYSCTL)}, 'value': string({min_of(ports)})}}"
        cond = (f"{self.active('unprivilegedPortStart')} && size({ports}) > 0 && "
                "!(has(object.spec.hostNetwork) && object.spec.hostNetwork == true) && "
                "size(variables.portSysctl) == 0 && !variables.skippedPresent")
        return (f"(({cond}) ? (has({POD}.sysctls) ? [{op('add', s('/spec/securityContext/sysctls/-'), value)}] : "
                f"[{op('add', s('/spec/securityContext/sysctls'), '[' + value + ']')}]) : [])")

    def scratch_volumes(self) -> str:
        paths = self.opt("readOnlyRootFilesystem", "writablePaths")
        medium = {"medium": "Memory"} if self.opt("readOnlyRootFilesystem", "memoryBacked") else {}
        act = self.active("readOnlyRootFilesystem")
        vols = []
        for p in paths:
            name = _volume_name(p)
            needed = (f"variables.containers.exists(c, !{own('c', 'readOnlyRootFilesystem', '{} == false')} && "
                      f"!{self.mounted('c', s(p))})")
            present = f"(has(object.spec.volumes) && object.spec.volumes.exists(v, has(v.name) && v.name == {s(name)}))"
            vols.append(f"({needed} && !{present} ? [{val({'name': name, 'emptyDir': medium})}] : [])")
        wanted = "(" + " + ".join(vols) + ")"
        return (f"({act} ? (has(object.spec.volumes) ? {wanted}.map(v, {op('add', s('/spec/volumes/-'), 'v')}) : "
                f"(size({wanted}) > 0 ? [{op('add', s('/spec/volumes'), wanted)}] : [])) : [])")


def _volume_name(path: str) -> str:
    from ..controls.filesystem import volume_name

    return volume_name(path)


def _each_container(body) -> str:
    """Ops of `body(container, path)` for every container the policy changes: one pass over
    `variables.refs` (list name and index of each), so the CEL is written once."""
    # the container by a test on the list's name: the API server's CEL types object.spec by
    # its schema, which cannot be indexed with a string (cel-python could)
    c = " : ".join(f"r.list == {s(lname)} ? object.spec.{lname}[r.i]" for lname in LISTS[:-1]) \
        + f" : object.spec.{LISTS[-1]}[r.i]"
    c = f"({c})"
    path = "'/spec/' + r.list + '/' + string(r.i)"
    return f"variables.refs.map(r, {body(c, path)}).flatten()"


#: (list name, index) of every container the policy changes. The values are dyn: the API
#: server's CEL (cel-go) refuses a map literal with values of two types, which cel-python took.
REFS = ("refs", " + ".join(
    f"(has(object.spec.{lname}) ? lists.range(size(object.spec.{lname})).filter(i, "
    f"!(object.spec.{lname}[i].name in variables.skipContainers)).map(i, {{'list': dyn({s(lname)}), 'i': dyn(i)}}) : [])"
    for lname in LISTS))


def mutations(profile: Profile) -> tuple[list[str], list[tuple[str, str]]]:
    """The two JSONPatch expressions (parents, then every control's fields) and the
    variables they use after :data:`VARIABLES`."""
    cel = Cel(profile)
    parents = (when("!has(object.spec.securityContext)", op("add", s("/spec/securityContext"), "{}")) + " + "
               + _each_container(lambda c, path: when(f"!has({c}.securityContext)",
                                                      op("add", f"{path} + '/securityContext'", "{}"))))
    pod_identity, per_container = [], []
    for cid, field, value in (("runAsNonRoot", "runAsNonRoot", True),
                              ("runAsUser", "runAsUser", None), ("runAsGroup", "runAsGroup", None)):
        if cid in profile.controls:
            pod, build = cel.identity(cid, field, True if value else profile.controls[cid]["value"])
            pod_identity.append(pod)
            per_container.append(build)
    fields = cat(pod_identity + cel.pod_ops() + [_each_container(
        lambda c, path: cel.container_ops(c, path, per_container))])
    return [parents, fields], cel.variables()
