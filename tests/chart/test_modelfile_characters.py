"""catalog-gen and the chart refuse the same characters of a derived model's Modelfile.

The chart refuses, in derivedModels[].modelfile, the characters Ollama's Modelfile parser drops:
the C0 controls and DEL in values.schema.json, every other one in templates/_validate.tpl (a Go
regexp). catalog-gen judges a leaf's Modelfile fields with the same characters first
(check/modelfile_text.py), so that the error is at the field; these tests hold the two to each
other: the texts catalog-gen keeps are the chart's, and, run by helm's own Go regexp on every
Unicode code point, the chart finds exactly the characters catalog-gen refuses (plus those
Python's older Unicode database does not know, which catalog-gen leaves to the chart), and the
chart's template itself, its ASCII fast path included, refuses what catalog-gen refuses.
"""

from __future__ import annotations

import base64
import json
import re
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
from tests.conftest import helm_binary

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
    # Code points Python's Unicode database does not know (Cn to it) are left to the chart, whose
    # newer Go tables decide (U+1FAE8, Unicode 15, is a symbol Ollama keeps): catalog-gen refuses
    # nothing the chart keeps, and leaves the chart only such code points.
    assert not set(refused) - set(by_chart)
    left_to_the_chart = set(by_chart) - set(refused)
    assert {unicodedata.category(char) for char in left_to_the_chart} <= {"Cn"}, sys.version
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


# Characters around the template's ASCII fast path and the kinds the rule is about.
_SAMPLE = [chr(point) for point in range(0x80, 0x100)] + list(
    "\u2028\u200d\u3000\ufeff\ue000\u4e2d\u0301\U0001f600"
)


def test_the_charts_own_template_refuses_what_catalog_gen_refuses(tmp_path: Path) -> None:
    """The rule as the chart runs it (_validate.tpl, its fast path for printable ASCII first),
    not only its class: a derived model per character, 16 a render (the schema's bound)."""
    refused_by_chart: set[str] = set()
    for start in range(0, len(_SAMPLE), 16):
        chunk = _SAMPLE[start : start + 16]
        values = {
            "models": [{"name": "phi"}],
            "derivedModels": [
                {"name": f"m{index}", "modelfile": f'FROM phi\nSYSTEM """a{char}b"""\n'}
                for index, char in enumerate(chunk)
            ],
        }
        path = tmp_path / f"{start}.json"
        # Raw UTF-8 (a JSON escape of an astral character is a surrogate pair, which YAML
        # refuses), but an escape for what a YAML file cannot hold raw (C1 controls).
        text = re.sub(
            "[\x7f-\x9f\ufffe\uffff]",
            lambda found: f"\\u{ord(found[0]):04x}",
            json.dumps(values, ensure_ascii=False),
        )
        path.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [str(helm_binary("3.19.0")), "template", "r", str(CHART), "-f", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        # The template names derivedModels[N] (mN); the schema (C1 controls: characters a YAML
        # file cannot hold, the chart's yamlText rule) names /derivedModels/N/modelfile.
        named = {
            int(by_template or by_schema)
            for by_template, by_schema in re.findall(
                r"derivedModels\[(\d+)\] \(m\d+\)|/derivedModels/(\d+)/modelfile", result.stderr
            )
        }
        assert (result.returncode == 0) == (not named), result.stderr[-500:]
        refused_by_chart |= {chunk[index] for index in named}
    assert refused_by_chart == {char for char in _SAMPLE if dropped(char)}
