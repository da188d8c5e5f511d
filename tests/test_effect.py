"""--check fails only where hardening changes what runs (issue #23 item 4): the rules of
hardener/kube/effect.py, each from the Kubernetes source it cites, and the CLI's exit code."""

from __future__ import annotations

import pytest

from helpers import invoke

from hardener.kube.effect import changes_what_runs

POD = {"spec": {"securityContext": {"runAsUser": 1000},
                "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                                                                 "runAsNonRoot": True}}],
                "initContainers": [{"name": "i", "securityContext": {"seccompProfile": {"type": "Localhost"}}}]}}


@pytest.mark.parametrize("op, rel, value, made, runs", [
    # pkg/securitycontext/util.go HasPrivilegedRequest: unset privileged is false
    ("add", "/spec/containers/0/securityContext/privileged", False, [], False),
    ("add", "/spec/containers/0/securityContext/privileged", True, [], True),
    ("add", "/spec/containers/0/securityContext", {"privileged": False}, [], False),
    ("add", "/spec/containers/0/securityContext", {"privileged": False, "capabilities": {"drop": ["ALL"]}}, [], True),
    # pkg/apis/core/v1/defaults.go SetDefaults_SecurityContext: unset procMount is Default
    ("add", "/spec/containers/0/securityContext/procMount", "Default", [], False),
    # pkg/securitycontext/util.go DetermineEffectiveSecurityContext: the container's own wins
    ("add", "/spec/securityContext/seccompProfile", {"type": "RuntimeDefault"}, [], False),
    ("add", "/spec/securityContext/runAsNonRoot", True, [], True),  # the init container has none
    ("add", "/spec/containers/0/securityContext/runAsUser", 1000, [], False),  # the pod's already
    ("add", "/spec/containers/0/securityContext/runAsUser", 1001, [], True),
    # ... but only a setting that was there before: both halves added change what runs
    ("add", "/spec/securityContext/seccompProfile", {"type": "RuntimeDefault"},
     ["/spec/containers/0/securityContext/seccompProfile"], True),
    ("add", "/spec/containers/0/securityContext/runAsUser", 1000, ["/spec/securityContext/runAsUser"], True),
    # pkg/volume/volume_linux.go SetVolumeOwnership: no fsGroup, no ownership change
    ("add", "/spec/securityContext/fsGroupChangePolicy", "OnRootMismatch", [], False),
    # everything else counts
    ("add", "/spec/securityContext/fsGroup", 2000, [], True),
    ("replace", "/spec/containers/0/securityContext/privileged", False, [], True),
    ("add", "/spec/volumes", [{"name": "tmp", "emptyDir": {}}], [], True),
    ("add", "/metadata/annotations", {"x": "y"}, [], True),
])
def test_a_change_changes_what_runs_unless_it_spells_out_what_happens_anyway(op, rel, value, made, runs):
    assert changes_what_runs(op, rel, value, POD, made) is runs


HARDENED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000,
                        fsGroupChangePolicy: OnRootMismatch}
      containers:
      - name: web
        image: nginx
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          readOnlyRootFilesystem: true
          seccompProfile: {type: RuntimeDefault}
"""


def test_check_passes_a_chart_that_already_meets_the_profile_and_says_what_it_left_uncounted():
    r = invoke("--check", "--emit", "none", input=HARDENED)
    assert r.exit_code == 0, r.stderr
    assert "--check: 2 change(s) would only write down what runs already" in r.stderr
    assert invoke("audit", input=HARDENED).exit_code == 0
    # one real difference and it fails
    r = invoke("--check", "--emit", "none", input=HARDENED.replace("      - name: web\n", "      - name: web\n"
                                                                   "        ports: [{containerPort: 80}]\n")
               .replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"))
    assert r.exit_code == 1, r.stderr
    assert invoke("--check", "--emit", "none", input=HARDENED.replace("fsGroup: 2000", "fsGroup: 2000, "
                                                                      "supplementalGroups: [0]")).exit_code == 0


def test_check_still_fails_where_the_profile_changes_identity():
    bare = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: x}]\n"
    assert invoke("--check", "--emit", "none", input=bare).exit_code == 1
