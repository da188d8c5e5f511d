"""k8s-harden: harden the pod templates of rendered Kubernetes manifests."""

from . import pyyaml  # noqa: F401 - first, before any module imports yaml (see its docstring)

__version__ = "0.1.0"
