"""What the documentation and the code's comments point at exists."""
import re

import pytest

from support.salt_tree import REPOSITORY

MARKDOWN = sorted([REPOSITORY / "README.md", REPOSITORY / "CONTRIBUTING.md",
                   *(REPOSITORY / "docs").glob("*.md"), *REPOSITORY.glob("*/README.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
SOURCES = sorted(path for pattern in ("*.py", "*.sls", "*.jinja", "*.yaml")
                 for path in REPOSITORY.glob(f"*/**/{pattern}")
                 if ".git" not in path.parts and "tests" not in path.parts)
MENTION = re.compile(r"\b((?:docs/)?[A-Za-z_-]+\.md)\b")


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_every_relative_link_leads_to_a_file(page):
    for target, _ in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_every_page_the_code_and_the_docs_mention_exists():
    known = {path.name for path in MARKDOWN} | {
        str(path.relative_to(REPOSITORY)) for path in MARKDOWN}
    missing = [f"{path.relative_to(REPOSITORY)} mentions {name}"
               for path in SOURCES + MARKDOWN for name in MENTION.findall(path.read_text())
               if name not in known]
    assert not missing, missing
