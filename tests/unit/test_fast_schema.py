"""jsonschema-rs only ever says "valid" where python-jsonschema agrees (check/fast_schema.py).

The fast verdict skips python-jsonschema for values it accepts, so it must never accept values
python-jsonschema rejects: checked on the chart's CI scenarios and on random mutations of them
(wrong types, out-of-range numbers, bad patterns, unknown keys, nulls), and the problems the
chart-schema check reports must stay the same with and without it. The chart's verdict judges
only the top-level values that are not the defaults' very objects (per_key_verdict): mutations
that keep the other top-level values shared with the defaults check that it says what
jsonschema-rs says on the whole values.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.check.chart_contract import ChartContract, _split
from catalog_gen.check.fast_schema import dialect_escapes, fast_validator, per_key_verdict
from tests.unit.helpers import CHART, chart_schema, chart_with_schema

CONTRACT = ChartContract.load(CHART)
# The whole schema, allOf included (CONTRACT.validator judges per top-level key only).
PYTHON = jsonschema.Draft7Validator(
    CONTRACT.schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
)
WHOLE_RS = fast_validator(CONTRACT.schema)
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))


def effective(path: Path) -> dict[str, Any]:
    return CONTRACT.effective(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def test_the_chart_schema_compiles_for_the_fast_verdict() -> None:
    assert CONTRACT.fast is not None


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.name)
def test_the_fast_verdict_accepts_every_valid_scenario(scenario: Path) -> None:
    values = effective(scenario)
    assert PYTHON.is_valid(values)
    assert CONTRACT.fast is not None
    assert CONTRACT.fast(values)


def test_the_chart_verdict_judges_per_top_level_key() -> None:
    assert CONTRACT.per_key  # the case per_key_verdict serves
    assert CONTRACT.fast is not None
    assert WHOLE_RS is not None
    defaults = CONTRACT.effective({})
    assert CONTRACT.fast(defaults)
    assert not CONTRACT.fast({**defaults, "replicaCount": "two"})
    assert not CONTRACT.fast({**defaults, "unknownKey": 1})


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
    # Texts with what regex dialects read differently (`\s` in ECMA 262 and in Python's re).
    st.sampled_from(["http://a\x1cb", "https://a\x85b", "https://a\u00a0b", "http://a\x0bb"]),
    st.sampled_from(["", "-", "1Gi", "500m", "abc\n", "UPPER", "a" * 70, "10s", "*.x.io"]),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


def target_of(values: dict[str, Any], where: int) -> tuple[Any, ...]:
    """The path of one value below the root of values (where picks it)."""
    candidates = list(paths(values))[1:]
    return candidates[where % len(candidates)]


def replace_at(root: Any, target: tuple[Any, ...], replacement: Any, unknown: bool) -> None:
    """The value at target replaced in place; with unknown, a key beside it (`<key>Typo`)."""
    parent: Any = root
    for part in target[:-1]:
        parent = parent[part]
    if unknown and isinstance(parent, dict):
        parent[f"{target[-1]}Typo"] = replacement
    else:
        parent[target[-1]] = replacement


# (scenario, where, replacement, unknown): the arguments of mutate and mutate_shared
MUTATIONS = (st.sampled_from(SCENARIOS), st.integers(0, 10_000), REPLACEMENTS, st.booleans())


def mutate(values: dict[str, Any], where: int, replacement: Any, unknown: bool) -> dict[str, Any]:
    mutated = copy.deepcopy(values)
    replace_at(mutated, target_of(mutated, where), replacement, unknown)
    return mutated


@settings(max_examples=300, deadline=None)
@given(*MUTATIONS)
def test_the_fast_verdict_never_accepts_what_python_jsonschema_rejects(
    scenario: Path, where: int, replacement: Any, unknown: bool
) -> None:
    values = mutate(effective(scenario), where, replacement, unknown)
    assert CONTRACT.fast is not None
    if CONTRACT.fast(values):
        assert PYTHON.is_valid(values), values


def mutate_shared(
    values: dict[str, Any], where: int, replacement: Any, unknown: bool
) -> dict[str, Any]:
    """mutate, inside one top-level value only: the others stay the defaults' very objects."""
    target = target_of(values, where)
    mutated = dict(values)
    if len(target) > 1:
        mutated[target[0]] = copy.deepcopy(values[target[0]])
    replace_at(mutated, target, replacement, unknown)
    return mutated


