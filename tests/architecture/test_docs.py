"""The README and docs/ link only to files in the repository, every such link resolves (its
file, and its anchor as GitHub renders headings), and the analyses' example specs validate."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from offchain.analytics import registry

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.M | re.S)


def _prose(text: str) -> str:
    """The text outside fenced code blocks, where headings and links are what they look like."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: links reduced to their text, lower case, punctuation but - and _ dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every anchor of a markdown page, repeated headings numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(_prose(page.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return frozenset(out)


def test_slugs_follow_github() -> None:
    assert slug("`fixed_point` (`FixedPoint`)") == "fixed_point-fixedpoint"
    assert slug("count, sum, mean") == "count-sum-mean"
    assert slug('Plain (`"auditable": false`)') == "plain-auditable-false"
    assert slug("naive_bayes (categorical)") == "naive_bayes-categorical"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_stays_in_the_repository_and_resolves(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text
    broken = []
    for target in LINK.findall(_prose(text)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        if not path.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target} (no such heading in {path.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_the_docs_cover_what_the_architecture_issue_asks_for() -> None:
    for name in ("architecture.md", "trust-model.md", "reference/job-spec.md", "reference/peer-config.md",
                 "reference/analyses.md", "reference/cli.md"):
        assert (ROOT / "docs" / name).stat().st_size > 2000, name


ANALYSIS_PAGES = sorted((ROOT / "docs" / "analyses").glob("*.md"))


@pytest.mark.parametrize("page", ANALYSIS_PAGES, ids=lambda p: p.name)
def test_the_example_specs_of_the_analysis_pages_pass_every_rule(page: Path) -> None:
    """Each page shows a spec, and every spec it shows passes ``registry.parse_spec``, as `mpcc job plan` runs it."""
    specs = [json.loads(block) for block in JSON_BLOCK.findall(page.read_text()) if '"analysis"' in block]
    assert specs, f"{page.name} shows no job spec"
    for fields in specs:
        # A spec may leave the participants to the CLI (--participants, or every active member).
        fields.setdefault("participants", [f"0x{i:040x}" for i in (1, 2, 3)])
        registry.parse_spec(json.dumps(fields))
