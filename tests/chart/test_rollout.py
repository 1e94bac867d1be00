"""Rollouts that fit the GPUs: the derived Deployment strategy, the StatefulSet's one pod at a time,
the PDB, and the image variant for AMD GPUs (ROCm)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, SCENARIOS, container, render, render_scenario, scenario_file
from tests.support.kube import Document, HelmError, select

APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"]


def workload(documents: list[Document]) -> Document:
    (found,) = select(documents, "Deployment") + select(documents, "StatefulSet")
    return found


def _pods(value: int | str, replicas: int, *, round_up: bool) -> int:
    """An intOrPercent as Kubernetes resolves it: maxSurge rounds up, maxUnavailable down."""
    if isinstance(value, int):
        return value
    share = replicas * int(value.removesuffix("%")) / 100
    return math.ceil(share) if round_up else math.floor(share)


def rollout_peak_pods(document: Document) -> tuple[int, int]:
    """(pods that exist at once during a rollout at most, pods the rollout may replace at once)
    read from the rendered workload alone."""
    spec = document["spec"]
    replicas = int(spec.get("replicas", 1))
    if document["kind"] == "StatefulSet":
        # The controller deletes a pod and creates its replacement (same name) only once the old
        # one is gone: never an extra pod.
        assert spec["updateStrategy"]["type"] == "RollingUpdate"
        assert "maxUnavailable" not in spec["updateStrategy"].get("rollingUpdate", {})
        return replicas, 1
    strategy = spec["strategy"]
    if strategy["type"] == "Recreate":
        return replicas, replicas
    rolling = strategy["rollingUpdate"]
    surge = _pods(rolling["maxSurge"], replicas, round_up=True)
    unavailable = _pods(rolling["maxUnavailable"], replicas, round_up=False)
    return replicas + surge, surge + unavailable


CHART_DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def gpus_per_pod(document: Document, values: dict[str, Any]) -> int:
    limits = container(document, "ollama")["resources"]["limits"]
    resource = values["gpu"].get("resourceName", CHART_DEFAULTS["gpu"]["resourceName"])
    return int(limits.get(resource, 0))


def gpu_fit_problems(document: Document, values: dict[str, Any]) -> list[str]:
    """Why a rollout of this workload would wait for GPUs the pool does not have, or never
    progress; empty when it fits the replicas' GPUs plus updateStrategy.gpuSurge."""
    per_pod = gpus_per_pod(document, values)
    replicas = int(document["spec"].get("replicas", 1))
    peak, progress = rollout_peak_pods(document)
    spare = int(values.get("updateStrategy", {}).get("gpuSurge", 0))
    problems = []
    if peak * per_pod > replicas * per_pod + spare:
        problems.append(
            f"needs {peak * per_pod} GPUs during a rollout, the service holds "
            f"{replicas * per_pod} and the pool spares {spare}"
        )
    if replicas > 0 and progress < 1:
        problems.append("the rollout can neither start nor stop a pod")
    return problems


