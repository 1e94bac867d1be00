"""plan/rollout.py and the GPU budget's surge term: the environment's gpu.surge reaches the chart
as updateStrategy.gpuSurge, an explicit strategy that needs more spare GPUs than the environment
has is refused with the numbers, and the budget counts the surge once."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.plan.rollout import surge_pods
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report
from tests.unit.helpers import leaf
from tests.unit.test_plan import plan

ENVIRONMENT = """\
environment: dev
routing: gateway
baseDomain: dev.example.com
gateway:
  parentRef: {{name: shared-gateway, namespace: gateway-system, sectionName: https}}
gpu:
  {budget}surge: {surge}
"""


def planned(
    tmp_path: Path, body: str, *, surge: int, budget: int | None = None
) -> tuple[list[ServicePlan], Report]:
    environment = ENVIRONMENT.format(
        surge=surge, budget=f"budget: {budget}\n  " if budget is not None else ""
    )
    files = {"environments/dev.yaml": environment, "dev/ml/svc.yaml": leaf("model: phi\n" + body)}
    result, report = plan(tmp_path, files)
    return list(result.plans), report


def errors(report: Report) -> list[str]:
    return [line for line in report.format_text().splitlines() if ": error: " in line]


@pytest.mark.parametrize(
    ("body", "surge", "expected"),
    [
        ("gpu: {count: 1}\n", 0, {"gpuSurge": 0}),
        ("gpu: {count: 1}\n", 1, {"gpuSurge": 1}),
        ("gpu: {count: 2}\ncontainer: {replicas: 2}\n", 2, {"gpuSurge": 2}),
        ("gpu: {count: 0}\n", 2, None),
        ("chartValues: {gpu: {count: 1}}\n", 1, {"gpuSurge": 1}),
        (
            "gpu: {count: 8000}\nchartValues: {gpu: {resourceName: nvidia.com/gpumem, "
            "extraResources: {nvidia.com/gpu: 1}}}\n",
            2,
            {"gpuSurge": 0},
        ),
        ("gpu: {count: 1}\nchartValues: {updateStrategy: {gpuSurge: 0}}\n", 3, {"gpuSurge": 0}),
    ],
    ids=["surge-0", "surge-1", "two-gpus", "cpu", "gpu-from-chart-values", "hami", "leaf-lower"],
)
def test_gpu_services_get_the_environments_surge(
    tmp_path: Path, body: str, surge: int, expected: dict[str, int] | None
) -> None:
    (service,), report = planned(tmp_path, body, surge=surge)
    assert errors(report) == []
    assert service.chart_values.get("updateStrategy") == expected
    assert ("updateStrategy" in service.value_comments) is (expected is not None)


@pytest.mark.parametrize(
    ("body", "surge", "words"),
    [
        ("gpu: {count: 1}\n", 0, "(Recreate;"),
        ("gpu: {count: 1}\ncontainer: {replicas: 2}\n", 0, "maxSurge 0, maxUnavailable 1"),
        ("gpu: {count: 2}\ncontainer: {replicas: 2}\n", 1, "fewer than a new pod needs (2 x"),
        ("gpu: {count: 2}\n", 2, "enough for a new pod (2 x nvidia.com/gpu)"),
        ("gpu: {count: 1}\ncache: {mode: perReplica}\n", 0, "StatefulSet replaces one pod"),
        ("gpu: {count: 1}\nchartValues: {updateStrategy: {type: Recreate}}\n", 0, "sets the"),
        # Spare GPUs a workload that cannot surge does not use (review: it said "enough for a
        # new pod ... to start before an old one stops").
        ("gpu: {count: 1}\ncache: {mode: perReplica}\n", 1, "but the StatefulSet (cache.mode"),
        (
            "gpu: {count: 1}\ncache: {mode: sharedPVC, accessModes: [ReadWriteOnce]}\n",
            2,
            "but the cache claim attaches to one node only (ReadWriteOnce), so the chart sets "
            "Recreate: a new pod starts only once an old one is gone",
        ),
    ],
)
def test_the_comment_says_why(tmp_path: Path, body: str, surge: int, words: str) -> None:
    (service,), report = planned(tmp_path, body, surge=surge)
    assert errors(report) == []
    comment = service.value_comments["updateStrategy"]
    assert comment.startswith("Rollout: ")
    assert words in comment
    assert f"gpu.surge {surge}" in comment


def test_a_surge_that_needs_more_gpus_than_spared_is_refused_with_the_numbers(
    tmp_path: Path,
) -> None:
    body = "gpu: {count: 2}\nchartValues:\n  updateStrategy:\n    maxSurge: 1\n"
    (line,) = errors(planned(tmp_path, body, surge=0)[1])
    assert line == (
        "catalog/dev/ml/svc.yaml:10:15: error: $.chartValues.updateStrategy.maxSurge: maxSurge 1 "
        "starts 1 extra pod x 2 GPUs = 2 GPUs during a rollout; environment dev spares gpu.surge "
        "0 (leave updateStrategy to catalog-gen (it stops an old pod first where the GPUs are "
        "short), or raise the environment's gpu.surge if the pool has those GPUs spare)"
    )


@pytest.mark.parametrize(
    ("body", "surge", "refused"),
    [
        ("gpu: {count: 1}\nchartValues: {updateStrategy: {maxSurge: 1}}\n", 1, None),
        ("gpu: {count: 2}\nchartValues: {updateStrategy: {maxSurge: 1}}\n", 1, "= 2 GPUs"),
        ("gpu: {count: 2}\nchartValues: {updateStrategy: {maxSurge: 1}}\n", 2, None),
        (
            "gpu: {count: 1}\ncontainer: {replicas: 3}\n"
            'chartValues: {updateStrategy: {maxSurge: "50%"}}\n',
            1,
            "maxSurge 50% starts 2 extra pods x 1 GPUs = 2 GPUs",
        ),
        (
            "gpu: {count: 1}\ncontainer: {replicas: 3}\n"
            'chartValues: {updateStrategy: {maxSurge: "50%"}}\n',
            2,
            None,
        ),
        (
            "gpu: {count: 1}\ncontainer: {replicas: 2}\n"
            "chartValues: {updateStrategy: {maxSurge: 1, type: Recreate}}\n",
            0,
            None,
        ),
        (
            "gpu: {count: 1}\ncontainer: {replicas: 2}\ncache: {mode: perReplica}\n"
            "chartValues: {updateStrategy: {maxSurge: 1}}\n",
            0,
            None,
        ),
        ("gpu: {count: 0}\nchartValues: {updateStrategy: {maxSurge: 2}}\n", 0, None),
        (
            "gpu: {count: 8000}\nchartValues: {gpu: {resourceName: nvidia.com/gpumem, "
            "extraResources: {nvidia.com/gpu: 1}}, updateStrategy: {maxSurge: 1}}\n",
            0,
            "1 extra pod x 1 GPUs = 1 GPUs",
        ),
        (
            "gpu: {count: 8000}\nchartValues: {gpu: {resourceName: nvidia.com/gpumem}, "
            "updateStrategy: {maxSurge: 1}}\n",
            0,
            None,
        ),
        ("gpu: {count: 1}\nchartValues: {updateStrategy: {gpuSurge: 3}}\n", 1, "gpuSurge 3 "),
        ("gpu: {count: 1}\nchartValues: {updateStrategy: {gpuSurge: 1}}\n", 1, None),
    ],
    ids=[
        "one-gpu-within",
        "two-gpus-over",
        "two-gpus-within",
        "percent-rounds-up-over",
        "percent-within",
        "recreate",
        "statefulset",
        "cpu",
        "hami-vgpu",
        "hami-shares-only",
        "gpu-surge-over",
        "gpu-surge-within",
    ],
)
def test_explicit_strategies_against_the_environments_surge(
    tmp_path: Path, body: str, surge: int, refused: str | None
) -> None:
    found = errors(planned(tmp_path, body, surge=surge)[1])
    if refused is None:
        assert found == []
    else:
        (line,) = found
        assert "$.chartValues.updateStrategy." in line
        assert refused in line
        assert f"spares gpu.surge {surge}" in line or f"(gpu.surge {surge})" in line


@pytest.mark.parametrize(
    ("value", "replicas", "pods"),
    [(0, 3, 0), (2, 3, 2), ("0%", 4, 0), ("25%", 4, 1), ("26%", 4, 2), ("100%", 3, 3)],
)
def test_percentages_round_up_like_kubernetes(value: int | str, replicas: int, pods: int) -> None:
    assert surge_pods(value, replicas) == pods


@pytest.mark.parametrize(
    ("body", "surge", "budget", "message"),
    [
        ("gpu: {count: 2}\ncontainer: {replicas: 2}\n", 0, 4, None),
        (
            "gpu: {count: 2}\ncontainer: {replicas: 2}\n",
            1,
            4,
            "request 4 GPUs (GPUs per pod x replicas) plus gpu.surge 1 spare for rollouts = 5, "
            "over the budget of 4; largest: ml/svc 4",
        ),
        ("gpu: {count: 2}\ncontainer: {replicas: 2}\n", 2, 6, None),
        ("gpu: {count: 0}\n", 5, 4, None),
        (
            "gpu: {count: 8000}\nchartValues: {gpu: {resourceName: nvidia.com/gpumem}}\n",
            5,
            4,
            None,
        ),
        (
            "gpu: {count: 1}\ncontainer: {replicas: 5}\n",
            0,
            4,
            "request 5 GPUs (GPUs per pod x replicas), over the budget of 4; largest: ml/svc 5",
        ),
    ],
    ids=["no-surge", "surge-over", "surge-within", "cpu-only", "hami-shares", "steady-over"],
)
def test_the_budget_counts_the_surge_once(
    tmp_path: Path, body: str, surge: int, budget: int, message: str | None
) -> None:
    found = errors(planned(tmp_path, body, surge=surge, budget=budget)[1])
    if message is None:
        assert found == []
    else:
        (line,) = found
        assert line.startswith("catalog/environments/dev.yaml:")
        assert line.endswith(f"$.gpu.budget: services of environment 'dev' {message}")


def test_two_services_share_one_allowance(tmp_path: Path) -> None:
    environment = ENVIRONMENT.format(surge=1, budget="budget: 3\n  ")
    files = {
        "environments/dev.yaml": environment,
        "dev/ml/a.yaml": leaf("model: phi\ngpu: {count: 1}\n", name="a"),
        "dev/ml/b.yaml": leaf("model: phi\ngpu: {count: 1}\n", name="b"),
    }
    _, report = plan(tmp_path, files)
    assert errors(report) == []  # 2 steady + 1 surge = 3: the allowance is counted once
