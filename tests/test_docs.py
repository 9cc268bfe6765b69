"""The README and docs/ say only true things about the repository: every relative link and anchor resolves,
and every pipeline the README names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub-style anchors of a Markdown page's headings."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(title)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_every_pipeline_the_readme_names_is_registered():
    from kedro.framework.project import configure_project

    from music_emotion.pipeline_registry import register_pipelines

    configure_project("music_emotion")
    table = ROOT.joinpath("README.md").read_text().split("## The pipelines", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.M))
    assert named and named <= set(register_pipelines())


PATH_MENTION = re.compile(r"(?<![\w/.<{$])"
                          r"((?:docs|conf|benchmarks|tests|src|notebooks)/[\w./-]*\w\.(?:md|yml|py|ipynb))")


def test_every_file_a_comment_or_message_names_exists():
    """A comment or error message that points at a file must point at one that exists (conf/local/ is the user's)."""
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "conf").rglob("*.yml"), *(ROOT / "benchmarks").glob("*.py"),
               *(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    missing = set()
    for source in sources:
        for mention in PATH_MENTION.findall(source.read_text(encoding="utf-8")):
            if mention.startswith("conf/local/"):
                continue
            if not (ROOT / mention).exists() and not (source.parent / mention).exists():
                missing.add(f"{source.relative_to(ROOT)}: {mention}")
    assert sorted(missing) == []
