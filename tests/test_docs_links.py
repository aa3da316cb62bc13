"""The README and docs/ link only to what a clone of this repository holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Markdown links and images, and HTML src/href attributes.
TARGET = re.compile(r"\]\(([^)\s]+)\)|(?:src|href)=\"([^\"]+)\"")


def local_targets(page: Path) -> list[str]:
    targets = [a or b for a, b in TARGET.findall(page.read_text())]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_local_link_leads_to_a_file_of_the_repository(page):
    for target in local_targets(page):
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPO) and path.exists(), f"{page.name}: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_page_names_a_path_above_the_repository(page):
    """Code spans too: `../shared/…` is no link, yet a clone has nothing there."""
    above = "../" * (len(page.relative_to(REPO).parts))
    assert above not in page.read_text(), page.name
