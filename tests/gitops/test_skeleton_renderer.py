"""Backstage's own skeleton templating (fetch:template of scaffolder-backend 4.2.0, and nunjucks as
scaffolder-backend 3.x configures it) on the syntax our skeleton relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.backstage import SkeletonError, SkeletonRequest, render_skeletons

VALUES = {"name": "phi", "quoted": 'a "b": c # d', "list": [1, "x"], "flag": False, "n": 2.0}

CASES = [
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
    ("{% if values.missing is defined or values.other.x is defined %}b{% endif %}", ""),
    ("${{ 'group:default/team' | parseEntityRef | pick('name') }}", "team"),
    ("${{ values.missing | dump }}", ""),
]

# YAML 1.1 (PyYAML, which loads leaves) cannot carry these raw, and JSON.stringify leaves them
# raw: C1 controls are not printable, NEL/LS/PS are line breaks.
TEXTS = ["", "plain", 'He said "yes": #1\n- x\nkey: {y} & ünïcødé', "\t tab", "\\ back", "🦙"]


def _skeleton(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        target = tmp_path / "skeleton" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return tmp_path


@pytest.fixture(scope="module")
def rendered_cases(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    requests = []
    for index, (template, _) in enumerate(CASES):
        root = _skeleton(tmp_path_factory.mktemp(f"case{index}"), {"out.txt": template})
        requests.append(SkeletonRequest(root, VALUES))
    return list(render_skeletons(requests))


@pytest.mark.parametrize("index", range(len(CASES)))
def test_renders_like_backstage(rendered_cases: list[object], index: int) -> None:
    assert rendered_cases[index] == {"out.txt": CASES[index][1]}


def test_file_names_are_templated_and_empty_parts_are_skipped(tmp_path: Path) -> None:
    root = _skeleton(
        tmp_path,
        {
            "catalog/${{ values.name }}.yaml": "name: ${{ values.name | dump }}\n",
            "${{ values.missing }}/x.yaml": "x: 1\n",
        },
    )
    # fetch:template skips an entry whose rendered path has an empty part ('//' or leading '/').
    assert render_skeletons([SkeletonRequest(root, VALUES)]) == [
        {"catalog/phi.yaml": 'name: "phi"\n'}
    ]


def test_a_template_error_is_reported(tmp_path: Path) -> None:
    root = _skeleton(tmp_path, {"x.txt": "{% if values.name %}"})
    (answer,) = render_skeletons([SkeletonRequest(root, VALUES)])
    assert isinstance(answer, SkeletonError)


def test_dumped_text_reads_back_as_the_same_string(tmp_path: Path) -> None:
    root = _skeleton(tmp_path, {"leaf.yaml": "description: ${{ values.text | dump }}\n"})
    answers = render_skeletons([SkeletonRequest(root, {"text": text}) for text in TEXTS])
    for text, answer in zip(TEXTS, answers, strict=True):
        assert isinstance(answer, dict)
        assert yaml.safe_load(answer["leaf.yaml"]) == {"description": text}
