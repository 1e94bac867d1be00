"""One model-name grammar: the chart's values.schema.json (models[].name) owns it; the scripts'
check of models.tsv and the generator's leaf field accept exactly the same names (the generator
adds one documented rule of its own: a bare `localhost/NAME` is refused as a likely registry)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from catalog_gen.fields import ModelName
from catalog_gen.references import InvalidReferenceError, parse_model_reference
from tests.conftest import REPO_ROOT
from tests.scripts.conftest import FILES, Pod

SCHEMA = json.loads(
    (REPO_ROOT / "charts" / "ollama-inference-load" / "values.schema.json").read_text()
)
NAME_SCHEMAS = [
    SCHEMA["properties"]["models"]["items"]["properties"]["name"],
    SCHEMA["properties"]["derivedModels"]["items"]["properties"]["name"],
]
LEAF_NAME = TypeAdapter(ModelName)
GENERATOR_ONLY_RULE = re.compile(r"^localhost/[^/]*$")


def generator_only_refusal(name: str) -> bool:
    """What the generator refuses beyond the chart's grammar, on purpose: `localhost/x` (Ollama
    reads it as namespace/name) and a registry whose port no client can dial."""
    if GENERATOR_ONLY_RULE.match(name):
        return True
    parts = name.split("/")
    if len(parts) != 3 or ":" not in parts[0]:
        return False
    port = parts[0].rpartition(":")[2]
    return parts[0].count(":") != 1 or not port.isdigit() or not 1 <= int(port) <= 65535


def chart_accepts(name: str) -> bool:
    verdicts = {
        len(name) <= spec["maxLength"] and re.fullmatch(spec["pattern"], name) is not None
        for spec in NAME_SCHEMAS
    }
    assert len(verdicts) == 1, "models and derivedModels disagree in the chart itself"
    return verdicts.pop()


def generator_accepts(name: str) -> bool:
    """The leaf field (its schema pattern) and the parser the generator's rules use."""
    try:
        LEAF_NAME.validate_python(name)
        parse_model_reference(name)
    except (ValidationError, InvalidReferenceError):
        return False
    return True


def scripts_accept(tmp_path: Path, names: list[str]) -> list[bool]:
    """The scripts' verdict on each name, from one models.tsv read by lib.sh's plan."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    rows = [f"{name}\t-\tfalse\tgenerate" for name in names]
    (config / "models.tsv").write_text("\n".join(rows) + "\n")
    result = subprocess.run(
        ["sh", "-c", f'. "{FILES / "lib.sh"}" && oil_plan'],
        env={"PATH": "/usr/bin:/bin", "OIL_CONFIG_DIR": str(config), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        check=True,
    )
    refused = {
        int(line.split(":")[1])
        for line in result.stdout.splitlines()
        if line.startswith("E\t") and "is not an Ollama model name" in line
    }
    return [index + 1 not in refused for index in range(len(names))]


def part(first: str, rest: str, longest: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda a, b: a + b,
        st.sampled_from(first),
        st.text(alphabet=rest, max_size=longest),
    )


WORD = "abzAZ09"
# Names built from the grammar's parts, with characters each part may or may not take, and
# lengths around the limits; plus free text over every character that matters.
STRUCTURED = st.builds(
    lambda host, ns, model, tag: (
        (host + "/" if host and ns else "")
        + (ns + "/" if ns else "")
        + model
        + (":" + tag if tag else "")
    ),
    st.one_of(st.just(""), part(WORD + "_.-", WORD + "_.:-", 6), part(WORD, WORD, 349)),
    st.one_of(st.just(""), part(WORD + "_.-", WORD + "_-.", 6), part(WORD, WORD, 81)),
    st.one_of(part(WORD + "_.-:", WORD + "_.-", 6), part(WORD, WORD, 80)),
    st.one_of(st.just(""), part(WORD + "_.-", WORD + "_.-:", 6), part(WORD, WORD, 80)),
)
FREE = st.text(alphabet=WORD + "_.-:/@+ ~%", min_size=1, max_size=12)
NAMES = st.one_of(STRUCTURED, FREE).filter(lambda n: n.strip() != "" and not n.startswith("#"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(NAMES, min_size=1, max_size=25))
def test_chart_scripts_and_generator_agree_on_every_name(tmp_path: Path, names: list[str]) -> None:
    by_scripts = scripts_accept(tmp_path, names)
    for name, script_verdict in zip(names, by_scripts, strict=True):
        chart_verdict = chart_accepts(name)
        assert script_verdict == chart_verdict, (
            f"{name!r}: chart {chart_verdict}, scripts {script_verdict}"
        )
        expected = chart_verdict and not generator_only_refusal(name)
        assert generator_accepts(name) == expected, f"{name!r}: chart {chart_verdict}"


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("_x:latest", True),
        ("phi", True),
        ("team_/_m:_t", True),
        ("host_1:5000/ns/m:q4_K_M", True),
        ("a" * 80, True),
        ("a" * 81, False),
        ("h" * 268 + "/n/" + "m" * 79, True),  # 350 characters
        ("h" * 269 + "/n/" + "m" * 79, False),
        ("-x", False),
        (".x", False),
        ("ns.dot/m", False),
        ("a/b/c/d", False),
        ("m:", False),
        ("m:t:u", False),
        ("m@sha256:" + "a" * 64, False),
        ("https://host/ns/m", False),
    ],
)
def test_the_grammar_on_known_names(tmp_path: Path, name: str, accepted: bool) -> None:
    assert chart_accepts(name) is accepted
    assert scripts_accept(tmp_path, [name]) == [accepted]
    assert generator_accepts(name) is accepted


@pytest.mark.parametrize(
    "name", ["h:99999/ns/m", "h:0/ns/m", "h:5000:1/ns/m", "h:/ns/m", "127.0.0.1:65536/library/phi"]
)
def test_a_registry_port_no_client_can_dial_is_the_generators_refusal(name: str) -> None:
    assert chart_accepts(name)  # the chart's grammar lets it through
    assert not generator_accepts(name)
    with pytest.raises(InvalidReferenceError, match="port from 1 to 65535"):
        parse_model_reference(name)
    assert generator_accepts("h:65535/ns/m")


def test_generator_refuses_a_namespace_that_looks_like_a_registry() -> None:
    assert chart_accepts("localhost/phi")
    assert not generator_accepts("localhost/phi")


def test_a_name_starting_with_an_underscore_is_pulled(pod: Pod) -> None:
    pod.control(registry={"_x": {"size": 20_000}})
    pod.models(("_x:latest", "", False, "generate"))

    result = pod.run("pull-models.sh")

    assert result.returncode == 0, result.stdout
    assert (
        pod.models_dir / "manifests" / "registry.ollama.ai" / "library" / "_x" / "latest"
    ).is_file()
