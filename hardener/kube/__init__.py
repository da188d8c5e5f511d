"""Kubernetes facts, no behaviour: names, versions, JSON pointers, the pod spec's shape and
the table of workload kinds. Every other module reads these facts from here."""
