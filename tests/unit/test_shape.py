"""check/shape.py: the hint of an unknown key."""

from __future__ import annotations

from pathlib import Path

from catalog_gen.check.shape import validate_document
from catalog_gen.load.document import Document, parse_document
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report
from tests.unit.helpers import leaf


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
