"""Service meshes that inject containers into pods after hardening: Istio and Linkerd.

A mesh's mutating webhook adds its proxy — and, unless the mesh's CNI plugin sets up the
traffic redirection, an init container that needs NET_ADMIN and NET_RAW (Istio's
`istio-init` as root, Linkerd's `linkerd-init`) — to every new pod of a meshed namespace.
Neither Pod Security level admits those capabilities (the baseline list has neither), so a
namespace enforcing baseline or restricted rejects every new pod there. The mesh's own
guides say so: Istio "Install Istio with Pod Security Admission" (enforce baseline, with the
Istio CNI plugin), Linkerd "CNI Plugin" (the plugin "avoids the need for a CAP_NET_ADMIN
capability"). What k8s-harden does about it: :mod:`hardener.policy.psa` caps `enforce` and
the ValidatingAdmissionPolicy leaves the injected containers to the mesh (docs/policy.md).
"""

from __future__ import annotations

from typing import Any

from ..record import Record


class Mesh(Record):
    """A mesh: its name, the containers its injector adds (with and without its CNI plugin),
    and the strictest `enforce` level its injected pods pass without and with the plugin."""

    _fields = ("name", "containers", "enforce", "enforce_with_cni", "cni")

    def __init__(self, name: str, containers: tuple[str, ...], enforce: str, enforce_with_cni: str,
                 cni: str) -> None:
        self.name, self.containers, self.enforce, self.enforce_with_cni, self.cni = (
            name, containers, enforce, enforce_with_cni, cni)


MESHES = {
    "istio": Mesh("Istio", ("istio-init", "istio-proxy", "istio-validation"), "privileged", "baseline",
                  "the Istio CNI plugin"),
    "linkerd": Mesh("Linkerd", ("linkerd-init", "linkerd-proxy", "linkerd-network-validator"), "privileged",
                    "baseline", "the linkerd-cni plugin"),
}


def _dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def namespace_mesh(metadata: Any) -> tuple[str, str] | None:
    """(mesh id, why) when a Namespace's metadata turns sidecar injection on."""
    labels, ann = _dict(_dict(metadata).get("labels")), _dict(_dict(metadata).get("annotations"))
    if labels.get("istio.io/dataplane-mode") == "ambient":
        return None  # ambient mode injects nothing into the pods
    if labels.get("istio-injection") == "enabled":
        return "istio", "label istio-injection=enabled"
    if labels.get("istio.io/rev") and labels.get("istio-injection") != "disabled":
        return "istio", f"label istio.io/rev={labels['istio.io/rev']}"
    if ann.get("linkerd.io/inject") == "enabled":
        return "linkerd", "annotation linkerd.io/inject=enabled"
    return None


def template_mesh(metadata: Any) -> tuple[str, str] | None:
    """(mesh id, why) when a pod template asks for injection itself."""
    labels, ann = _dict(_dict(metadata).get("labels")), _dict(_dict(metadata).get("annotations"))
    for where, values in (("label", labels), ("annotation", ann)):
        if str(values.get("sidecar.istio.io/inject", "")).lower() == "true":
            return "istio", f"{where} sidecar.istio.io/inject=true"
    if ann.get("linkerd.io/inject") == "enabled":
        return "linkerd", "annotation linkerd.io/inject=enabled"
    return None


def mesh_of(namespace_metadata: Any, templates: list[dict]) -> tuple[str, str] | None:
    """(mesh id, why) of pods in a namespace: the Namespace's own keys decide, else a pod
    template that asks for injection itself."""
    return namespace_mesh(namespace_metadata) or next(
        (m for m in (template_mesh(t.get("metadata")) for t in templates) if m), None)
