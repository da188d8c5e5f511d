"""The docs: generated blocks match the code (scripts/gen_docs.py --check), the check can
fail, and every relative link in README.md and docs/*.md reaches an existing file (and, for
a Markdown page, an existing heading or anchor)."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GEN_DOCS = REPO / "scripts" / "gen_docs.py"


@pytest.fixture(scope="module")
def gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", GEN_DOCS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_current(gen_docs, capsys):
    code = gen_docs.main(["--check"])
    out, err = capsys.readouterr()
    assert code == 0, (f"docs are stale: run .venv/bin/python scripts/gen_docs.py\n{err}\n{out}")


def _copy_docs(tmp_path: Path) -> Path:
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    return tmp_path


def test_check_reports_a_corrupted_block(gen_docs, tmp_path, capsys):
    root = _copy_docs(tmp_path)
    page = root / "docs" / "controls.md"
    text = page.read_text(encoding="utf-8")
    begin = text.index("<!-- BEGIN GENERATED: controls -->")
    # the first table row of the block, whatever the code makes of it today
    row = next(line for line in text[begin:].splitlines() if line.startswith("| `"))
    corrupted = text[:begin] + text[begin:].replace(row, "| `enabled` | `maybe` | hand-edited |", 1)
    page.write_text(corrupted, encoding="utf-8")
    assert gen_docs.main(["--check", "--root", str(root)]) == 1
    out, err = capsys.readouterr()
    assert "--- a/docs/controls.md" in out and "+++ b/docs/controls.md" in out
    assert "\n-| `enabled` | `maybe` | hand-edited |\n" in out
    assert f"\n+{row}\n" in out
    assert "stale: docs/controls.md" in err
    assert page.read_text(encoding="utf-8") == corrupted  # --check writes nothing


def test_check_reports_a_missing_block_and_a_rewrite_repairs_a_stale_one(gen_docs, tmp_path, capsys):
    root = _copy_docs(tmp_path)
    policy = root / "docs" / "policy.md"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(re.sub(r"<!-- BEGIN GENERATED: emit -->.*?<!-- END GENERATED: emit -->\n", "", text,
                             flags=re.S), encoding="utf-8")
    assert gen_docs.main(["--check", "--root", str(root)]) == 2
    assert "the generated block 'emit' is missing" in capsys.readouterr().err
    policy.write_text(text, encoding="utf-8")
    readme = root / "README.md"
    marker = "<!-- BEGIN GENERATED: profiles-short -->\n"
    readme.write_text(readme.read_text(encoding="utf-8").replace(marker, marker + "a stale line\n"),
                      encoding="utf-8")
    assert gen_docs.main(["--root", str(root)]) == 0  # rewrites
    assert readme.read_text(encoding="utf-8") == (REPO / "README.md").read_text(encoding="utf-8")
    assert gen_docs.main(["--check", "--root", str(root)]) == 0


# --------------------------------------------------------------------------- links
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set(ANCHOR.findall(text))
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = _slug(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def test_slug_follows_github():
    assert _slug("Helm 3: `--post-renderer`") == "helm-3---post-renderer"
    assert _slug("Legacy clusters with PodSecurityPolicy (Kubernetes ≤ 1.24)") == \
        "legacy-clusters-with-podsecuritypolicy-kubernetes--124"
    assert _slug("`k8s-harden audit`") == "k8s-harden-audit"


def test_the_docs_link_every_page():
    linked = {(REPO / "README.md").parent.joinpath(t.split("#")[0]).resolve()
              for t in _links(REPO / "README.md") if not t.startswith(("http:", "https:", "#"))}
    assert set(PAGES[1:]) <= linked, "README.md does not link " + ", ".join(
        str(p.relative_to(REPO)) for p in sorted(set(PAGES[1:]) - linked))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    problems = []
    links = _links(page)
    assert links or page.name != "README.md"
    for target in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            problems.append(f"{target}: no heading or anchor #{anchor} in {dest.relative_to(REPO)}")
    assert not problems, f"{page.relative_to(REPO)}: " + "; ".join(problems)
