"""Every rendered manifest validated strictly: built-ins for Kubernetes 1.29-1.34 with
kubernetes-validate, custom resources against the real CRDs in the shared folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import SCENARIOS, render_scenario
from tests.conftest import helm_binary
from tests.support.kube import KUBE_VERSIONS, validate_manifests

HELM3 = "3.19.0"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_manifests_are_valid_for_every_kubernetes_version(
    scenario: str, shared_dir: Path
) -> None:
    # helm 3 and helm 4 output are asserted identical in test_render, so one is enough here.
    documents = render_scenario(helm_binary(HELM3), scenario)
    assert documents
    assert validate_manifests(documents, KUBE_VERSIONS, shared_dir / "crds") == []


def test_scenarios_exercise_every_kind_the_chart_can_render() -> None:
    kinds = {
        document["kind"]
        for scenario in SCENARIOS
        for document in render_scenario(helm_binary(HELM3), scenario)
    }
    assert kinds == {
        "Certificate",
        "ConfigMap",
        "Deployment",
        "Gateway",
        "HTTPRoute",
        "Ingress",
        "InterceptorRoute",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Pod",
        "PodDisruptionBudget",
        "ReferenceGrant",
        "ScaledObject",
        "SecurityPolicy",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    }


def test_kubernetes_versions_are_the_supported_range() -> None:
    assert KUBE_VERSIONS == ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
