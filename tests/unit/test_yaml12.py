"""load/yaml12.py reads plain scalars as YAML 1.2 readers do: checked against the `yaml` package
(eemeli/yaml, core schema), the YAML 1.2 reader of the YAML language server that editors check
leaves with and of Backstage, installed with Backstage's packages (tools/backstage)."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.load.yaml12 import second_reading, yaml12_value
from tests.support.backstage import VALIDATORS_DIR
from tests.support.yaml11 import HOSTILE

# Texts near every rule of either version: signs, dots, exponents, prefixes, underscores,
# colons, leading zeros, the words.
_ALPHABET = "0123456789+-._:eExXoObB"
_WORDS = ("yes", "No", "ON", "off", "true", "False", "TRUE", "tRUE", "null", "Null", "~", "y")
_EDGES = (
    "-0x1F", "+0x1F", "0x", "0o", "0o8", "-0o7", "+0o7", "1_000", "1__0", "0b11", "-0b1",
    "+.inf", "-.NaN", ".nan", "+.NaN", "1e3", "1.e3", ".e3", "1e", "1e+", "08", "0.", "-0",
    "+0", "1:20", "-1:20", "1:20.5", ".", "+", "-.5", "+.5e-3", "1E+3", "0x_1", "0.1_0",
)  # fmt: skip
_READ = """
const YAML = require(process.argv[1]);
const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = texts.map((text) => {
  let value;
  try {
    value = YAML.parse("x: " + text).x;
  } catch (error) {
    return ["error", String(error.message)];
  }
  return value === null ? ["null", ""] : [typeof value, String(value)];
});
process.stdout.write(JSON.stringify(out));
"""


def _texts() -> list[str]:
    chooser = random.Random(20261206)
    texts = {*HOSTILE, *_WORDS, *_EDGES}
    while len(texts) < 3000:
        texts.add("".join(chooser.choice(_ALPHABET) for _ in range(chooser.randint(1, 6))))
    # Only what a plain scalar can hold on one line (the YAML package reads the rest as
    # structure or comments, as any reader does).
    return sorted(
        text
        for text in texts
        if text.strip() == text
        and text[:1] not in ":?#!&*'\"[]{}>|%@`"
        and " #" not in text
        and not (text[:1] == "-" and text[1:2] in ("", " "))  # a sequence entry, not a scalar
    )


def _yaml_package_readings(texts: list[str]) -> list[tuple[str, str]]:
    node = shutil.which("node")
    package = VALIDATORS_DIR / "node_modules" / "yaml"
    if node is None or not (package / "package.json").is_file():
        pytest.fail(f"node and {package} are needed (run `make bootstrap`)")
    result = subprocess.run(
        [node, "-e", _READ, str(package)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [tuple(pair) for pair in json.loads(result.stdout)]


def _same(ours: Any, kind: str, shown: str) -> bool:
    if ours is None:
        return kind == "null"
    if isinstance(ours, bool):
        return kind == "boolean" and shown == str(ours).lower()
    if isinstance(ours, int | float):
        theirs = float(shown)
        return kind == "number" and (theirs == ours or (math.isnan(theirs) and math.isnan(ours)))
    return kind == "string" and shown == ours


def test_the_yaml_12_reading_is_the_yaml_packages() -> None:
    texts = _texts()
    readings = _yaml_package_readings(texts)
    differ = [
        (text, yaml12_value(text), reading)
        for text, reading in zip(texts, readings, strict=True)
        if reading[0] != "error" and not _same(yaml12_value(text), *reading)
    ]
    assert differ == []
    # Structure to YAML, not a scalar (such as `1:`): few, and never a scalar to either reader.
    assert sum(reading[0] == "error" for reading in readings) < len(texts) // 10


@pytest.mark.parametrize(
    ("text", "value"),
    [("10", 10), ("0x1F", 31), ("1.5", 1.5), ("1.0e+3", 1000.0), ("true", True), ("~", None)],
)
def test_what_both_versions_read_alike_is_not_ambiguous(text: str, value: Any) -> None:
    assert second_reading(text, value) is None


def test_what_catalog_gen_reads_without_a_word_check_jsonschema_reads_alike() -> None:
    """check-jsonschema (ruamel.yaml, timestamps kept as text) reads `1_0e5` as a number and
    cannot read a plain `=`: a leaf catalog-gen accepts must read the same to it, so every text
    it reads otherwise is refused (here through catalog-gen's own loader, on every text above)."""
    from check_jsonschema.parsers.yaml import construct_yaml_implementation

    from catalog_gen.load.document import parse_document
    from catalog_gen.problems import Report

    checker = construct_yaml_implementation()
    silent_disagreements = []
    for text in [*_texts(), "=", "<<", "1_0e5", "1.5_e3", "0_8", ".5_0"]:
        report = Report()
        document = parse_document(f"x: {text}\n".encode(), Path("x.yaml"), "x.yaml", report)
        if document is None or report.problems:
            continue  # refused, or said: the author is told to write what is meant
        try:
            theirs = checker.load(f"x: {text}\n")["x"]
        except Exception:
            silent_disagreements.append((text, document.data["x"], "unreadable"))
            continue
        ours = document.data["x"]
        if type(ours) is not type(theirs) or not (ours == theirs or _both_nan(ours, theirs)):
            silent_disagreements.append((text, ours, theirs))
    assert silent_disagreements == []


def _both_nan(first: Any, second: Any) -> bool:
    return isinstance(first, float) and math.isnan(first) and math.isnan(second)
