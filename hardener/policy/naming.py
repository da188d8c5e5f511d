"""Names and labels of generated objects: stable, collision-free, owned by the release."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..kube.names import GENERATOR, INSTANCE_LABEL, MANAGED_BY_LABEL
from ..kube.podspec import dig as _get
from ..options import Options
from .stream import Workload


@dataclass(frozen=True)
class Naming:
    """Stable, collision-free names: `k8s-harden-<policy>[-<part>]`."""

    part: str  # --name-prefix or the release; "" when neither is known
    instance: str  # the release from app.kubernetes.io/instance, "" if none

    @classmethod
    def of(cls, workloads: list[Workload], opts: Options) -> "Naming":
        """The release is the most common `app.kubernetes.io/instance` (ties: by name)."""
        counts = Counter(v for v in (_get(w.result.templates[0].metadata, "labels", INSTANCE_LABEL)
                                     for w in workloads) if isinstance(v, str) and v)
        instance = min(counts, key=lambda v: (-counts[v], v)) if counts else ""
        return cls(_slug(opts.name_prefix or instance), instance)

    def name(self, *parts: str) -> str:
        return dns_name("k8s-harden", *parts, self.part)

    def metadata(self, name: str, namespace: str = "", annotations: dict | None = None) -> dict:
        labels = {MANAGED_BY_LABEL: GENERATOR}
        if self.instance:
            labels[INSTANCE_LABEL] = self.instance
        meta: dict[str, Any] = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        return meta


def dns_name(*parts: str) -> str:
    """Join parts into a DNS-1123 subdomain (<= 253 chars, a hash keeps long ones unique)."""
    name = "-".join(_slug(p) for p in parts if _slug(p))
    if len(name) > 253:
        name = name[:244].rstrip("-.") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def _slug(text: str | None) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9.-]", "-", (text or "").lower())).strip("-.")


#: Namespaces an admission policy is never bound to: it would act on the cluster's own pods.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def binding_scope(namespaces: list[str], emit: str, effect: str) -> list[str]:
    """The stream's namespaces a policy binding may select (never the system ones); a usage
    error when none is left (`effect`: what the policy would do to the cluster's own pods)."""
    scope = [ns for ns in namespaces if ns not in SYSTEM_NAMESPACES]
    if not scope:
        from ..errors import UsageError

        where = f"only system namespaces ({', '.join(namespaces)})" if namespaces else "no namespace"
        raise UsageError(f"--emit {emit}: the stream names {where} to bind the policy to, and a policy "
                         f"bound cluster-wide or to a system namespace would {effect} the cluster's own "
                         "pods; pass --namespace NS (Helm gives a post-renderer no release namespace: "
                         "--post-renderer-args=--namespace=NS, the release's)")
    return scope
