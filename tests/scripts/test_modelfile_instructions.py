"""Modelfile instructions end to end: a leaf's derivedModels (SYSTEM, TEMPLATE, PARAMETER,
MESSAGE, LICENSE, ADAPTER) rendered by catalog-gen, written into the scripts ConfigMap by the
chart, parsed as Ollama parses Modelfiles and built by pull-models.sh with the double's create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.chart.conftest import CHART
from tests.conftest import helm_binary
from tests.ollama_double.cli import parse_modelfile
from tests.scripts.conftest import Pod
from tests.support.kube import helm_template, select
from tests.unit.helpers import leaf, make_catalog, run_cli

DERIVED = """\
model: phi
derivedModels:
  - name: phi-support
    from: phi
    parameters: {temperature: 0.2, num_ctx: 8192, stop: ["<|end|>", "User:"]}
    system: |
      You answer support questions.
        Indented line, "quoted" words, a trailing quote"
    messages:
      - role: user
        content: How do I reset my password?
      - role: assistant
        content: |-
          Open Settings, then "Security".
          Press Reset.
    license: |-
      Apache-2.0
      Copyright the support team.
"""
ADAPTER = """\
model: phi
derivedModels:
  - {name: phi-lora, from: phi, adapter: /models/adapters/support-lora.gguf}
"""


def scripts_data(tmp_path: Path, body: str) -> dict[str, str]:
    """The scripts ConfigMap's data for a leaf: catalog-gen's values.yaml through the chart."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    values = tmp_path / "generated" / "dev" / "ml" / "svc" / "values.yaml"
    (configmap,) = select(helm_template(helm_binary("3.19.0"), CHART, [values]), "ConfigMap")
    data: dict[str, str] = configmap["data"]
    return data


def test_every_instruction_parses_as_written(tmp_path: Path) -> None:
    data = scripts_data(tmp_path, DERIVED)
    request = parse_modelfile(data["modelfile-0"])
    expected: dict[str, Any] = {
        "from": "phi:latest",
        "parameters": {"temperature": 0.2, "num_ctx": 8192, "stop": "User:"},
        "system": 'You answer support questions.\n  Indented line, "quoted" words, a trailing'
        ' quote"\n',
        "messages": [
            {"role": "user", "content": "How do I reset my password?"},
            {"role": "assistant", "content": 'Open Settings, then "Security".\nPress Reset.'},
        ],
        "license": ["Apache-2.0\nCopyright the support team."],
    }
    # The double keeps the last value of a repeated PARAMETER (Ollama makes stop a list).
    assert request == expected
    assert data["modelfile-0"].count('PARAMETER stop "') == 2


def test_pull_models_builds_the_derived_model(pod: Pod, tmp_path: Path) -> None:
    data = scripts_data(tmp_path, DERIVED)
    for name in ("models.tsv", "derived.tsv", "groups.tsv", "modelfile-0"):
        (pod.config_dir / name).write_text(data[name], encoding="utf-8")
    pod.control(registry={"phi": {"size": 150_000}})

    result = pod.run("pull-models.sh")

    assert result.returncode == 0, result.stdout + result.stderr
    manifests = pod.models_dir / "manifests" / "registry.ollama.ai" / "library"
    assert (manifests / "phi-support" / "latest").is_file()
    assert pod.state()["create_requests"] == 1


def test_adapter_is_an_absolute_path_line(tmp_path: Path) -> None:
    data = scripts_data(tmp_path, ADAPTER)
    assert data["modelfile-0"] == "FROM phi:latest\nADAPTER /models/adapters/support-lora.gguf\n"
