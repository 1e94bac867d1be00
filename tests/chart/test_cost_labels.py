"""Cost allocation labels: costLabels become prefixed pod labels OpenCost and Kubecost aggregate
on (docs/cost.md); values that are not Kubernetes label values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.conftest import render
from tests.support.kube import HelmError, select

PREFIX = "cost.ollama-inference-load.io/"


@pytest.mark.parametrize("mode", ["emptyDir", "perReplica"])
def test_cost_labels_are_pod_labels_with_the_prefix(helm: Path, tmp_path: Path, mode: str) -> None:
    values = {
        "cache": {"mode": mode},
        "costLabels": {"team": "ml-platform", "service": "ml-inference", "environment": "1e3"},
    }
    documents = render(helm, values, tmp_path)
    (workload,) = select(documents, "Deployment") + select(documents, "StatefulSet")
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[PREFIX + "team"] == "ml-platform"
    assert pod_labels[PREFIX + "service"] == "ml-inference"
    assert pod_labels[PREFIX + "environment"] == "1e3"  # a string, not a YAML 1.1 number
    # Pod labels only: selectors and the other resources are unchanged.
    assert not any(key.startswith(PREFIX) for key in workload["metadata"]["labels"])
    assert not any(key.startswith(PREFIX) for key in workload["spec"]["selector"]["matchLabels"])
    for service in select(documents, "Service"):
        assert not any(key.startswith(PREFIX) for key in service["metadata"]["labels"])


def test_empty_cost_labels_are_left_out(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"costLabels": {"team": "ml-platform"}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert [key for key in pod_labels if key.startswith(PREFIX)] == [PREFIX + "team"]
    (default,) = select(render(helm), "Deployment")
    assert not any(
        key.startswith(PREFIX) for key in default["spec"]["template"]["metadata"]["labels"]
    )


@pytest.mark.parametrize(
    "costs",
    [
        {"team": "a" * 64},
        {"team": "ml platform"},
        {"service": "-edge"},
        {"environment": "dev/"},
        {"owner": "ml-platform"},
    ],
    ids=["too-long", "space", "leading-dash", "slash", "unknown-key"],
)
def test_values_that_are_not_label_values_are_refused(
    helm: Path, tmp_path: Path, costs: dict[str, str]
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, {"costLabels": costs}, tmp_path)
    assert "/costLabels" in failure.value.stderr


def test_a_label_value_of_63_characters_renders(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"costLabels": {"team": "a" * 62 + "z"}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"][PREFIX + "team"] == "a" * 62 + "z"