def scenario_values(scenario: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(scenario_file(scenario).read_text(encoding="utf-8"))
    return values


GPU_SCENARIOS = tuple(
    name for name in SCENARIOS if scenario_values(name).get("gpu", {}).get("count", 0) > 0
)


def test_there_are_gpu_scenarios_of_every_derived_kind() -> None:
    assert {"gpu", "amd-rocm", "hami"} <= set(GPU_SCENARIOS)


@pytest.mark.parametrize("scenario", GPU_SCENARIOS)
def test_gpu_scenario_rollout_needs_no_gpu_beyond_replicas_and_surge(
    helm: Path, scenario: str
) -> None:
    values = scenario_values(scenario)
    document = workload(render_scenario(helm, scenario))
    assert gpus_per_pod(document, values) == values["gpu"]["count"]
    assert gpu_fit_problems(document, values) == []


@pytest.mark.parametrize(
    "values",
    [
        {"gpu": {"count": 1}, "updateStrategy": {"maxSurge": 1}},
        {"gpu": {"count": 2}, "replicaCount": 4, "updateStrategy": {"maxSurge": "25%"}},
        {"gpu": {"count": 2}, "updateStrategy": {"gpuSurge": 1, "maxSurge": 1}},
    ],
    ids=["explicit-surge", "percent-surge", "surge-beyond-spare"],
)
def test_the_fit_check_catches_a_surge_without_spare_gpus(
    helm: Path, tmp_path: Path, values: dict[str, Any]
) -> None:
    document = workload(render(helm, values, tmp_path))
    full = {**values, "gpu": {"resourceName": "nvidia.com/gpu", **values["gpu"]}}
    assert gpu_fit_problems(document, full)


RECREATE = {"type": "Recreate"}


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, rolling(1, 0)),
        ({"replicaCount": 3}, rolling(1, 0)),
        ({"gpu": {"count": 1}}, RECREATE),
        ({"gpu": {"count": 1}, "replicaCount": 0}, RECREATE),
        ({"gpu": {"count": 1}, "replicaCount": 3}, rolling(0, 1)),
        ({"gpu": {"count": 2}, "updateStrategy": {"gpuSurge": 1}}, RECREATE),
        ({"gpu": {"count": 2}, "updateStrategy": {"gpuSurge": 2}}, rolling(1, 0)),
        (
            {"gpu": {"count": 2}, "replicaCount": 4, "updateStrategy": {"gpuSurge": 5}},
            rolling(2, 0),
        ),
        ({"gpu": {"count": 1}, "updateStrategy": {"type": "RollingUpdate"}}, rolling(0, 1)),
        ({"gpu": {"count": 1}, "updateStrategy": {"maxSurge": "25%"}}, rolling("25%", 0)),
        (
            {"gpu": {"count": 1}, "replicaCount": 2, "updateStrategy": {"maxUnavailable": "50%"}},
            rolling(0, "50%"),
        ),
        (
            {"gpu": {"count": 1}, "updateStrategy": {"type": "Recreate"}, "replicaCount": 5},
            RECREATE,
        ),
        ({"gpu": {"count": 1}, "cache": {"mode": "sharedPVC"}}, RECREATE),
        ({"updateStrategy": {"maxSurge": 0, "maxUnavailable": 1}}, rolling(0, 1)),
    ],
    ids=[
        "cpu",
        "cpu-replicas",
        "gpu-one-replica",
        "gpu-zero-replicas",
        "gpu-replicas",
        "gpu-spare-below-a-pod",
        "gpu-spare-one-pod",
        "gpu-spare-two-pods",
        "gpu-explicit-rolling",
        "gpu-explicit-surge",
        "gpu-explicit-unavailable",
        "gpu-explicit-recreate",
        "gpu-shared-pvc",
        "cpu-explicit",
    ],
)
def test_derived_deployment_strategy(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: dict[str, Any]
) -> None:
    (deployment,) = select(render(helm, values, tmp_path), "Deployment")
    assert deployment["spec"]["strategy"] == expected


