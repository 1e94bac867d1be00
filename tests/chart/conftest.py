"""Chart test helpers: every ci/ scenario rendered once per helm version and reused."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, helm_binary
from tests.support.kube import Document, helm_template, helm_template_text, load_documents

CHART = REPO_ROOT / "charts" / "ollama-inference-load"
RELEASE = "release"
NAMESPACE = "ollama"
# What Argo CD passes on a cluster with Gateway API and cert-manager installed.
API_VERSIONS = (
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "gateway.networking.k8s.io/v1/Gateway",
    "cert-manager.io/v1/Certificate",
)
SCENARIOS = tuple(
    sorted(path.name.removesuffix("-values.yaml") for path in (CHART / "ci").glob("*-values.yaml"))
)


def scenario_file(scenario: str) -> Path:
    return CHART / "ci" / f"{scenario}-values.yaml"


@functools.cache
def render_scenario_text(helm: Path, scenario: str) -> str:
    return helm_template_text(
        helm,
        CHART,
        [scenario_file(scenario)],
        release=RELEASE,
        namespace=NAMESPACE,
        api_versions=API_VERSIONS,
    )


def render_scenario(helm: Path, scenario: str) -> list[Document]:
    return load_documents(render_scenario_text(helm, scenario))


_UNYAML = re.compile("[\x7f-\x9f\ufffe\uffff]")


def render(
    helm: Path,
    values: dict[str, Any] | None = None,
    tmp_path: Path | None = None,
    chart: Path = CHART,
    **kwargs: Any,
) -> list[Document]:
    """Render the chart with values given as data (written to a file, so types stay exact)."""
    values_files: list[Path] = []
    if values is not None:
        if tmp_path is None:
            raise ValueError("values need a tmp_path to be written to")
        values_file = tmp_path / f"values-{len(list(tmp_path.glob('values-*.yaml')))}.yaml"
        # JSON, which every YAML reader reads alike (PyYAML would write `n` plain: helm's YAML
        # 1.1 reads a boolean); the characters a YAML file cannot hold raw as escapes.
        text = _UNYAML.sub(
            lambda found: f"\\u{ord(found[0]):04x}", json.dumps(values, ensure_ascii=False)
        )
        values_file.write_text(text, encoding="utf-8")
        values_files.append(values_file)
    kwargs.setdefault("release", RELEASE)
    kwargs.setdefault("namespace", NAMESPACE)
    kwargs.setdefault("api_versions", API_VERSIONS)
    return helm_template(helm, chart, values_files, **kwargs)


def pod_spec(document: Document) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]["template"]["spec"]
    return spec


def container(document: Document, name: str) -> dict[str, Any]:
    spec = pod_spec(document) if document["kind"] != "Pod" else document["spec"]
    for item in [*spec.get("initContainers", []), *spec["containers"]]:
        if item["name"] == name:
            return dict(item)
    raise AssertionError(f"no container {name} in {document['kind']}")


def env(container_spec: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container_spec.get("env", [])}


@pytest.fixture(scope="session")
def helm3() -> Path:
    return helm_binary("3.19.0")
