"""Sizing from the model lock (docs/model-lock.md) and the lock's facts against what deploys.

auto_values fills `resourcesPreset: auto` (memory, GPUs, cache size) wherever the leaf is silent,
computed_startup_budget derives the startup budget from download sizes and bandwidth, and
check_fit holds the effective values to what the lock knows for a fact (weights, downloads).
weights_roots groups models that share weights, as Ollama loads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from catalog_gen import sizing
from catalog_gen.check.chart_contract import set_by
from catalog_gen.check.rules import LeafDerivedModel
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.problems import Report
from catalog_gen.sizing import human_bytes, quantity_bytes, quantity_text

# Ollama loads at most this many models at once unless OLLAMA_MAX_LOADED_MODELS says otherwise
# (envconfig: 3 per GPU, 3 on CPU).
OLLAMA_DEFAULT_MAX_LOADED_MODELS = 3

# Extended resources that hand out GPU memory, not devices, and the bytes of one unit: the
# request is an amount of memory (HAMi's nvidia.com/gpumem counts MiB).
MEMORY_SLICED_GPU_RESOURCES: Mapping[str, int] = {"nvidia.com/gpumem": sizing.MiB}
AUTO_PRESET = "auto"


def sizing_gpu_type(
    environment: Environment, name: str | None, resource_name: str
) -> sizing.GpuType | None:
    """The environment's GPU type of that name, as sizing reads it; None when it declares none."""
    for gpu_type in environment.gpu.types or ():
        if gpu_type.name == name:
            return sizing.GpuType(
                name=gpu_type.name,
                memory_bytes=quantity_bytes(gpu_type.memory),
                resource_name=resource_name,
                memory_unit_bytes=MEMORY_SLICED_GPU_RESOURCES.get(resource_name),
            )
    return None


def weights_roots(names: Iterable[str], derived: Sequence[LeafDerivedModel]) -> dict[str, str]:
    """Every model name -> the pulled model whose weights it loads (a derived model shares its
    FROM model's weights, directly or through another derived model): Ollama keeps one runner
    per weights file, so these form one load group."""
    roots = {name: name for name in names}
    for item in derived:
        roots[item.name.short] = roots.get(item.base, item.base)
    return roots


def _derived_contexts(names: Iterable[str], derived: Sequence[LeafDerivedModel]) -> dict[str, int]:
    """The largest num_ctx a derived model sets, by the pulled model whose runner it reloads."""
    roots = weights_roots(names, derived)
    contexts: dict[str, int] = {}
    for item in derived:
        num_ctx = (item.spec.parameters or {}).get("num_ctx")
        if isinstance(num_ctx, int) and not isinstance(num_ctx, bool):
            base = roots[item.name.short]
            contexts[base] = max(contexts.get(base, 0), num_ctx)
    return contexts


def auto_values(
    leaf: CatalogLeaf,
    effective: Mapping[str, Any],
    sizes: Sequence[sizing.ModelSize],
    *,
    derived: Sequence[LeafDerivedModel],
    gpu_type: sizing.GpuType | None,
) -> dict[str, Any]:
    """`resourcesPreset: auto`: memory, GPUs and cache size from the lock, for every key the leaf
    (container.resources, gpu, cache.size, chartValues) does not set itself."""
    ollama = effective.get("ollama", {})
    preset = sizing.resources_preset(
        sizes,
        context_length=int(ollama.get("contextLength") or 0),
        num_parallel=int(ollama.get("numParallel") or 1),
        max_loaded_models=int(ollama.get("maxLoadedModels") or 0),
        gpu=gpu_type,
        model_context=_derived_contexts([size.name for size in sizes], derived),
    )
    chart_values = leaf.chart_values or {}
    explicit_resources = leaf.container.resources if leaf.container else None

    def explicit(path: tuple[str, ...], in_leaf: object) -> bool:
        return in_leaf is not None or set_by(chart_values, path)

    patch: dict[str, Any] = {}
    request_set = explicit(
        ("resources", "requests", "memory"),
        explicit_resources.requests.memory
        if explicit_resources and explicit_resources.requests
        else None,
    )
    limit_set = explicit(
        ("resources", "limits", "memory"),
        explicit_resources.limits.memory
        if explicit_resources and explicit_resources.limits
        else None,
    )
    resources = effective.get("resources", {})
    computed = preset.memory_limit
    memory: dict[str, Any] = {}
    if not request_set:
        limit = resources.get("limits", {}).get("memory") if limit_set else None
        # An explicit limit below the estimate wins (explicit always does): request up to it.
        too_high = limit is not None and quantity_bytes(limit) < quantity_bytes(computed)
        memory["requests"] = {"memory": quantity_text(limit) if limit and too_high else computed}
    if not limit_set:
        request = resources.get("requests", {}).get("memory") if request_set else None
        too_low = request is not None and quantity_bytes(request) > quantity_bytes(computed)
        memory["limits"] = {"memory": quantity_text(request) if request and too_low else computed}
    if memory:
        patch["resources"] = memory
    if preset.gpu is not None and not explicit(("gpu", "count"), leaf.gpu):
        patch["gpu"] = {"count": preset.gpu.count}
    if not explicit(("cache", "size"), leaf.cache.size if leaf.cache else None):
        patch["cache"] = {"size": preset.cache_size}
    return patch


