"""jsonschema-rs only ever says "valid" where python-jsonschema agrees (check/fast_schema.py).

The fast verdict skips python-jsonschema for values it accepts, so it must never accept values
python-jsonschema rejects: checked on the chart's CI scenarios and on random mutations of them
(wrong types, out-of-range numbers, bad patterns, unknown keys, nulls), and the problems the
chart-schema check reports must stay the same with and without it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.fast_schema import fast_validator
from tests.unit.helpers import CHART

CONTRACT = ChartContract.load(CHART)
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def effective(path: Path) -> dict[str, Any]:
    return CONTRACT.effective(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def test_the_chart_schema_compiles_for_the_fast_verdict() -> None:
    assert CONTRACT.fast is not None


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.name)
def test_the_fast_verdict_accepts_every_valid_scenario(scenario: Path) -> None:
    values = effective(scenario)
    assert CONTRACT.validator.is_valid(values)
    assert CONTRACT.fast is not None
    assert CONTRACT.fast(values)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "-", "1Gi", "500m", "abc\n", "UPPER", "a" * 70, "10s", "*.x.io"]),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


def mutate(values: dict[str, Any], where: int, replacement: Any, unknown: bool) -> dict[str, Any]:
    mutated = copy.deepcopy(values)
    candidates = list(paths(mutated))[1:]
    target = candidates[where % len(candidates)]
    parent: Any = mutated
    for part in target[:-1]:
        parent = parent[part]
    if unknown and isinstance(parent, dict):
        parent[f"{target[-1]}Typo"] = replacement
    else:
        parent[target[-1]] = replacement
    return mutated


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SCENARIOS),
    st.integers(0, 10_000),
    REPLACEMENTS,
    st.booleans(),
)
def test_the_fast_verdict_never_accepts_what_python_jsonschema_rejects(
    scenario: Path, where: int, replacement: Any, unknown: bool
) -> None:
    values = mutate(effective(scenario), where, replacement, unknown)
    assert CONTRACT.fast is not None
    if CONTRACT.fast(values):
        assert CONTRACT.validator.is_valid(values), values


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SCENARIOS), st.integers(0, 10_000), REPLACEMENTS)
def test_the_errors_are_the_same_with_and_without_the_fast_verdict(
    scenario: Path, where: int, replacement: Any
) -> None:
    values = mutate(effective(scenario), where, replacement, unknown=False)
    slow = replace(ChartContract.load(CHART), fast=None)
    with_fast = ChartContract.load(CHART)

    def described(contract: ChartContract) -> list[tuple[list[Any], str]]:
        return [(list(error.absolute_path), error.message) for error in contract.errors(values)]

    assert described(with_fast) == described(slow)


def test_a_schema_jsonschema_rs_cannot_compile_leaves_python_jsonschema_alone() -> None:
    assert fast_validator({"type": 12}) is None


def test_values_that_are_not_json_go_to_python_jsonschema() -> None:
    verdict = fast_validator({"type": "object"})
    assert verdict is not None
    assert not verdict({1: "a non-string key"})
    assert verdict({"a": 1})
