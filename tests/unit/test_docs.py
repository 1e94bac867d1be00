"""docs/catalog-gen.md names every key of the leaf and environment schemas."""

from __future__ import annotations

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
