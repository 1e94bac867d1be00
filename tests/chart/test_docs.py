"""The chart README's values table is generated from values.yaml and must be current; every
value is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import CHART
from tools import chart_docs

VALUES = """\
# header comment, not a description
# -- Top-level count.
replicas: 1
image:
  # -- Image tag.
  # Continued description.
  tag: ""
  repository: ollama/ollama
# -- A documented mapping is one row.
resources:
  limits:
    memory: 1Gi
peers:
  - namespaceSelector:
      matchLabels: {a: b}
"""


def test_parse_reads_descriptions_defaults_and_continuations() -> None:
    docs = chart_docs.parse(VALUES)
    assert [(doc.key, doc.description, doc.default) for doc in docs] == [
        ("replicas", "Top-level count.", 1),
        ("image.tag", "Image tag. Continued description.", ""),
        ("resources", "A documented mapping is one row.", {"limits": {"memory": "1Gi"}}),
    ]
    assert chart_docs.undocumented(VALUES, docs) == [
        (("image", "repository"), 8),
        (("peers",), 13),
    ]


def test_render_table_escapes_pipes() -> None:
    doc = chart_docs.ValueDoc(("a",), 1, "x | y", "p|q")
    assert (
        chart_docs.render_table([doc]).splitlines()[-1] == '| `a` | string | `"p\\|q"` | x \\| y |'
    )


def test_every_chart_value_is_documented() -> None:
    text = (CHART / "values.yaml").read_text()
    assert chart_docs.undocumented(text, chart_docs.parse(text)) == []


def test_readme_values_table_is_current() -> None:
    assert chart_docs.main(["--check", str(CHART)]) == 0


def test_stale_readme_is_reported(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("# -- Replicas.\nreplicaCount: 1\n")
    (tmp_path / "README.md").write_text(f"# x\n{chart_docs.START}\nold\n{chart_docs.END}\n")
    assert chart_docs.main(["--check", str(tmp_path)]) == 1
    assert chart_docs.main([str(tmp_path)]) == 0
    assert "| `replicaCount` | int | `1` | Replicas. |" in (tmp_path / "README.md").read_text()
    assert chart_docs.main(["--check", str(tmp_path)]) == 0


def test_undocumented_value_fails_with_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "values.yaml").write_text("# -- Replicas.\nreplicaCount: 1\nimage:\n  tag: x\n")
    (tmp_path / "README.md").write_text(f"{chart_docs.START}\n{chart_docs.END}\n")
    assert chart_docs.main([str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'values.yaml'}:4:1: error: $.image.tag: value has no `# --` description\n"
    )


def test_missing_markers_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("# -- Replicas.\nreplicaCount: 1\n")
    (tmp_path / "README.md").write_text("# no table\n")
    assert chart_docs.main([str(tmp_path)]) == 2
