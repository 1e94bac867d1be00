"""The generator's autoscaling and VRAM-fit arithmetic (plan/autoscaling.py, sizing.py); the
rules' messages and positions are in the fixture corpus (tests/fixtures/leaves/*/autoscaling-*,
*loaded-models-*)."""

from __future__ import annotations

import pytest

from catalog_gen.plan.autoscaling import counted_replicas, scales_to_zero
from catalog_gen.sizing import GpuType, ModelSize, gpu_memory, models_fitting_at_once

GiB = 1024**3


def size(name: str, gib: float) -> ModelSize:
    return ModelSize(name=name, weights_bytes=int(gib * GiB), download_bytes=int(gib * GiB))


@pytest.mark.parametrize(
    ("effective", "counted"),
    [
        ({"replicaCount": 3}, 3),
        ({}, 1),
        ({"replicaCount": 3, "autoscaling": {"enabled": False, "maxReplicas": 5}}, 3),
        ({"replicaCount": 1, "autoscaling": {"enabled": True, "maxReplicas": 5}}, 5),
    ],
)
def test_an_autoscaled_service_counts_its_max_replicas(
    effective: dict[str, object], counted: int
) -> None:
    assert counted_replicas(effective) == counted


def test_scale_to_zero_needs_autoscaling_on() -> None:
    zero = {"scaleToZero": {"enabled": True}}
    assert scales_to_zero({"autoscaling": {"enabled": True, **zero}})
    assert not scales_to_zero({"autoscaling": {"enabled": False, **zero}})
    assert not scales_to_zero({"autoscaling": {"enabled": True}})


@pytest.mark.parametrize(
    ("sizes", "available_gib", "fits"),
    [
        ([9, 13, 4], 24, 2),  # 13 + 9 = 22 fit; + 4 = 26 does not
        ([9, 13, 4], 26, 3),
        ([9, 13, 4], 12, 0),  # the largest alone does not fit
        ([4, 4, 4, 4], 12, 3),
        ([1], 24, 1),
    ],
)
def test_models_fitting_at_once_counts_the_largest_first(
    sizes: list[float], available_gib: int, fits: int
) -> None:
    models = [size(f"m{index}", gib) for index, gib in enumerate(sizes)]
    assert models_fitting_at_once(models, available_gib * GiB) == fits


def test_gpu_memory_of_devices_and_of_memory_slices() -> None:
    l4 = GpuType(name="l4", memory_bytes=24 * GiB)
    assert gpu_memory(l4, 2) == (48 * GiB, "2 x l4 (24.0GiB each)")
    sliced = GpuType(
        name="l4",
        memory_bytes=24 * GiB,
        resource_name="nvidia.com/gpumem",
        memory_unit_bytes=1024**2,
    )
    assert gpu_memory(sliced, 8192)[0] == 8 * GiB
    assert gpu_memory(sliced, 100_000)[0] == 24 * GiB  # never more than one GPU's memory
