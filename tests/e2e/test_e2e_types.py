"""No value changes type for a YAML 1.1 or a YAML 1.2 reader, in every mode: the hardened
stream and the hardened ResourceList's items are read by the real `kubectl kustomize` (go-yaml
v3, YAML 1.2) exactly as the input is, and by PyYAML (YAML 1.1) too; and running the tool
again, as kpt does on every render, duplicates nothing."""

from __future__ import annotations

import yaml

from e2e_support import K8S_HARDEN, load_all, run, tool

#: Values YAML 1.1 and YAML 1.2 readers resolve differently when they are not quoted.
TRICKY = {"date": "2024-01-01", "float12": "1e3", "float": "1.5e3", "octal12": "0o17",
          "sexagesimal": "12:30:00", "word": "yes", "switch": "on", "nothing": "~"}


def _quoted(name: str) -> str:
    return "\n".join(f"    {k}: \"{v}\"" for k, v in TRICKY.items())


def stream() -> str:
    """A ConfigMap nothing changes, and a Pod (with an anchor, so it is re-written from its
    nodes, not edited in place) carrying the same quoted values and a plain 12:30:00."""
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tricky\n  # keep me\ndata:\n"
          + _quoted("cm") + "\n")
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n  annotations: &ann\n"
           + _quoted("pod") + "\n    plain: 12:30:00\n  labels: *ann\n"
           "spec:\n  containers:\n  - name: app\n    image: nginx:1.27\n")
    return cm + "---\n" + pod


def resource_list(text: str) -> str:
    items = "".join("- " + "\n  ".join(block.strip("\n").splitlines()) + "\n" for block in text.split("---\n"))
    return "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n" + items


def unwrap(rl_text: str) -> str:
    """The items of a block-style ResourceList as a stream, from its text (no re-dump: the
    bytes the tool wrote are what kustomize must read)."""
    lines = rl_text.splitlines(keepends=True)
    start = lines.index("items:\n") + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith((" ", "-"))), len(lines))
    docs, current = [], []
    for line in lines[start:end]:
        if line.startswith("- ") and current:
            docs.append("".join(current))
            current = []
        current.append(line[2:])
    return "---\n".join(docs + ["".join(current)])


def kustomized(tmp_path, text: str, name: str) -> dict:
    """What `kubectl kustomize` (YAML 1.2) reads from `text`: (kind, name) -> the object."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "all.yaml").write_text(text)
    (folder / "kustomization.yaml").write_text("resources:\n- all.yaml\n")
    out = run([tool("kubectl"), "kustomize", str(folder)]).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all(out)}


def values(obj: dict) -> dict:
    meta = obj["metadata"]
    return obj.get("data") or {**meta.get("annotations", {}), **{"labels": meta.get("labels")}}


def test_the_pipe_output_reads_the_same_for_yaml_1_2_and_1_1(tmp_path):
    text = stream()
    out = run([K8S_HARDEN, "--report", "none", "--emit", "none"], input=text).stdout
    assert out.split("---\n")[0] == text.split("---\n")[0]  # unchanged: byte for byte
    before, after = kustomized(tmp_path, text, "before"), kustomized(tmp_path, out, "after")
    for ref in before:
        assert values(after[ref]) == values(before[ref]), ref
    assert values(after[("Pod", "app")])["plain"] == "12:30:00"  # not the base-60 integer 45000
    yaml11 = [d for d in yaml.safe_load_all(out)]
    assert yaml11[1]["metadata"]["annotations"]["float12"] == "1e3"
    assert yaml11[1]["metadata"]["annotations"]["plain"] == 45000  # as YAML 1.1 read the input


def test_krm_items_come_out_as_they_came_in_and_read_the_same(tmp_path):
    rl = resource_list(stream())
    out = run([K8S_HARDEN], input=rl).stdout
    assert "    # keep me\n" in out  # an unchanged item keeps its comments
    for value in TRICKY.values():
        assert f'"{value}"' in out, value  # and its quotes
    after = kustomized(tmp_path, unwrap(out), "after")
    before = kustomized(tmp_path, stream(), "before")
    assert values(after[("ConfigMap", "tricky")]) == values(before[("ConfigMap", "tricky")])


def test_running_again_duplicates_nothing_in_any_mode():
    """Each pass recognises what an earlier one generated (managed-by: k8s-harden) and
    replaces it: three passes give one PSP, one ClusterRole, one RoleBinding, byte-identical."""
    args = [K8S_HARDEN, "--kube-version", "1.24", "--namespace", "apps", "--report", "none"]
    once = run(args, input=stream()).stdout
    twice = run(args, input=once).stdout
    assert run(args, input=twice).stdout == twice == once
    rl_once = run(args, input=resource_list(stream())).stdout
    rl_twice = run(args, input=rl_once).stdout
    rl_thrice = run(args, input=rl_twice).stdout
    items = lambda text: load_all(text)[0]["items"]  # noqa: E731
    assert items(rl_thrice) == items(rl_once)
    kinds = [i["kind"] for i in items(rl_thrice)]
    assert kinds.count("PodSecurityPolicy") == kinds.count("ClusterRole") == kinds.count("RoleBinding") == 1
