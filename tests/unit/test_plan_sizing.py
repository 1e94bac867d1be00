"""plan/ with a model lock: resourcesPreset auto, explicit values against the lock's facts,
startup budgets and load groups. Every expected number is worked out by hand in the comments,
from the formulas in docs/model-lock.md, so a change to sizing.py shows up here as a diff."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.lock.model import LockedModel
from catalog_gen.plan.pipeline import CatalogPlan, plan_catalog
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report
from tests.unit.helpers import CHART, leaf, make_catalog, pin

GiB, MiB = 2**30, 2**20
SMALL = "registry.ollama.ai/example/small:8b"
# 8.0B parameters: d_model = 2 x cbrt(8e9) = 4000; KV bound per token = 4000^2 / 48 x 2 bytes
# = 666,666.7 B; at Ollama's 4096-token floor, one slot: 2,730,666,667 B.
# Memory = 4 GiB weights + 2,730,666,667 + 1 GiB overhead = 8,099,375,787 B -> 31 x 256 MiB.
SMALL_PIN = pin(SMALL, "11", weights=4 * GiB, total=4 * GiB + MiB, parameter_size="8.0B")
ENVIRONMENT = """\
environment: sized
routing: gateway
gateway: {{parentRef: {{name: gw, namespace: gateway-system}}}}
gpu:
  resourceName: {resource}
  types: [{{name: l4, memory: 24Gi}}]
  defaultType: l4
