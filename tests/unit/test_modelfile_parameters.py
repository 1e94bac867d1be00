"""A derived model's PARAMETER values: refused exactly where `ollama create` refuses them, against
Go's own strconv (the parsers api.FormatParams uses), and at the leaf line before anything is
written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.check.modelfile_parameters import (
    BOOL,
    FLOAT,
    INT,
    PARAMETER_KINDS,
    parameter_refusal,
    parameter_text,
)
from tests.support.go_oracle import build_go_program
from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli

GO_PARSE = Path(__file__).parent / "goparse" / "main.go"
A_PARAMETER = {INT: "num_ctx", FLOAT: "temperature", BOOL: "use_mmap"}
TRICKY = [
    "0",
    "-0",
    "+7",
    "007",
    "8192",
    "8192.0",
    "8192.5",
    "1e3",
    "1E+3",
    ".5",
    "5.",
    "-.5e-2",
    "0x1p-2",
    "0X1.8P3",
    "0x10",
    "inf",
    "+Inf",
    "-infinity",
    "NaN",
    "nan",
    "1_000",
    "0x_1p0",
    "3.4028235e38",
    "3.5e38",
    "1e39",
    "-1e39",
    "1e-50",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "0" * 30 + "1",
    "",
    " 1",
    "1 ",
    "lots",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "t",
    "1",
    "yes",
    "on",
    "false",
    "F",
    "0.0",
    "\u0661",  # an Arabic-Indic digit: Go reads ASCII digits only
    "1e",
    "e1",
    "--1",
    "+-1",
    "0b101",
    "1.2.3",
]


@pytest.fixture(scope="module")
def go_parse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_program(GO_PARSE, tmp_path_factory.mktemp("goparse"))


def go_accepts(binary: Path, cases: list[tuple[str, str]]) -> list[bool]:
    lines = "".join(f"{kind}\t{text}\n" for kind, text in cases)
    answer = subprocess.run([str(binary)], input=lines, capture_output=True, text=True, check=True)
    return [line == "ok" for line in answer.stdout.splitlines()]


def catalog_gen_accepts(kind: str, text: str) -> bool:
    return parameter_refusal(A_PARAMETER[kind], text) is None


def test_the_tricky_values_are_judged_as_go_judges_them(go_parse: Path) -> None:
    cases = [(kind, text) for kind in (INT, FLOAT, BOOL) for text in TRICKY]
    verdicts = go_accepts(go_parse, cases)
    assert any(verdicts)
    assert not all(verdicts)
    disagreements = [
        (kind, text, go)
        for (kind, text), go in zip(cases, verdicts, strict=True)
        if catalog_gen_accepts(kind, text) != go
    ]
    assert disagreements == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-.eExXpPaFfinINtTrRuUsS_ ", max_size=12), min_size=20))
def test_random_values_are_judged_as_go_judges_them(go_parse: Path, texts: list[str]) -> None:
    cases = [(kind, text) for kind in (INT, FLOAT, BOOL) for text in texts]
    verdicts = go_accepts(go_parse, cases)
    for (kind, text), go in zip(cases, verdicts, strict=True):
        assert catalog_gen_accepts(kind, text) == go, (kind, text)


def test_every_parameter_has_a_kind_and_yaml_values_read_as_the_modelfile_writes_them() -> None:
    assert set(PARAMETER_KINDS) >= {"num_ctx", "temperature", "stop", "use_mmap", "seed"}
    assert [parameter_text(v) for v in (True, 8192, 8192.0, 0.2, "hot")] == [
        "true",
        "8192",
        "8192",
        "0.2",
        "hot",
    ]


def test_values_ollama_cannot_parse_are_refused_at_their_line(tmp_path: Path) -> None:
    body = (
        "model: phi:latest\n"
        "derivedModels:\n"
        "  - name: d:v1\n"
        "    from: phi:latest\n"
        "    parameters:\n"
        "      temperature: hot\n"
        "      num_ctx: 8192.5\n"
        "      use_mmap: 'yes'\n"
        "      stop: [5, '<|end|>']\n"
        "      top_k: 40\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stdout
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/svc.yaml:11:20: error: $.derivedModels[0].parameters.temperature: "
        "parameter 'temperature' must be a number: `ollama create` refuses 'hot' (invalid float "
        "value)",
        "catalog/dev/ml/svc.yaml:12:16: error: $.derivedModels[0].parameters.num_ctx: parameter "
        "'num_ctx' must be a whole number: `ollama create` refuses '8192.5' (invalid int value)",
        "catalog/dev/ml/svc.yaml:13:17: error: $.derivedModels[0].parameters.use_mmap: parameter "
        "'use_mmap' must be true or false: `ollama create` refuses 'yes' (invalid bool value)",
    ]


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        ("['<|end|>', .nan]", "item 1 must be a string or a finite number (got number nan)"),
        ("[{a: 1}]", "item 0 must be a string or a finite number (got a mapping)"),
        (
            "[]",
            "must be a string, number or boolean, or a non-empty list of strings/numbers "
            "(got an empty list)",
        ),
    ],
)
def test_a_parameter_list_names_its_item_that_is_not_allowed(
    tmp_path: Path, stop: str, message: str
) -> None:
    # A list is allowed: "(got a list)" sent its author looking for the wrong mistake.
    body = (
        "model: phi:latest\nderivedModels:\n  - name: d:v1\n    from: phi:latest\n"
        f"    parameters:\n      stop: {stop}\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    (error,) = error_lines(outcome.stdout)
    assert error.endswith(f"$.derivedModels[0].parameters.stop: {message}"), error
