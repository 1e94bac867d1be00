"""The fixture corpus: each invalid catalog gives exactly its expected lines; valid ones render
exactly their reviewed golden values.yaml files (other emitters have their own tests) and print
exactly their stdout.txt (warnings; none when the file is absent). A case's catalog/ may carry
its own models.lock.yaml and environments/."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.emit.values import VALUES_FILE
from catalog_gen.write.writer import read_tree
from tests.unit.helpers import FIXTURES, make_catalog, run_cli

INVALID = sorted(path for path in (FIXTURES / "invalid").iterdir() if path.is_dir())
VALID = sorted(path for path in (FIXTURES / "valid").iterdir() if path.is_dir())


def test_corpus_covers_at_least_forty_mistake_classes() -> None:
    assert len(INVALID) >= 40
    for case in INVALID:
        assert (case / "expected.txt").is_file(), case.name


@pytest.mark.parametrize("case", INVALID, ids=[case.name for case in INVALID])
def test_invalid_leaf_reports_exactly_the_expected_problems(case: Path, tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=case / "catalog")
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog")
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    assert outcome.code == 1, outcome.stderr
    assert outcome.stdout == expected
    assert "Traceback" not in outcome.stderr


@pytest.mark.parametrize("case", INVALID, ids=[case.name for case in INVALID])
def test_invalid_leaf_json_format_has_the_same_problems(case: Path, tmp_path: Path) -> None:
    import json

    make_catalog(tmp_path, overlay=case / "catalog")
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog", "--format", "json")
    assert outcome.code == 1
    problems = json.loads(outcome.stdout)
    lines = [
        f"{p['path']}:{p['line']}:{p['column']}: {p['severity']}: {p['json_path']}: {p['message']}"
        + (f" ({p['hint']})" if p["hint"] else "")
        for p in problems
    ]
    assert "".join(line + "\n" for line in lines) == (case / "expected.txt").read_text()


@pytest.mark.parametrize("case", VALID, ids=[case.name for case in VALID])
def test_valid_catalog_renders_its_golden_values(case: Path, tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=case / "catalog")
    outcome = run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    # Warnings (models the case's lock does not pin) are part of the reviewed output.
    stdout = case / "stdout.txt"
    assert outcome.stdout == (stdout.read_text(encoding="utf-8") if stdout.is_file() else "")
    rendered = read_tree(tmp_path / "generated")
    values = {path: content for path, content in rendered.items() if path.name == VALUES_FILE}
    assert values == read_tree(case / "expected")
