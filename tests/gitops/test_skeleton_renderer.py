"""The Nunjucks subset renderer used for the scaffolder skeleton round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.support.backstage import SkeletonError, render_nunjucks, render_skeleton

VALUES = {"name": "phi", "quoted": 'a "b": c # d', "list": [1, "x"], "flag": False, "n": 2.0}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${{ values.name }}", "phi"),
        ("${{ values.quoted | dump }}", '"a \\"b\\": c # d"'),
        ("${{ values.list | dump }}", '[1,"x"]'),
        ("${{ values.n }}", "2"),
        ("${{ values.missing }}", ""),
        ("${{ values.flag | dump }}", "false"),
        ("{# note #}x", "x"),
        ("a\n{%- if values.name is defined %}\nb{% endif %}", "a\nb"),
        ("{% if values.missing is defined %}b{% endif %}c", "c"),
        ("{% if values.flag %}b{% endif %}c", "c"),
        ("{% if values.flag is defined %}b{% endif %}c", "bc"),
        ("x {%- if values.name %} y {% endif -%} z", "x y z"),
        ("{% if values.missing is defined or values.flag is defined %}b{% endif %}", "b"),
        ("{% if values.missing is defined or values.other.x is defined %}b{% endif %}", ""),
    ],
)
def test_renders_like_nunjucks(template: str, expected: str) -> None:
    assert render_nunjucks(template, VALUES) == expected


def test_dump_output_is_yaml_that_reads_back_the_same_value() -> None:
    text = render_nunjucks("a: ${{ values.quoted | dump }}\nb: ${{ values.list | dump }}\n", VALUES)
    assert yaml.safe_load(text) == {"a": VALUES["quoted"], "b": VALUES["list"]}


@pytest.mark.parametrize(
    "template",
    [
        "${{ parameters.x }}",
        "{% for x in values.list %}{% endfor %}",
        "{% if values.x %}",
        "{% endif %}",
        "{% if values.a and values.b %}{% endif %}",
    ],
)
def test_unsupported_syntax_fails_loudly(template: str) -> None:
    with pytest.raises(SkeletonError):
        render_nunjucks(template, VALUES)


def test_file_names_are_templated(tmp_path: Path) -> None:
    target = tmp_path / "catalog" / "${{ values.name }}.yaml"
    target.parent.mkdir()
    target.write_text("name: ${{ values.name | dump }}\n")
    assert render_skeleton(tmp_path, VALUES) == {"catalog/phi.yaml": 'name: "phi"\n'}


def test_empty_templated_path_part_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "${{ values.missing }}" / "x.yaml"
    target.parent.mkdir()
    target.write_text("x: 1\n")
    with pytest.raises(SkeletonError, match="empty part"):
        render_skeleton(tmp_path, VALUES)


# YAML 1.1 (PyYAML, which loads leaves) cannot carry these raw, and JSON.stringify leaves them
# raw: C1 controls are not printable, NEL/LS/PS are line breaks. A description holding one fails
# `catalog-gen validate` with a located YAML error instead of changing silently.
_RAW_UNSAFE = "".join(chr(code) for code in range(0x7F, 0xA0)) + "\u2028\u2029\ufffe\uffff"


@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters=_RAW_UNSAFE),
        max_size=200,
    )
)
def test_dumped_text_reads_back_as_the_same_string(text: str) -> None:
    rendered = render_nunjucks("description: ${{ values.text | dump }}\n", {"text": text})
    assert yaml.safe_load(rendered) == {"description": text}
