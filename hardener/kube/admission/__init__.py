"""What would go wrong with a pod template: at the API server, at the kubelet, once running.

:func:`check` reads one pod template (a dict with optional `metadata` and `spec`: a
Deployment's `spec.template`, or a Pod without apiVersion and kind) for a target Kubernetes
version and a node described by :class:`NodeFeatures`, and returns a :class:`Finding` per
problem. Three groups of rules, each with a stable id (:data:`RULES`):

* ``api/...``: what the API server rejects (pkg/apis/core/validation/validation.go). Pods and
  the templates of ValidatePodTemplateSpec are treated alike; a StatefulSet's template is
  accepted and each of its Pods rejected instead.
* ``kubelet/...``: what the kubelet refuses at pod admission or container creation. A problem
  the API server already rejects at the target version is not reported again here.
* ``runtime/...``: what does not work once the container runs (Linux semantics).

Upstream works on typed Go structs, so the input is read the same way: a field of the wrong
JSON type is absent, a list element that is not an object is skipped, and nothing here
raises on pod data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..versions import Version
from . import api, kubelet, runtime
from .view import NodeFeatures, TemplateView

__all__ = ["MALFORMED", "RULES", "Finding", "NodeFeatures", "check"]


@dataclass(frozen=True)
class Finding:
    rule: str  # stable rule id, e.g. "kubelet/appArmorUnavailable"
    severity: str  # "error" | "warning"
    container: str | None  # container name, or None for the pod
    path: str  # JSON pointer from the template root (/spec/..., /metadata/...)
    message: str  # one line: the field and the consequence
    source: str  # the upstream "file: function" the rule mirrors


#: every rule, in report order: api, kubelet, runtime
REGISTRY = api.RULES + kubelet.RULES + runtime.RULES

#: rule id -> (title, description), for reports and SARIF help.
RULES: dict[str, tuple[str, str]] = {r.id: (r.title, r.description) for r in REGISTRY}
#: The structural rule of hardener.kube.shape, reported per problem by the audit.
MALFORMED = "api/malformed"
RULES[MALFORMED] = (
    "Malformed workload",
    "The API server cannot decode the workload (no apiVersion; metadata, securityContext, "
    "volumes, a container list or a container of the wrong JSON type) or rejects it for any "
    "pod (a built-in kind without containers, a container without a name). It is "
    "not hardened and no Pod Security level is claimed for it.")


def check(template: Any, kube: Version, node: NodeFeatures = NodeFeatures()) -> list[Finding]:
    """Everything that would go wrong with `template` at Kubernetes `kube` on `node`, in rule
    order. Never raises on malformed pod data."""
    p = TemplateView(template, kube, node)
    return [Finding(r.id, h.severity, h.container, h.path, h.message, r.source)
            for r in REGISTRY for h in r.check(p)]
