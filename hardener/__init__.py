"""k8s-harden: harden the pod templates of rendered Kubernetes manifests."""

__version__ = "0.1.0"