def test_gpu_stateful_set_rolls_one_pod_at_a_time(helm: Path, tmp_path: Path) -> None:
    values = {"gpu": {"count": 1}, "replicaCount": 3, "cache": {"mode": "perReplica"}}
    (stateful,) = select(render(helm, values, tmp_path), "StatefulSet")
    assert stateful["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    full = {**values, "gpu": {"count": 1, "resourceName": "nvidia.com/gpu"}}
    assert gpu_fit_problems(stateful, full) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"gpu": {"count": 1}, "updateStrategy": {"maxUnavailable": 0}},
            ["updateStrategy.maxUnavailable is 0 and maxSurge is 0", "gpu.count=1"],
        ),
        (
            {"gpu": {"count": 4}, "updateStrategy": {"maxUnavailable": "0%", "gpuSurge": 3}},
            ["gpuSurge=3 spare GPUs"],
        ),
        (
            {"updateStrategy": {"maxSurge": 0, "maxUnavailable": 0}},
            ["updateStrategy.maxUnavailable is 0 and maxSurge is 0"],
        ),
    ],
    ids=["gpu-no-spare", "gpu-spare-below-a-pod", "both-zero"],
)
def test_a_rollout_that_cannot_progress_is_refused(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "templates/validate.yaml" in failure.value.stderr
    for text in expected:
        assert text in failure.value.stderr


def test_no_availability_loss_with_enough_spare_gpus_renders(helm: Path, tmp_path: Path) -> None:
    values = {"gpu": {"count": 2}, "updateStrategy": {"maxUnavailable": 0, "gpuSurge": 2}}
    (deployment,) = select(render(helm, values, tmp_path), "Deployment")
    assert deployment["spec"]["strategy"] == rolling(1, 0)


@pytest.mark.parametrize("budget", [0, "0%", "00%"])
def test_pod_disruption_budget_that_blocks_drains_is_refused(
    helm: Path, tmp_path: Path, budget: int | str
) -> None:
    values = {"replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": budget}}
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "/podDisruptionBudget/maxUnavailable" in failure.value.stderr


@pytest.mark.parametrize("budget", [1, "50%"])
def test_pod_disruption_budget_allows_a_pod(helm: Path, tmp_path: Path, budget: int | str) -> None:
    values = {"replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": budget}}
    (pdb,) = select(render(helm, values, tmp_path), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == budget


# --- ROCm ----------------------------------------------------------------------------------------


def test_amd_scenario_uses_the_rocm_image(helm: Path) -> None:
    deployment = workload(render_scenario(helm, "amd-rocm"))
    expected = f"docker.io/ollama/ollama:{APP_VERSION}-rocm"
    assert container(deployment, "ollama")["image"] == expected
    assert container(deployment, "pull-models")["image"] == expected
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == f"{APP_VERSION}-rocm"


@pytest.mark.parametrize(
    ("values", "image", "test_image"),
    [
        (
            {"gpu": {"count": 2, "resourceName": "amd.com/gpu"}},
            f"docker.io/ollama/ollama:{APP_VERSION}-rocm",
            f"docker.io/ollama/ollama:{APP_VERSION}",
        ),
        (
            {"gpu": {"count": 0, "resourceName": "amd.com/gpu"}},
            f"docker.io/ollama/ollama:{APP_VERSION}",
            f"docker.io/ollama/ollama:{APP_VERSION}",
        ),
        (
            {"gpu": {"count": 1, "resourceName": "nvidia.com/gpu"}},
            f"docker.io/ollama/ollama:{APP_VERSION}",
            f"docker.io/ollama/ollama:{APP_VERSION}",
        ),
        (
            {"gpu": {"count": 1, "resourceName": "amd.com/gpu"}, "image": {"tag": "0.31.0"}},
            "docker.io/ollama/ollama:0.31.0",
            f"docker.io/ollama/ollama:{APP_VERSION}",
        ),
        (
            {
                "gpu": {"count": 1, "resourceName": "amd.com/gpu"},
                "global": {"imageRegistry": "mirror.internal:5000"},
                "image": {"digest": "sha256:" + "a" * 64},
            },
            f"mirror.internal:5000/ollama/ollama:{APP_VERSION}-rocm@sha256:{'a' * 64}",
            f"mirror.internal:5000/ollama/ollama:{APP_VERSION}",
        ),
    ],
    ids=["amd", "amd-cpu-only", "nvidia", "explicit-tag", "mirror-digest"],
)
def test_image_variant_follows_the_gpu_vendor(
    helm: Path, tmp_path: Path, values: dict[str, Any], image: str, test_image: str
) -> None:
    documents = render(helm, values, tmp_path)
    assert container(workload(documents), "ollama")["image"] == image
    (test_pod,) = select(documents, "Pod")
    assert test_pod["spec"]["containers"][0]["image"] == test_image
