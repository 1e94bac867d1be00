"""docs/catalog-gen.md names every key of the leaf and environment schemas, and the problem lines
it shows are ones catalog-gen prints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from catalog_gen.emit.schema import SCHEMA_FILES, json_schema
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "catalog-gen.md"


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield key
            yield from _keys(value)
        for key, value in node.items():
            if key != "properties":
                yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


@pytest.mark.parametrize("file_name", sorted(SCHEMA_FILES))
def test_every_key_is_documented(file_name: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    schema = json_schema(SCHEMA_FILES[file_name], file_name)
    missing = sorted({key for key in _keys(schema) if key not in text})
    assert missing == [], f"{DOC.name} does not mention: {', '.join(missing)}"


def test_the_readme_shows_the_proof_of_concept_leaf_the_fixture_holds() -> None:
    """The README says the proof of concept's leaf is accepted unchanged and names the fixture
    that proves it (tests/unit/test_fixture_corpus.py renders it): the two must stay the same."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    fixture = REPO_ROOT / "tests/fixtures/leaves/valid/proof-of-concept/catalog/dev/ml-workloads"
    leaf = (fixture / "ollama-phi.yaml").read_text(encoding="utf-8")
    body = "".join(line for line in leaf.splitlines(keepends=True) if not line.startswith("#"))
    assert f"```yaml\n{body}```\n" in readme


FIXTURES = REPO_ROOT / "tests" / "fixtures" / "leaves" / "invalid"


def test_the_example_problems_are_lines_a_fixture_expects() -> None:
    """The "Problems" section's example block: each line is one catalog-gen prints for a fixture
    (tests/unit/test_fixture_corpus.py holds catalog-gen to each expected.txt), so the doc cannot
    show a message the code no longer writes."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("\n## Problems\n") :]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block is not None
    shown = block[1].splitlines()
    expected = {
        line for path in FIXTURES.glob("*/expected.txt") for line in path.read_text().splitlines()
    }
    assert shown
    assert [line for line in shown if line not in expected] == []


def test_every_module_is_in_the_module_table() -> None:
    """The README says every module is listed in docs/catalog-gen.md's table: by its path under
    src/catalog_gen/, or by its name in its package's row (`emit/`)."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("| module (`src/catalog_gen/`) |") : text.index("\n## Leaf reference")]
    package = REPO_ROOT / "src" / "catalog_gen"
    rows = {line.split("|")[1].strip().strip("`"): line for line in table.splitlines()[2:]}
    missing = []
    for module in sorted(package.rglob("*.py")):
        relative = module.relative_to(package).as_posix()
        if module.name == "__init__.py" or relative in rows:
            continue
        folder_row = rows.get(f"{module.parent.relative_to(package).as_posix()}/", "")
        if f"`{module.name}`" not in folder_row:
            missing.append(relative)
    assert missing == []
