"""check/shape.py: a leaf whose only shape problems are unknown keys is judged further without
them; any other shape problem stops it, as before."""

from __future__ import annotations

from pathlib import Path

from catalog_gen.check.shape import validate_past_unknown_keys
from catalog_gen.load.document import Document, parse_document
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report
from tests.unit.helpers import leaf


def _document(body: str, report: Report) -> Document:
    document = parse_document(leaf(body).encode(), Path("svc.yaml"), "svc.yaml", report)
    assert document is not None
    return document


def test_unknown_keys_alone_are_reported_and_the_rest_is_the_model() -> None:
    report = Report()
    document = _document(
        "models:\n  - {name: phi, keepAlive: 5m, colour: red}\n  - name: tinyllama\n"
        "gpu: {count: 1, tpye: l4}\nbogus: 1\n",
        report,
    )
    model, pruned, held = validate_past_unknown_keys(CatalogLeaf, document, report)
    assert [(problem.json_path, problem.message) for problem in report.problems] == [
        ("$.models[0].colour", "unknown key 'colour'"),
        ("$.gpu.tpye", "unknown key 'tpye'"),
        ("$.bogus", "unknown key 'bogus'"),
    ]
    assert held is False
    assert model is not None
    assert model.gpu is not None
    assert model.gpu.count == 1
    assert pruned.data["models"][0] == {"name": "phi", "keepAlive": "5m"}
    assert "bogus" not in pruned.data
    assert "tpye" not in pruned.data["gpu"]
    # The document read from the file is left as it was (its problems point into it).
    assert document.data["bogus"] == 1
    assert document.data["models"][0]["colour"] == "red"
    assert pruned.value_marks is document.value_marks


def test_an_unknown_key_beside_another_shape_problem_stops_the_leaf() -> None:
    report = Report()
    document = _document("model: phi\ngpu: {count: many}\nbogus: 1\n", report)
    model, same, held = validate_past_unknown_keys(CatalogLeaf, document, report)
    assert (model, held) == (None, False)
    assert same is document
    assert sorted(problem.json_path for problem in report.problems) == ["$.bogus", "$.gpu.count"]


def test_a_well_shaped_leaf_is_its_model_and_its_own_document() -> None:
    report = Report()
    document = _document("model: phi\n", report)
    model, same, held = validate_past_unknown_keys(CatalogLeaf, document, report)
    assert model is not None
    assert held is True
    assert same is document
    assert report.problems == []


def test_a_key_written_one_level_too_high_is_pointed_down_not_to_a_lookalike() -> None:
    # `resources` at the top is container.resources, not a typo of resourcesPreset.
    report = Report()
    document = _document("model: phi\nresources: {}\n", report)
    validate_past_unknown_keys(CatalogLeaf, document, report)
    (problem,) = report.problems
    assert problem.hint == "it belongs one level down: container.resources"
