"""Is a workload well-formed enough to harden? The structure the API server needs to read it.

The controls and the Pod Security checks read pod data the way upstream reads typed Go
structs: a field of the wrong JSON type counts as absent. That is right for judging what a
*valid* object does, and wrong for an object the API server cannot decode or always
rejects: hardening it would change a manifest that never runs, and a PSS level computed
from a reading that dropped `containers: "oops"` would be a claim about another object.
So a malformed workload is skipped with the reason, and no level is claimed for it.

Only what makes the object undecodable or invalid for *every* pod is checked here (the
rules about individual settings are :mod:`hardener.kube.admission`'s):

* the resource names its `apiVersion` (apimachinery pkg/runtime/error.go:
  NewMissingVersionErr, "Object 'apiVersion' is missing");
* the fields hardening reads and writes have their JSON type (a decode error otherwise:
  `metadata`, `securityContext`, the container lists and each container, `volumes`);
* built-in kinds have at least one container, and every container a name
  (pkg/apis/core/validation/validation.go: validateContainers, validateContainerCommon):
  the name is how opt-outs, AppArmor annotations and the report refer to a container. A
  missing image is rejected too, but changes nothing about hardening, and is left to the
  API server. A custom resource's schema is its own, so for CRDs only the types are checked.
"""

from __future__ import annotations

from typing import Any

from ..record import FrozenRecord
from .podspec import CONTAINER_LISTS
from .pointer import join

_VALIDATION = "pkg/apis/core/validation/validation.go"
_DECODE = "k8s.io/apimachinery json decoding (a field of the wrong JSON type)"


class Problem(FrozenRecord):
    """What makes a workload malformed: `path` (a JSON pointer from the resource for
    apiVersion, from the template for the rest), `message`, `source` (the upstream
    function or behaviour it mirrors), `in_template`."""

    __slots__ = _fields = ("path", "message", "source", "in_template")

    def __init__(self, path: str, message: str, source: str, in_template: bool = True) -> None:
        self._init(path, message, source, in_template)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _typed(obj: dict, key: str, want: type, where: str) -> Problem | None:
    """A present, non-null field of the wrong JSON type (null decodes as unset)."""
    value = obj.get(key)
    if value is None or isinstance(value, want):
        return None
    expected = "a mapping" if want is dict else "a list"
    return Problem(join(where, key), f"{key} is {_kind_of(value)}, must be {expected}", _DECODE)


def problems(resource: dict, template: dict, builtin: bool) -> list[Problem]:
    """What makes the workload undecodable or always invalid, first problem first (empty
    when well-formed). `template` is the pod template (metadata + spec) inside `resource`;
    `builtin`: a Kubernetes kind, whose pod spec the API server validates itself."""
    found: list[Problem] = []
    api_version = resource.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        found.append(Problem("/apiVersion", "apiVersion is missing: the API server cannot "
                             "decode the object", "apimachinery pkg/runtime/error.go: "
                             "NewMissingVersionErr", in_template=False))
    spec = template["spec"]
    for p in (_typed(template, "metadata", dict, ""), _typed(spec, "securityContext", dict, "/spec"),
              _typed(spec, "volumes", list, "/spec")):
        if p:
            found.append(p)
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        where = f"/spec/{list_name}"
        if items is not None and not isinstance(items, list):
            found.append(Problem(where, f"{list_name} is {_kind_of(items)}, must be a list", _DECODE))
            continue
        for i, c in enumerate(items or ()):
            at = f"{where}/{i}"
            if not isinstance(c, dict):
                found.append(Problem(at, f"{list_name}[{i}] is {_kind_of(c)}, must be a "
                                     "container (a mapping)", _DECODE))
                continue
            p = _typed(c, "securityContext", dict, at)
            if p:
                found.append(p)
            if builtin and (not isinstance(c.get("name"), str) or not c["name"]):
                found.append(Problem(join(at, "name"), f"{list_name}[{i}].name is required "
                                     "(a non-empty string)", f"{_VALIDATION}: validateContainerCommon"))
    if builtin and isinstance(spec.get("containers", []), list) and not spec.get("containers"):
        found.append(Problem("/spec/containers", "spec.containers is required (at least one "
                             "container)", f"{_VALIDATION}: validateContainers"))
    return found
