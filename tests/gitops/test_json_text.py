"""emit/jsontext.py writes exactly what json.dumps(indent=2, sort_keys=True, ensure_ascii=False)
writes, or says it cannot (None) and the caller uses json.dumps."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.emit.argocd import json_bytes
from catalog_gen.emit.jsontext import indented_json


def reference(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


SCALARS = st.one_of(
    st.text(),  # every code point: quotes, backslashes, controls, surrogates, beyond U+FFFF
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
KEYS = st.one_of(st.text(max_size=6), st.integers(-3, 3), st.booleans(), st.none())
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=16,
)


@settings(max_examples=600, deadline=None)
@given(DATA)
def test_the_writer_matches_json_dumps_or_declines(data: Any) -> None:
    written = indented_json(data)
    if written is not None:
        assert written == reference(data)


PLAIN = st.recursive(
    st.one_of(
        st.text(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(PLAIN)
def test_the_writer_takes_all_plain_json_data(data: Any) -> None:
    assert indented_json(data) == reference(data)


@pytest.mark.parametrize(
    "data",
    [
        (1, 2),
        {1: "a"},
        {"a": float("nan")},
        [float("inf")],
        OrderedDict(a=1),
        {"a": True.__class__(1)} | {"b": type("Text", (str,), {})("x")},
    ],
    ids=["tuple", "int-key", "nan", "inf", "dict-subclass", "str-subclass"],
)
def test_the_writer_declines_what_it_is_not_proven_on(data: Any) -> None:
    assert indented_json(data) is None
    assert json_bytes(data) == (reference(data) + "\n").encode()


def test_the_writer_declines_deep_nesting_and_json_dumps_decides() -> None:
    deep: Any = "x"
    for _ in range(150):
        deep = [deep]
    assert indented_json(deep) is None
    assert json_bytes(deep) == (reference(deep) + "\n").encode()


def test_the_usual_shape() -> None:
    data = {"b": [1, {"c": None, "a": 'é\n"q"'}], "a": {}, "c": [], "d": 1.5, "e": False}
    assert indented_json(data) == reference(data)
