"""Issue 21: the README fits a newcomer's two minutes (≤ 12 KB) and every link in it and in docs/ lands on a
file of the repository — none points outside it (../shared/DESIGN.md did, and does not exist in a clone)."""

import re

from tests.conftest import REPO

LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md")), REPO / "models" / "README.md"]


def test_the_readme_is_short():
    assert (REPO / "README.md").stat().st_size <= 12 * 1024


def test_every_link_lands_inside_the_repository():
    bad = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if target.startswith("#"):
                continue
            if "://" in target:
                bad.append(f"{doc.name}: {target} (outside the repository)")
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            if not path.exists() or REPO.resolve() not in path.parents and path != REPO.resolve():
                bad.append(f"{doc.name}: {target}")
    assert not bad, bad


def test_the_readme_links_every_doc():
    text = (REPO / "README.md").read_text()
    for name in ("window", "cli", "science", "performance", "safety", "design"):
        assert f"](docs/{name}.md)" in text, name
