"""helm lint --strict and helm template for every ci/ scenario on both pinned helm versions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chart.conftest import (
    CHART,
    SCENARIOS,
    render_scenario,
    render_scenario_text,
    scenario_file,
)
from tests.conftest import helm_binary
from tests.support.kube import helm_template, select


def test_scenarios_cover_the_issue() -> None:
    assert set(SCENARIOS) >= {
        "default-cpu",
        "gpu",
        "shared-pvc",
        "per-replica",
        "httproute-gateway-tls",
        "ingress",
        "hardened",
        "multi-model",
        "airgapped",
        "keda-http",
        "keda-prometheus",
    }


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_lint_strict(helm: Path, scenario: str | None) -> None:
    command = [str(helm), "lint", "--strict", str(CHART)]
    if scenario:
        command += ["--values", str(scenario_file(scenario))]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_render_is_identical_on_helm3_and_helm4(scenario: str) -> None:
    helm3, helm4 = helm_binary("3.19.0"), helm_binary("4.3.1")
    assert render_scenario_text(helm3, scenario) == render_scenario_text(helm4, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_render_is_deterministic(helm: Path, scenario: str) -> None:
    first = render_scenario_text.__wrapped__(helm, scenario)
    assert first == render_scenario_text.__wrapped__(helm, scenario)


def test_default_values_render_without_generator_or_capabilities(helm: Path) -> None:
    documents = helm_template(helm, CHART)
    kinds = sorted(document["kind"] for document in documents)
    assert kinds == ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_renders_one_workload(helm: Path, scenario: str) -> None:
    documents = render_scenario(helm, scenario)
    workloads = select(documents, "Deployment") + select(documents, "StatefulSet")
    assert len(workloads) == 1
