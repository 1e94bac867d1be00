"""catalog-gen and the chart refuse the same characters of a derived model's Modelfile.

The chart refuses, in derivedModels[].modelfile, the characters Ollama's Modelfile parser drops:
the C0 controls and DEL in values.schema.json, every other one in templates/_validate.tpl (a Go
regexp). catalog-gen judges a leaf's Modelfile fields with the same characters first
(check/modelfile_text.py), so that the error is at the field; these tests hold the two to each
other: the texts catalog-gen keeps are the chart's, and, run by helm's own Go regexp on every
Unicode code point, the chart finds exactly the characters catalog-gen refuses (less those
Python's older Unicode database leaves unassigned, which catalog-gen refuses and the chart keeps).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

from catalog_gen.check.modelfile_text import (
    CHART_DROPPED_CLASS,
    SCHEMA_CONTROL_PATTERN,
    dropped,
    go_quoted,
)
from tests.chart.conftest import CHART

# Every code point a UTF-8 text can hold (no surrogates), in order.
EVERY_CHARACTER = "".join(chr(point) for point in range(0x110000) if not 0xD800 <= point < 0xE000)


def test_catalog_gens_character_texts_are_the_charts() -> None:
    template = (CHART / "templates" / "_validate.tpl").read_text(encoding="utf-8")
    # In the template the class is a Go string literal: its backslashes doubled, as JSON has them.
    assert f"regexFindAll {json.dumps(CHART_DROPPED_CLASS)} $modelfile" in template
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    modelfile = schema["properties"]["derivedModels"]["items"]["properties"]["modelfile"]
    assert SCHEMA_CONTROL_PATTERN in [rule.get("pattern") for rule in modelfile["allOf"]]


def _found_by_go(helm: Path, tmp_path: Path, classes: dict[str, str]) -> dict[str, str]:
    """The characters of EVERY_CHARACTER each Go regexp class finds, in order, as helm's
    sprig regexFindAll finds them."""
    chart = tmp_path / "go-regexp"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: go-regexp\nversion: 0.0.0\n")
    (chart / "characters.txt").write_text(EVERY_CHARACTER, encoding="utf-8")
    lines = ['{{- $text := .Files.Get "characters.txt" }}']
    lines += [
        f'{name}: {{{{ regexFindAll {json.dumps(pattern)} $text -1 | join "" | b64enc }}}}'
        for name, pattern in classes.items()
    ]
    (chart / "templates" / "found.yaml").write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [str(helm), "template", "go-regexp", str(chart)],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(": ")
        if name in classes:
            found[name] = base64.b64decode(value).decode("utf-8")
    assert sorted(found) == sorted(classes)
    return found


def test_the_chart_finds_exactly_the_characters_catalog_gen_refuses(
    helm: Path, tmp_path: Path
) -> None:
    assert SCHEMA_CONTROL_PATTERN.startswith("^[^")
    assert SCHEMA_CONTROL_PATTERN.endswith("]*$")
    controls = "[" + SCHEMA_CONTROL_PATTERN[3:-3] + "]"  # what the schema's pattern refuses
    found = _found_by_go(helm, tmp_path, {"template": CHART_DROPPED_CLASS, "schema": controls})
    by_chart = found["template"] + found["schema"]
    assert len(set(by_chart)) == len(by_chart)  # the two rules share no character
    refused = dropped(EVERY_CHARACTER)
    # Characters assigned since Python's Unicode database (unassigned to it): catalog-gen refuses
    # them, Go's newer tables may keep them. Nothing else may differ, either way.
    only_catalog_gen = set(refused) - set(by_chart)
    assert {unicodedata.category(char) for char in only_catalog_gen} <= {"Cn"}, sys.version
    assert not set(by_chart) - set(refused)
    # Some of every kind the rule is about, so that neither side can refuse nothing.
    for char in "\x00\x01\x1f\x7f\x85\xa0\u2028\u200d\u3000\ufeff\ue000\U0010fffd":
        assert char in refused, go_quoted(char)
        assert char in by_chart, go_quoted(char)
    for char in "a \t\n\r~\xe9\u0301\u4e2d\U0001f600\ufffd":
        assert char not in refused, go_quoted(char)
        assert char not in by_chart, go_quoted(char)


def test_catalog_gen_shows_a_character_as_the_chart_does() -> None:
    """Go's %q, as the chart's message shows the characters it found."""
    shown = [go_quoted(char) for char in "\x00\x07\x0b\x1f\x7f\x85\xa0\ufeff\U000e0001"]
    assert shown == [
        '"\\x00"',
        '"\\a"',
        '"\\v"',
        '"\\x1f"',
        '"\\x7f"',
        '"\\u0085"',
        '"\\u00a0"',
        '"\\ufeff"',
        '"\\U000e0001"',
    ]
