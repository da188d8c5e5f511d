"""Every annotation and label k8s-harden reads or writes, by who owns it.

Names under `k8s-harden.io/` are ours; the others belong to Kubernetes, Helm, Kustomize or
the KRM function specification and are spelled exactly as they define them.
"""

from __future__ import annotations

# ---- ours: opt-outs on a workload's or pod template's metadata
PREFIX = "k8s-harden.io/"
SKIP = PREFIX + "skip"
SKIP_CONTAINERS = PREFIX + "skip-containers"
SKIP_CONTROLS = PREFIX + "skip-controls"
# ---- ours: on generated exception policies
EXCEPTION_FOR = PREFIX + "exception-for"
EXCEPTION_REASONS = PREFIX + "exception-reasons"

# ---- Kubernetes recommended labels (generated objects carry them)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
GENERATOR = "k8s-harden"  # our value of MANAGED_BY_LABEL
INSTANCE_LABEL = "app.kubernetes.io/instance"
#: Set by the API server on every Namespace (from 1.21): what a namespaceSelector can match.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# ---- node OS labels (well-known labels; the beta one is deprecated but still common)
OS_LABEL = "kubernetes.io/os"
BETA_OS_LABEL = "beta.kubernetes.io/os"

# ---- security annotations from before the fields existed
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
#: PodSecurityPolicy's own annotation prefixes (allowedProfileNames, defaultProfileName).
PSP_SECCOMP_PREFIX = "seccomp.security.alpha.kubernetes.io/"
PSP_APPARMOR_PREFIX = "apparmor.security.beta.kubernetes.io/"

# ---- Pod Security Admission namespace labels
PSA_LABEL_PREFIX = "pod-security.kubernetes.io/"

# ---- Helm
HELM_HOOK = "helm.sh/hook"
#: Helm 4 puts it on every document it hands a post-renderer, and maps documents back by it.
HELM4_FILENAME = "postrenderer.helm.sh/postrender-filename"

# ---- Kustomize / KRM functions: where an item came from
KRM_PATH = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
KRM_INDEX = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
#: Annotation prefixes of the orchestrator's bookkeeping (file path, index, ids): kpt and
#: kustomize set them on items, and a function must keep them.
KRM_BOOKKEEPING = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "config.k8s.io/")


def listed(value: object) -> frozenset:
    """The names of a comma-separated annotation value (`skip-containers: "a, b"`)."""
    if not isinstance(value, str):
        return frozenset()
    return frozenset(x.strip() for x in value.split(",") if x.strip())