@settings(max_examples=300, deadline=None)
@given(*MUTATIONS)
def test_the_per_key_verdict_says_what_the_whole_verdict_says(
    scenario: Path, where: int, replacement: Any, unknown: bool
) -> None:
    values = mutate_shared(effective(scenario), where, replacement, unknown)
    assert CONTRACT.fast is not None
    assert WHOLE_RS is not None
    verdict = CONTRACT.fast(values)
    assert verdict == WHOLE_RS(values), values
    if verdict:
        assert PYTHON.is_valid(values), values


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


PER_KEY = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}
CROSS = {"allOf": [{"if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["c"]}}]}


def test_the_per_key_verdict_skips_only_the_defaults_own_values() -> None:
    defaults = {"a": 2, "b": "x"}
    verdict = per_key_verdict(PER_KEY, None, defaults)
    assert verdict is not None
    assert verdict({**defaults, "c": None})
    assert not verdict({**defaults, "b": 3})  # a changed value is judged
    assert not verdict({"a": 2, "b": 3})
    assert not verdict(["not", "an", "object"])


def test_the_per_key_verdict_judges_the_rules_across_values_on_the_whole_values() -> None:
    defaults = {"a": 1, "b": "x"}  # a=1 is the default: the cross rule still applies
    verdict = per_key_verdict(PER_KEY, CROSS, defaults)
    assert verdict is not None
    assert not verdict(dict(defaults))
    assert verdict({**defaults, "c": 0})


def test_a_per_key_schema_jsonschema_rs_cannot_compile_gives_no_verdict() -> None:
    assert per_key_verdict({"type": 12}, None, {}) is None
    assert per_key_verdict(PER_KEY, {"allOf": 3}, {}) is None


def test_the_chart_patterns_spell_out_their_classes() -> None:
    """No `\\s`, `\\d`, `\\w`, `\\b` (read otherwise by ECMA 262, Python's re and Go's
    regexp): the fast verdict would step aside for the whole chart."""
    assert dialect_escapes(CONTRACT.schema) == []


def test_a_schema_whose_patterns_read_otherwise_gets_no_fast_verdict(tmp_path: Path) -> None:
    """U+001C is whitespace to Python's re, not to ECMA 262: with `[^\\s]`, jsonschema-rs
    would accept what python-jsonschema rejects, so python-jsonschema judges alone."""
    schema = chart_schema()
    prometheus = schema["properties"]["autoscaling"]["properties"]["prometheus"]
    prometheus["properties"]["serverAddress"]["pattern"] = "^$|^https?://[^\\s]+$"
    assert fast_validator(schema) is None
    contract = ChartContract.load(chart_with_schema(tmp_path, schema))
    assert contract.fast is None
    address = {"autoscaling": {"prometheus": {"serverAddress": "http://prom\x1cx"}}}
    errors = contract.errors(contract.effective(address))
    assert [error.validator for error in errors] == ["pattern"]


def test_a_rule_on_every_value_is_judged_per_key_not_across() -> None:
    # yamlText under the root allOf walks every value: judged with the rules across top-level
    # values it walked all of them for every leaf (a tenth of a cold render's CPU); per key, only
    # the values a leaf changed.
    per_key, cross = _split(CONTRACT.schema)
    rule = {"$ref": "#/definitions/yamlText"}
    assert per_key["allOf"] == [rule]
    assert cross is not None
    assert rule not in cross["allOf"]
    assert CONTRACT.fast is not None
    annotation = {"podAnnotations": {"x": "a\x7fb"}}
    for bad in (annotation, {"extraEnv": [{"name": "A", "value": "\x85"}]}):
        values = CONTRACT.effective(bad)
        assert not CONTRACT.fast(values)
        assert not PYTHON.is_valid(values)
        assert list(CONTRACT.validator.iter_errors(values))