defaults:
  resourcesPreset: auto
  resources:
    requests: {{cpu: "1", memory: 1Gi}}
    limits: {{memory: 2Gi}}
  cache: {{mode: emptyDir, size: 5Gi}}
  startup: {{budgetSeconds: 600}}
{extra}"""


@functools.cache
def chart() -> ChartContract:
    return ChartContract.load(CHART)


def plan(
    tmp_path: Path,
    body: str,
    lock: dict[str, LockedModel],
    *,
    resource: str = "nvidia.com/gpu",
    extra: str = "downloadBandwidth: 100Mi\n",
) -> tuple[CatalogPlan, Report]:
    files = {
        "environments/sized.yaml": ENVIRONMENT.format(resource=resource, extra=extra),
        "sized/ml/svc.yaml": leaf(body, environment="sized"),
    }
    catalog = make_catalog(tmp_path, files)
    report = Report()
    result = plan_catalog(
        catalog, "catalog", chart(), report, lock_loader=lambda path, report, display: lock
    )
    return result, report


def only(tmp_path: Path, body: str, lock: dict[str, LockedModel], **kwargs: Any) -> ServicePlan:
    result, report = plan(tmp_path, body, lock, **kwargs)
    assert report.ok, report.format_text()
    assert report.problems == [], report.format_text()
    (service,) = result.plans
    return service


def test_auto_sizes_memory_gpu_cache_and_startup_from_the_lock(tmp_path: Path) -> None:
    service = only(tmp_path, "model: example/small:8b\n", {SMALL: SMALL_PIN})
    values = service.chart_values
    assert values["resources"] == {
        "requests": {"cpu": "1", "memory": "7936Mi"},  # 31 x 256 Mi
        "limits": {"memory": "7936Mi"},
    }
    # 8,099,375,787 B on 24 GiB L4s: one.
    assert values["gpu"] == {"count": 1, "resourceName": "nvidia.com/gpu"}
    # (4 GiB + 1 MiB) twice (a moved tag's new blobs land before the old ones go) + 1 GiB
    # = 9 GiB + 2 MiB -> 10 GiB.
    assert values["cache"]["size"] == "10Gi"
    # 4,296,015,872 B / 100 MiB/s = 40.97 s pull + 4 GiB / 200 MiB/s = 20.48 s load + 120 s
    # = 181.45 -> 182 (above the 180 s floor).
    assert values["startup"] == {"budgetSeconds": 182}
    assert service.startup_budget_seconds == 182
    assert values["models"][0]["digest"] == "11" * 32


def test_parallel_slots_multiply_the_kv_cache(tmp_path: Path) -> None:
    service = only(
        tmp_path, "model: example/small:8b\nollama: {numParallel: 2}\n", {SMALL: SMALL_PIN}
    )
    # KV for 8192 tokens: 5,461,333,334; + 4 GiB + 1 GiB = 10,830,042,454 B -> 41 x 256 MiB.
    assert service.chart_values["resources"]["limits"] == {"memory": "10496Mi"}


def test_a_derived_models_context_sizes_its_base_models_runner(tmp_path: Path) -> None:
    body = (
        "model: example/small:8b\n"
        "derivedModels:\n"
        "  - {name: small-long, from: example/small:8b, parameters: {num_ctx: 16384}}\n"
    )
    service = only(tmp_path, body, {SMALL: SMALL_PIN})
    # KV for 16384 tokens: 10,922,666,667; + 5 GiB = 16,291,375,787 B -> 61 x 256 MiB.
    assert service.chart_values["resources"]["limits"] == {"memory": "15616Mi"}


def test_memory_sliced_gpu_requests_the_memory_in_mib(tmp_path: Path) -> None:
    service = only(
        tmp_path, "model: example/small:8b\n", {SMALL: SMALL_PIN}, resource="nvidia.com/gpumem"
    )
    # 8,099,375,787 B / 1,048,576 = 7724.17 -> 7725 MiB.
    assert service.chart_values["gpu"] == {"count": 7725, "resourceName": "nvidia.com/gpumem"}


def test_explicit_values_win_over_auto(tmp_path: Path) -> None:
    body = (
        "model: example/small:8b\n"
        "gpu: {count: 2}\n"
        "cache: {size: 50Gi}\n"
        "container: {resources: {limits: {memory: 6Gi}}}\n"
    )
    service = only(tmp_path, body, {SMALL: SMALL_PIN})
    # The 6Gi limit is below the 7936Mi estimate but above the 4 GiB of weights: it wins, and
    # the request goes up to it, not past it.
    assert service.chart_values["resources"]["limits"] == {"memory": "6Gi"}
    assert service.chart_values["resources"]["requests"]["memory"] == "6Gi"
    assert service.chart_values["gpu"]["count"] == 2
    assert service.chart_values["cache"]["size"] == "50Gi"


def test_an_explicit_request_above_the_estimate_raises_the_limit_with_it(tmp_path: Path) -> None:
    body = "model: example/small:8b\ncontainer: {resources: {requests: {memory: 12Gi}}}\n"
    service = only(tmp_path, body, {SMALL: SMALL_PIN})
    assert service.chart_values["resources"]["requests"]["memory"] == "12Gi"
    assert service.chart_values["resources"]["limits"] == {"memory": "12Gi"}


def test_chart_values_win_over_auto_and_the_computed_budget(tmp_path: Path) -> None:
    body = (
        "model: example/small:8b\n"
        "chartValues:\n"
        "  resources: {requests: {memory: 9Gi}, limits: {memory: 9Gi}}\n"
        "  startup: {budgetSeconds: 4000}\n"
    )
    service = only(tmp_path, body, {SMALL: SMALL_PIN})
    assert service.chart_values["resources"]["requests"]["memory"] == "9Gi"
    assert service.chart_values["startup"]["budgetSeconds"] == 4000


def test_without_bandwidth_the_environment_budget_applies(tmp_path: Path) -> None:
    service = only(tmp_path, "model: example/small:8b\n", {SMALL: SMALL_PIN}, extra="")
    assert service.chart_values["startup"] == {"budgetSeconds": 600}


def test_a_slow_link_gives_a_big_model_its_time(tmp_path: Path) -> None:
    big = "registry.ollama.ai/example/big:70b"
    lock = {big: pin(big, "22", weights=40 * GiB, total=40 * GiB, parameter_size="70B")}
    body = (
        "model: example/big:70b\ngpu: {count: 2}\n"
        "container: {resources: {limits: {memory: 64Gi}}}\n"
    )
    service = only(tmp_path, body, lock, extra="downloadBandwidth: 10Mi\n")
    # 40 GiB / 10 MiB/s = 4096 s pull + 40 GiB / 200 MiB/s = 204.8 s load + 120 = 4420.8 -> 4421.
    assert service.chart_values["startup"] == {"budgetSeconds": 4421}
    # Blobs hashed at each start (lifecycle.verifyBlobs): 40 GiB read once more, 204.8 s.
    verified = body + "chartValues: {lifecycle: {verifyBlobs: true}}\n"
    service = only(tmp_path / "verified", verified, lock, extra="downloadBandwidth: 10Mi\n")
    assert service.chart_values["startup"] == {"budgetSeconds": 4626}


def test_auto_without_every_model_pinned_warns_and_keeps_the_environment_values(
    tmp_path: Path,
) -> None:
    body = (
        "models: [example/small:8b, phi]\n"
        "container: {resources: {requests: {memory: 6Gi}, limits: {memory: 6Gi}}}\n"
    )
    result, report = plan(tmp_path, body, {SMALL: SMALL_PIN})
    assert report.ok
    assert report.format_text() == (
        "catalog/sized/ml/svc.yaml:6:28: warning: $.models[1]: model phi:latest is not pinned "
        'in catalog/models.lock.yaml: it deploys unpinned (digest "") (run `catalog-gen lock`; '
        "required where requireLock: true)\n"
        "catalog/sized/ml/svc.yaml:6:28: warning: $.models[1]: resourcesPreset auto cannot size "
        "the service: phi:latest not pinned in catalog/models.lock.yaml; the environment's "
        "resources, GPUs and cache size apply (run `catalog-gen lock`)\n"
    )
    (service,) = result.plans
    assert service.chart_values["resources"]["limits"] == {"memory": "6Gi"}
    assert service.chart_values["cache"]["size"] == "5Gi"
    assert service.chart_values["gpu"]["count"] == 0
    assert service.chart_values["startup"] == {"budgetSeconds": 600}
    # The pinned model keeps its digest even so.
    assert [model["digest"] for model in service.chart_values["models"]] == ["11" * 32, ""]


def test_a_model_larger_than_every_gpu_it_may_use_is_an_error(tmp_path: Path) -> None:
    huge = "registry.ollama.ai/example/huge:34b"
    lock = {huge: pin(huge, "33", weights=30 * GiB, parameter_size="27B")}
    _, report = plan(
        tmp_path,
        "model: example/huge:34b\ncache: {size: 64Gi}\n",
        lock,
        resource="nvidia.com/gpumem",
        extra="",
    )
    # Sliced, the auto request is the memory itself: d_model = 2 x cbrt(2.7e10) = 6000, KV
    # 6000^2 / 24 x 4096 = 6,144,000,000; + 30 GiB + 1 GiB = 39,429,996,544 B = 37603.6 MiB
    # -> 37604; but one L4 has 24 GiB, less than the weights.
    assert report.format_text() == (
        "catalog/sized/ml/svc.yaml:6:8: error: $.model: model example/huge:34b (30.0GiB of "
        "weights) cannot fit in 37604 x nvidia.com/gpumem (24.0GiB of l4 memory)\n"
    )


def test_derived_models_share_their_base_models_load_slot(tmp_path: Path) -> None:
    body = (
        "model: example/small:8b\n"
        "ollama: {maxLoadedModels: 1}\n"
        "derivedModels:\n"
        "  - {name: a, from: example/small:8b, system: one}\n"
        "  - {name: b, from: a, system: two}\n"
    )
    only(tmp_path, body, {SMALL: SMALL_PIN})
