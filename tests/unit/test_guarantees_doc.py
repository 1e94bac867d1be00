"""docs/guarantees*.md: every test they name as proof exists."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "guarantees.md"
DOCS = sorted((REPO_ROOT / "docs").glob("guarantees*.md"))


def test_every_named_test_file_and_test_exists() -> None:
    text = "".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    files = set(re.findall(r"`(tests/[\w/]+\.py)", text))
    assert files, "the guarantees name no test"
    for relative in files:
        assert (REPO_ROOT / relative).is_file(), relative
    every_test = "".join(path.read_text() for path in (REPO_ROOT / "tests").rglob("test_*.py"))
    for name in set(re.findall(r"(test_\w+)`", text)) - {
        path.split("/")[-1][:-3] for path in files
    }:
        assert f"def {name}(" in every_test, name


def test_every_swap_and_writer_symbol_it_names_exists() -> None:
    from catalog_gen import cli
    from catalog_gen.load import document
    from catalog_gen.lock import lockfile
    from catalog_gen.write import swap, writer

    text = DOC.read_text(encoding="utf-8")
    modules = {
        "writer": writer,
        "swap": swap,
        "document": document,
        "lockfile": lockfile,
        "cli": cli,
    }
    for module, name in re.findall(r"`(writer|swap|document|lockfile|cli)\.(?!py`)(\w+)`", text):
        assert hasattr(modules[module], name), f"{module}.{name}"
