"""check/shape.py: the hint of an unknown key."""

from __future__ import annotations

from pathlib import Path

from catalog_gen.check.shape import validate_document
from catalog_gen.load.document import Document, parse_document
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report
from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli


def _document(body: str, report: Report) -> Document:
    document = parse_document(leaf(body).encode(), Path("svc.yaml"), "svc.yaml", report)
    assert document is not None
    return document


def test_a_key_written_one_level_too_high_is_pointed_down_not_to_a_lookalike() -> None:
    # `resources` at the top is container.resources, not a typo of resourcesPreset.
    report = Report()
    document = _document("model: phi\nresources: {}\n", report)
    assert validate_document(CatalogLeaf, document, report) is None
    (problem,) = report.problems
    assert problem.hint == "it belongs one level down: container.resources"


def test_null_in_a_required_key_asks_for_a_value_not_for_its_removal(tmp_path: Path) -> None:
    """`remove the key to use the default` was said of keys without a default too: following it
    gave `missing required key` on the next run."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf("model: phi\ndescription: ~\n")})
    text = (tmp_path / "catalog/dev/ml/svc.yaml").read_text()
    (tmp_path / "catalog/dev/ml/svc.yaml").write_text(text.replace("namespace: ml", "namespace:"))
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    lines = error_lines(outcome.stdout)
    assert any("$.namespace: must not be null: give it a value" in line for line in lines), lines
    assert any(
        "$.description: must not be null: remove the key to use the default" in line
        for line in lines
    ), lines


def test_a_missing_model_is_reported_with_the_leafs_other_shape_errors(tmp_path: Path) -> None:
    """The check that a leaf names a model ran only once every field was well-formed, so a leaf
    with another mistake took two runs to show both."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf("bogus: 1\n")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    lines = error_lines(outcome.stdout)
    assert any("$: missing required key 'model'" in line for line in lines), lines
    assert any("$.bogus: unknown key 'bogus'" in line for line in lines), lines


def test_an_environment_named_otherwise_than_its_file_is_reported_not_a_crash(
    tmp_path: Path,
) -> None:
    """`environment: dvv` in dev.yaml planned dev's leaves under a name no environment has, and
    the Argo CD checks failed with an internal error (exit 2) instead of reporting the file."""
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    environment = catalog / "environments" / "dev.yaml"
    environment.write_text(environment.read_text().replace("environment: dev", "environment: dvv"))
    for command in ("validate", "render"):
        outcome = run_cli(tmp_path, command, "--no-cache")
        assert outcome.code == 1, outcome.stdout + outcome.stderr
        assert error_lines(outcome.stdout) == [
            "catalog/environments/dev.yaml:2:14: error: $.environment: environment 'dvv' does "
            "not match the file name 'dev.yaml'"
        ]
    assert not (tmp_path / "generated").exists()
