"""emit/blockyaml.py writes exactly the bytes of the PyYAML dumpers it stands in for, or says it
cannot (None) and the caller uses PyYAML."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_gen.emit import argocd
from catalog_gen.emit.blockyaml import block_yaml
from catalog_gen.emit.values import comment_lines, dump_commented, dump_yaml, dump_yaml_pyyaml


def pyyaml_gitops(data: Any, dumper: type[yaml.SafeDumper]) -> str:
    text: str = yaml.dump(
        data,
        Dumper=dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )
    return text


# Text near the edges: ASCII with quotes, backslashes, '#', ': ', line breaks, spaces at the
# ends, YAML words, and some characters beyond ASCII (those must give None).
_ALPHABET = st.sampled_from([*"ab -:#\"\\'\n\t{}[]&*!|>%@`,?.0y", "é", "\x85", "☃"])
_IN_SHAPE = st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\')
_WORDS = st.sampled_from(["", "yes", "No", "null", "~", "1e3", "0x1f", "true", "on", "a" * 130])
_LINES = st.lists(st.text(_IN_SHAPE, max_size=8), min_size=1, max_size=4).map("\n".join)
TEXT = st.one_of(
    st.text(_ALPHABET, max_size=12),
    _WORDS,
    st.text(max_size=6),
    st.text(_IN_SHAPE, max_size=12),
    _LINES,
    _LINES.map(lambda text: text + "\n"),
)
KEYS = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_./-]{0,6}", fullmatch=True),
    st.text(_IN_SHAPE, max_size=8),
    TEXT,
    st.just("k" * 101),
)


def documents(text: st.SearchStrategy[str], keys: st.SearchStrategy[str]) -> Any:
    scalars = st.one_of(
        text,
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.none(),
    )
    data = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)
        ),
        max_leaves=12,
    )
    return st.dictionaries(keys, data, min_size=1, max_size=4)


DOCUMENTS = st.one_of(
    documents(TEXT, KEYS),
    # Mostly in the writer's shape, so that most examples compare bytes.
    documents(
        st.one_of(st.text(_IN_SHAPE, max_size=12), _LINES, _LINES.map(lambda text: text + "\n")),
        st.one_of(KEYS, st.text(_IN_SHAPE, min_size=1, max_size=8)),
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_values_writer_matches_pyyaml_or_declines(document: dict[str, Any]) -> None:
    fast = block_yaml(document, sort_keys=True)
    if fast is not None:
        assert fast == dump_yaml_pyyaml(document)
    assert dump_yaml(document) == dump_yaml_pyyaml(document)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_gitops_writer_matches_both_pyyaml_emitters_or_declines(document: dict[str, Any]) -> None:
    fast = block_yaml(document, sort_keys=False)
    if fast is not None:
        assert fast == pyyaml_gitops(document, argocd.PURE_DUMPER)
        assert fast == pyyaml_gitops(document, argocd.DUMPER)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.data())
def test_a_commented_document_is_its_keys_dumped_one_by_one_under_their_comments(
    document: dict[str, Any], data: st.DataObject
) -> None:
    """dump_commented writes the whole document at once when it can: the same bytes as each
    top-level key dumped through PyYAML on its own, under its comment lines (a kept block's `...`
    once, at the end, as the whole document's dump has it)."""
    keys = data.draw(st.lists(st.sampled_from(sorted(document)), unique=True))
    comments = {key: data.draw(st.text(_IN_SHAPE, min_size=1, max_size=250)) for key in keys}
    comments["not a key of the document"] = "never written"
    bodies = {key: dump_yaml_pyyaml({key: document[key]}) for key in sorted(document)}
    bodies = {key: text[:-4] if text.endswith("\n...\n") else text for key, text in bodies.items()}
    end = dump_yaml_pyyaml(document).removeprefix("".join(bodies.values()))
    assert end in ("", "...\n")  # PyYAML: a kept block's `...` at the end, or not at all
    expected = (
        "".join(
            "".join(f"# {line}\n" for line in comment_lines(comments.get(key, ""))) + text
            for key, text in bodies.items()
        )
        + end
    )
    assert dump_commented(document, comments) == expected


def test_the_writer_handles_the_usual_shapes() -> None:
    document = {
        "b": [{"name": "x", "args": [], "env": {}}, "text", 3, 1.5e20, None, True],
        "a": {"modelfile": "FROM phi\nPARAMETER a 1\n\nSYSTEM x", "on": "yes", "k-1.x/y": 0},
    }
    fast = block_yaml(document, sort_keys=True)
    assert fast is not None
    assert fast == dump_yaml_pyyaml(document)
    assert '"on": "yes"' in fast
    assert "  modelfile: |-\n    FROM phi\n" in fast


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"a": "é"},
        {"a": "tab\there"},
        {"a": "x" * 1001},
        {"k" * 101: 1},
        {"": 1},
        {"a": "line \nnext"},
        {"a": "ends\n\n"},
        {"a": [[1]]},
        {"a": (1, 2)},
        {1: "a"},
    ],
    ids=repr,
)
def test_the_writer_declines_what_it_is_not_proven_on(document: dict[Any, Any]) -> None:
    assert block_yaml(document, sort_keys=True) is None


def test_the_same_object_twice_is_declined_pyyaml_would_alias_it() -> None:
    shared: dict[str, Any] = {"a": 1}
    empty: list[Any] = []
    assert block_yaml({"x": shared, "y": shared}, sort_keys=False) is None
    assert block_yaml({"x": empty, "y": empty}, sort_keys=False) is None
    assert "&id001" in pyyaml_gitops({"x": shared, "y": shared}, argocd.DUMPER)
    assert block_yaml({"x": {"a": 1}, "y": {"a": 1}}, sort_keys=False) is not None
