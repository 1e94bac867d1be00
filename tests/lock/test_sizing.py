"""Sizing from lock facts; every expected number is computed by hand in the comment beside it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog_gen.sizing import (
    GiB,
    GpuRequest,
    GpuType,
    KvGeometry,
    MiB,
    ModelSize,
    check_explicit_resources,
    check_gpu_fit,
    estimated_parameter_count,
    format_bytes,
    human_bytes,
    kv_cache_bytes,
    parameter_count,
    parse_quantity,
    quantity_bytes,
    resources_preset,
    service_memory,
    startup_budget,
)

# Llama 3 8B: 32 layers, 8 KV heads, 128-wide keys and values (its GGUF header).
LLAMA3_GEOMETRY = KvGeometry(layers=32, kv_heads=8, key_length=128, value_length=128)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("4Gi", Decimal(4 * 2**30)),
        ("1.5G", Decimal(1_500_000_000)),
        ("1e3", Decimal(1000)),
        ("1E", Decimal(10) ** 18),  # exa, not a bare exponent
        ("256Mi", Decimal(256 * 2**20)),
        ("+.5Ki", Decimal(512)),
        (3, Decimal(3)),
    ],
)
def test_parse_quantity(text: str | int, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["4GB", "", "Gi", "1.2.3", "four", "4 Gi", "1e"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


def test_quantity_bytes_rounds_up() -> None:
    assert quantity_bytes("1500m") == 2
    assert quantity_bytes("1.5Ki") == 1536


@pytest.mark.parametrize(
    ("value", "text"),
    [(8 * GiB, "8Gi"), (7936 * MiB, "7936Mi"), (1536 * 1024, "1536Ki"), (1000, "1000"), (0, "0")],
)
def test_format_bytes_is_canonical(value: int, text: str) -> None:
    assert format_bytes(value) == text
    assert quantity_bytes(text) == value


def test_human_bytes() -> None:
    assert human_bytes(4_661_224_676) == "4.3GiB"  # 4661224676 / 2^30 = 4.34
    assert human_bytes(300 * MiB) == "300.0MiB"
    assert human_bytes(900) == "900B"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.0B", 8e9),
        ("137M", 1.37e8),
        ("8x7B", 5.6e10),
        ("1.5T", 1.5e12),
        ("big", None),
        (None, None),
    ],
)
def test_parameter_count(text: str | None, expected: float | None) -> None:
    assert parameter_count(text) == expected


def test_parameter_count_from_weights_and_quantization() -> None:
    # 4.5e9 bytes x 8 bits / 4.5 bits per weight (Q4_0) = 8e9 parameters
    model = ModelSize("m", weights_bytes=4_500_000_000, download_bytes=0, quantization="q4_0")
    assert estimated_parameter_count(model) == pytest.approx(8e9)


def test_kv_cache_from_geometry() -> None:
    model = ModelSize("llama3:8b", 4 * GiB, 4 * GiB, geometry=LLAMA3_GEOMETRY)
    # 32 layers x 8 heads x (128 + 128) x 2 bytes = 131072 bytes per token; x 8192 = 1 GiB
    assert kv_cache_bytes(model, context_length=8192, num_parallel=1) == GiB
    # parallel slots multiply the context (Ollama GraphSize: context *= numParallel)
    assert kv_cache_bytes(model, context_length=2048, num_parallel=4) == GiB
    # q8_0 stores one byte per element
    assert kv_cache_bytes(model, context_length=8192, num_parallel=1, kv_cache_type="q8_0") == (
        GiB // 2
    )


def test_kv_cache_upper_bound_without_geometry() -> None:
    model = ModelSize("m", 4 * GiB, 4 * GiB, parameter_size="8B")
    # d_model = 2 x cbrt(8e9) = 4000; per token 4000^2 / 48 x 2 bytes = 666666.67;
    # context 0 means Ollama's 4096 floor: 666666.67 x 4096 = 2730666666.7 -> 2730666667
    assert kv_cache_bytes(model, context_length=0, num_parallel=1) == 2_730_666_667


def test_upper_bound_covers_real_models_without_grouped_query_attention() -> None:
    # Phi-3 mini (3.8B, 32 layers x 32 heads x 96): 32 x 32 x 192 x 2 = 393216 bytes per token
    phi3 = ModelSize("phi3", 2 * GiB, 2 * GiB, parameter_size="3.8B")
    assert kv_cache_bytes(phi3, context_length=1, num_parallel=1) >= 393_216
    # Llama 2 7B (6.7B, 32 x 32 x 128): 32 x 32 x 256 x 2 = 524288 bytes per token
    llama2 = ModelSize("llama2", 4 * GiB, 4 * GiB, parameter_size="6.7B")
    assert kv_cache_bytes(llama2, context_length=1, num_parallel=1) >= 524_288


def test_preset_memory_gpu_and_cache() -> None:
    model = ModelSize("llama3:8b", 4 * GiB, 4 * GiB + 200 * MiB, geometry=LLAMA3_GEOMETRY)
    preset = resources_preset(
        [model], context_length=8192, num_parallel=1, gpu=GpuType("nvidia-l4", 24 * GiB)
    )
    # 4 GiB weights + 1 GiB KV + 1 GiB runtime = 6 GiB
    assert (preset.memory_request, preset.memory_limit) == ("6Gi", "6Gi")
    assert preset.gpu == GpuRequest("nvidia.com/gpu", 1)
    # 4.2 GiB + 4.2 GiB (largest again) + 1 GiB = 9.4 GiB -> 10Gi
    assert preset.cache_size == "10Gi"


def test_preset_rounds_memory_up_to_256mi() -> None:
    model = ModelSize("m", 4 * GiB + 1, 4 * GiB, geometry=LLAMA3_GEOMETRY)
    preset = resources_preset([model], context_length=8192, num_parallel=1)
    assert preset.memory_limit == "6400Mi"  # 6 GiB + 1 byte -> next 256 MiB step
    assert preset.gpu is None


def test_gpu_count_and_sliced_gpu_memory() -> None:
    model = ModelSize("m", 4 * GiB, 4 * GiB, geometry=LLAMA3_GEOMETRY)
    small = resources_preset(
        [model], context_length=8192, num_parallel=1, gpu=GpuType("t4-4g", 4 * GiB)
    )
    assert small.gpu == GpuRequest("nvidia.com/gpu", 2)  # 6 GiB over 4 GiB cards
    sliced = resources_preset(
        [model],
        context_length=8192,
        num_parallel=1,
        gpu=GpuType("a100", 80 * GiB, "nvidia.com/gpumem", memory_unit_bytes=MiB),
    )
    assert sliced.gpu == GpuRequest("nvidia.com/gpumem", 6144)


def test_only_the_models_that_can_be_loaded_together_count() -> None:
    big = ModelSize("big", 10 * GiB, 10 * GiB, geometry=LLAMA3_GEOMETRY)
    small = ModelSize("small", 1 * GiB, 1 * GiB, geometry=LLAMA3_GEOMETRY)
    one = service_memory([small, big], context_length=8192, num_parallel=1, max_loaded_models=1)
    both = service_memory([small, big], context_length=8192, num_parallel=1)
    assert one.total == 12 * GiB  # 10 + 1 KV + 1 runtime
    assert both.total == 12 * GiB + 3 * GiB  # plus small: 1 + 1 KV + 1 runtime


def test_explicit_limit_below_the_weights_is_an_error_with_numbers() -> None:
    llama = ModelSize("llama3:8b", 7_838_315_316, 0)  # 7.3 GiB
    assert check_explicit_resources([llama], memory_limit="4Gi") == [
        "memory limit 4Gi is below the 7.3GiB the weights of llama3:8b need"
    ]
    assert check_explicit_resources([llama], memory_limit="8Gi") == []


def test_explicit_request_above_limit_and_bad_quantities() -> None:
    assert check_explicit_resources([], memory_request="8Gi", memory_limit="4Gi") == [
        "memory request 8Gi is above the memory limit 4Gi"
    ]
    [problem] = check_explicit_resources([], memory_limit="lots")
    assert problem.startswith("memory limit: 'lots' is not a Kubernetes quantity")


def test_model_that_cannot_fit_the_gpus_is_named_with_sizes() -> None:
    model = ModelSize("llama3:70b", 40 * GiB, 40 * GiB)
    l4 = GpuType("nvidia-l4", 24 * GiB)
    assert check_gpu_fit([model], l4, 1) == [
        "model llama3:70b (40.0GiB of weights) cannot fit in 1 x nvidia-l4 (24.0GiB each)"
    ]
    assert check_gpu_fit([model], l4, 2) == []
    sliced = GpuType("a100", 80 * GiB, "nvidia.com/gpumem", memory_unit_bytes=MiB)
    assert check_gpu_fit([model], sliced, 20480) == [
        "model llama3:70b (40.0GiB of weights) cannot fit in 20480 x nvidia.com/gpumem "
        "(20.0GiB of a100 memory)"
    ]


def test_startup_budget_scales_with_download_size() -> None:
    model = ModelSize("m", 10 * GiB, 10 * GiB)
    budget = startup_budget([model], bandwidth_bytes_per_second=100 * MiB)
    # pull 10 GiB / 100 MiB/s = 102.4 s; load 10 GiB / 200 MiB/s = 51.2 s; + 120 s margin
    assert (budget.pull_seconds, budget.load_seconds, budget.seconds) == (102.4, 51.2, 274)


def test_startup_budget_reads_every_blob_once_more_when_blobs_are_verified() -> None:
    model = ModelSize("m", 10 * GiB, 10 * GiB)
    budget = startup_budget([model], bandwidth_bytes_per_second=100 * MiB, verify_blobs=True)
    # + the hashing: 10 GiB / 200 MiB/s = 51.2 s (lifecycle.verifyBlobs reads each blob again)
    assert (budget.hash_seconds, budget.seconds) == (51.2, 325)


def test_startup_budget_is_clamped() -> None:
    tiny = ModelSize("tiny", 100 * MiB, 100 * MiB)
    huge = ModelSize("huge", 1024 * GiB, 1024 * GiB)
    assert startup_budget([tiny], bandwidth_bytes_per_second=100 * MiB).seconds == 180
    assert startup_budget([huge], bandwidth_bytes_per_second=10 * MiB).seconds == 4 * 3600
    with pytest.raises(ValueError, match="positive"):
        startup_budget([tiny], bandwidth_bytes_per_second=0)