def loaded_models_limit(
    leaf: CatalogLeaf,
    gpu_count: int,
    sizes: Sequence[sizing.ModelSize],
    gpu_type: sizing.GpuType | None,
) -> tuple[int, str] | None:
    """`ollama.maxLoadedModels` from VRAM fit, with why: where the service's models do not all
    fit in its GPUs' memory at once, the number that surely does (the largest first). None where
    they all fit, nothing is known, or the leaf or its chartValues set the limit themselves."""
    explicit = leaf.ollama is not None and leaf.ollama.max_loaded_models is not None
    if explicit or set_by(leaf.chart_values or {}, ("ollama", "maxLoadedModels")):
        return None
    if len(sizes) < 2 or gpu_type is None or gpu_count <= 0:
        return None
    available, offered = sizing.gpu_memory(gpu_type, gpu_count)
    fits = sizing.models_fitting_at_once(sizes, available)
    if fits == 0 or fits >= len(sizes):  # the largest alone does not fit: check_fit says so
        return None
    weights = sum(size.weights_bytes for size in sizes)
    return fits, (
        f"the weights of the {len(sizes)} models ({human_bytes(weights)}, model lock) do not all "
        f"fit in {offered}; the {fits} largest do, so ollama.maxLoadedModels is {fits}: Ollama "
        "unloads an idle model to load another, the one with the shortest keep-alive first"
    )


def computed_startup_budget(
    environment: Environment, sizes: Sequence[sizing.ModelSize], *, verify_blobs: bool = False
) -> int | None:
    """Seconds from the download and load sizes and the environment's bandwidth (and the blobs'
    hashing, with lifecycle.verifyBlobs); None (the environment's defaults.startup.budgetSeconds
    applies) without both."""
    if not sizes or environment.download_bandwidth is None:
        return None
    bandwidth = quantity_bytes(environment.download_bandwidth)
    if bandwidth <= 0:
        return None
    return sizing.startup_budget(
        sizes, bandwidth_bytes_per_second=bandwidth, verify_blobs=verify_blobs
    ).seconds


def check_fit(
    document: Document,
    report: Report,
    *,
    sizes: Sequence[sizing.ModelSize],
    sources: Mapping[str, DataPath],
    resources: Mapping[str, Any],
    cache: Mapping[str, Any],
    gpu_count: int,
    gpu_type: sizing.GpuType | None,
) -> None:
    """What the lock knows for a fact (weights, download sizes) against the effective values:
    never the estimate, so these cannot fire on a model that would work."""
    if not sizes:
        return
    largest = max(sizes, key=lambda size: size.weights_bytes)
    limit = (resources.get("limits") or {}).get("memory")
    request = (resources.get("requests") or {}).get("memory")
    # A value the leaf does not set comes from the environment: point at the model instead.
    fix = "set container.resources.{} above it, or resourcesPreset: auto"
    if limit is not None and quantity_bytes(limit) < largest.weights_bytes:
        document.add(
            report,
            document.first_present([*_memory_sources("limits"), sources[largest.name]]),
            f"memory limit {quantity_text(limit)} is below the "
            f"{human_bytes(largest.weights_bytes)} the weights of {largest.name} need "
            "(model lock): the model cannot load",
            hint=fix.format("limits.memory"),
        )
    elif request is not None and quantity_bytes(request) < largest.weights_bytes:
        document.add(
            report,
            document.first_present([*_memory_sources("requests"), sources[largest.name]]),
            f"requests.memory {quantity_text(request)} is less than the "
            f"{human_bytes(largest.weights_bytes)} of weights of {largest.name} (model lock): "
            "the model cannot load",
            hint=fix.format("requests.memory"),
        )
    if gpu_count > 0 and gpu_type is not None:
        gpu_at: list[DataPath] = [("gpu", "count"), ("chartValues", "gpu", "count"), ("gpu",)]
        for size in sizes:
            for message in sizing.check_gpu_fit([size], gpu_type, gpu_count):
                document.add(report, document.first_present([*gpu_at, sources[size.name]]), message)
    _check_cache_size(document, report, sizes, cache, sources[largest.name])


def _check_cache_size(
    document: Document,
    report: Report,
    sizes: Sequence[sizing.ModelSize],
    cache: Mapping[str, Any],
    model_source: DataPath,
) -> None:
    """The cache holds every model's download (unless it is a claim the leaf brings)."""
    cache_size = cache.get("size")
    downloads = sum(item.download_bytes for item in sizes)
    if (
        cache_size is not None
        and not cache.get("existingClaim")
        and quantity_bytes(cache_size) < downloads
    ):
        document.add(
            report,
            document.first_present(
                [
                    ("cache", "size"),
                    ("chartValues", "cache", "size"),
                    ("cache",),
                    ("chartValues", "cache"),
                    model_source,
                ],
            ),
            f"cache.size {quantity_text(cache_size)} is less than the {human_bytes(downloads)} the "
            "service's models download (model lock): the pull runs out of space",
        )


def _memory_sources(side: str) -> list[DataPath]:
    return [
        ("container", "resources", side, "memory"),
        ("chartValues", "resources", side, "memory"),
        ("chartValues", "resources", side),
        ("chartValues", "resources"),
    ]
