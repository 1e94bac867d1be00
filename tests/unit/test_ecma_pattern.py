"""JSON Schema patterns read as ECMA 262 and helm's Go regexp read them (check/ecma_pattern.py):
`$` is the end of the text, not also the place before a final line break."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.check.ecma_pattern import compiled
from catalog_gen.check.fast_schema import schema_patterns
from tests.unit.helpers import chart_schema, leaf, make_catalog, run_cli

CHART_PATTERNS = sorted(schema_patterns(chart_schema()))
# `$` escaped, inside classes (also first in one), in groups and alternatives.
OWN_PATTERNS = [
    r"^a$",
    r"^a\$$",
    r"^[$]+$",
    r"^[]$]x$",
    r"^[^]$]$",
    r"^(a|b$)c?$",
    r"^[a\]$]+$",
    r"a$|^b",
    r"^$",
]
TEXTS = st.text(alphabet="ab$]c-.\n \t0", max_size=8)


@settings(max_examples=300, deadline=None)
@given(pattern=st.sampled_from(CHART_PATTERNS + OWN_PATTERNS), text=TEXTS)
def test_a_pattern_matches_where_an_ecma_262_engine_says_it_does(pattern: str, text: str) -> None:
    """jsonschema-rs (ECMA 262 regular expressions) is the oracle."""
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(text)
    assert (compiled(pattern).search(text) is not None) == ecma


@pytest.mark.parametrize("text", ["high\n", "high\n\n"])
def test_a_final_line_break_does_not_match_an_end_anchor(text: str) -> None:
    assert compiled(r"^[a-z]+$").search(text) is None
    assert compiled(r"^[a-z]+$").search(text.rstrip("\n")) is not None


def test_the_chart_schema_has_no_pattern_properties() -> None:
    """Only `pattern` (and so `propertyNames`) reads `$` as ECMA 262 does."""
    assert "patternProperties" not in json.dumps(chart_schema())


def test_a_block_scalar_chart_value_is_refused_as_helm_refuses_it(tmp_path: Path) -> None:
    """`|` keeps the text's last line break; helm's schema check refuses it."""
    make_catalog(
        tmp_path,
        {"dev/ml/svc.yaml": leaf("model: phi\nchartValues:\n  priorityClassName: |\n    high\n")},
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stderr
    assert (
        "catalog/dev/ml/svc.yaml:8:22: error: $.chartValues.priorityClassName: chart value "
        "priorityClassName: 'high\\n' does not match '^$|^[a-z0-9]"
    ) in outcome.stdout
