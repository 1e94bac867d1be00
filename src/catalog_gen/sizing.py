"""Resources, GPUs, cache volume and startup budget from the facts in the model lock.

Pure functions, no I/O. The formulas and their sources are in docs/model-lock.md; in short:

* memory = weights + KV cache + runtime overhead, per loaded model (Ollama runs one runner process
  per loaded model, each with its own cache and compute buffers).
* KV cache = 2 (K and V) x layers x context x parallel x kv_heads x head_dim x bytes per element
  (Ollama fs/ggml/ggml.go GraphSize: ``context *= numParallel``; f16 = 2 bytes, q8_0 = 1,
  q4_0 = 0.5 per element, kvCacheBytesPerElement). The lock has no layer geometry yet, so without
  one the cache is bounded from above from the parameter count, assuming a dense transformer
  without grouped-query attention (see ``kv_bytes_per_token_upper_bound``).
* The errors (weights cannot fit the GPUs, an explicit memory limit below the weights) use the
  weights alone: a fact from the lock, never an estimate, so they cannot fire falsely.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

KiB = 1024
MiB = 1024**2
GiB = 1024**3

# Ollama's smallest automatic context (server/routes.go picks 4096/32768/262144 by VRAM and
# server/sched.go steps down to 4096 when a model does not fit); contextLength 0 sizes for it.
DEFAULT_CONTEXT_LENGTH = 4096
# Ollama keeps up to 3 models loaded by default (OLLAMA_MAX_LOADED_MODELS, "3 per GPU").
DEFAULT_MAX_LOADED_MODELS = 3
# CUDA/ROCm context, llama.cpp compute graph and runner process per loaded model. The compute
# graph alone is a few hundred MiB for a 128k-token vocabulary at batch 512; 1 GiB covers it.
RUNTIME_OVERHEAD_BYTES = 1 * GiB
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}
MEMORY_STEP_BYTES = 256 * MiB
# A pull writes the new blobs before it deletes the old ones (server/images.go PullModel prunes
# after writing the manifest), so updating the largest model briefly needs it twice.
CACHE_HEADROOM_BYTES = 1 * GiB
# Reading weights from the cache volume into (V)RAM; network volumes are often slower.
DEFAULT_LOAD_BYTES_PER_SECOND = 200 * MiB
STARTUP_MARGIN_SECONDS = 120  # server start, probes, the first health poll
MIN_STARTUP_SECONDS = 180
MAX_STARTUP_SECONDS = 4 * 3600

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
}
_PARAMETERS = re.compile(
    r"^\s*(?:(?P<experts>\d+)\s*[xX]\s*)?(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMBT])\s*$"
)
_UNIT = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
# Bits per weight of common GGUF file types (llama.cpp quantize table), for the parameter count
# when the config does not state it.
_BITS_PER_WEIGHT = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.56,
    "Q5_K_M": 5.67,
    "Q5_K_S": 5.52,
    "Q5_0": 5.5,
    "Q5_1": 6.0,
    "Q4_K_M": 4.83,
    "Q4_K_S": 4.57,
    "Q4_0": 4.5,
    "Q4_1": 5.0,
    "Q3_K_L": 4.27,
    "Q3_K_M": 3.89,
    "Q3_K_S": 3.5,
    "Q2_K": 3.35,
}
_FALLBACK_BITS_PER_WEIGHT = 4.5  # the smallest common default (Q4_0) gives the most parameters


# -- quantities ----------------------------------------------------------------------------------


def quantity_text(value: str | int | float) -> str:
    """The quantity as chart values carry it: a string, numbers written without float noise."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int) else repr(value)


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity (``500m``, ``2``, ``4Gi``, ``1.5G``, ``1e3``) as a number."""
    if type(value) is str:  # every leaf repeats its environment's and the chart's texts
        return _parse_text(value)
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    return _parse_text.__wrapped__(value)  # a str subclass, or no quantity (maybe unhashable)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Decimal:
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 512Mi, 4Gi, 1.5G, 500m)")
    number = Decimal(match.group("number"))
    suffix = match.group("suffix") or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        try:
            return number.scaleb(int(suffix[1:]))
        except (InvalidOperation, ValueError) as error:
            raise ValueError(f"{value!r} has an exponent out of range") from error
    return number


def quantity_bytes(value: str | int | float) -> int:
    """A memory or storage quantity in whole bytes (rounded up, as the kubelet does)."""
    return math.ceil(parse_quantity(value))


def format_bytes(value: int) -> str:
    """Whole bytes as a canonical quantity: the largest binary suffix that is exact."""
    if value < 0:
        raise ValueError("negative byte count")
    for suffix, factor in reversed(_BINARY.items()):
        if value and value % factor == 0:
            return f"{value // factor}{suffix}"
    return str(value)


def round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def human_bytes(value: int) -> str:
    """For messages: 7.3GiB, 512.0MiB, 900B."""
    for suffix, factor in (("TiB", 2**40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= factor:
            return f"{value / factor:.1f}{suffix}"
    return f"{value}B"


# -- model facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KvGeometry:
    """Exact attention shape (GGUF block_count, attention.head_count_kv, key/value_length)."""

    layers: int
    kv_heads: int
    key_length: int
    value_length: int


@dataclass(frozen=True)
class ModelSize:
    name: str  # as users wrote it, for messages
    weights_bytes: int  # lock weightsSize
    download_bytes: int  # lock totalSize
    parameter_size: str | None = None  # lock parameterSize, e.g. "8.0B"
    quantization: str | None = None  # lock quantization, e.g. "Q4_K_M"
    geometry: KvGeometry | None = None


def parameter_count(parameter_size: str | None) -> float | None:
    """ "8.0B" -> 8e9, "137M" -> 1.37e8, "8x7B" -> 5.6e10; None when absent or unreadable."""
    if not parameter_size:
        return None
    match = _PARAMETERS.match(parameter_size)
    if match is None:
        return None
    experts = int(match.group("experts") or 1)
    return experts * float(match.group("number")) * _UNIT[match.group("unit")]


def estimated_parameter_count(model: ModelSize) -> float:
    stated = parameter_count(model.parameter_size)
    if stated:
        return stated
    bits = _BITS_PER_WEIGHT.get((model.quantization or "").upper(), _FALLBACK_BITS_PER_WEIGHT)
    return model.weights_bytes * 8 / bits


def kv_bytes_per_token_upper_bound(parameters: float, bytes_per_element: float = 2.0) -> float:
    """KV bytes per token for a dense transformer of this size without grouped-query attention.

    Parameters ~ 12 x layers x d_model^2 (Kaplan et al. 2020, "Scaling Laws for Neural Language
    Models", section 2.1) and d_model / layers >= 96 for the common open models (Llama 2 7B 128,
    Phi-3 mini 96), so d_model ~ 2 x cbrt(parameters) and the cache per token is
    2 x layers x d_model x bytes = d_model^2 / 48 x bytes. Models with grouped-query attention
    (Llama 3, Qwen 2, Gemma 2, Mistral) need 4-8 times less; this bound never undersizes.
    """
    d_model = 2 * math.cbrt(parameters)
    return d_model * d_model / 48 * bytes_per_element


def kv_cache_bytes(
    model: ModelSize,
    *,
    context_length: int,
    num_parallel: int,
    kv_cache_type: str = "f16",
) -> int:
    """The KV cache Ollama allocates for one loaded model (all parallel slots)."""
    per_element = KV_BYTES_PER_ELEMENT.get(kv_cache_type.lower(), KV_BYTES_PER_ELEMENT["f16"])
    tokens = (context_length or DEFAULT_CONTEXT_LENGTH) * max(1, num_parallel)
    geometry = model.geometry
    if geometry is not None:
        per_token = (
            geometry.layers
            * geometry.kv_heads
            * (geometry.key_length + geometry.value_length)
            * per_element
        )
    else:
        per_token = kv_bytes_per_token_upper_bound(estimated_parameter_count(model), per_element)
    return math.ceil(per_token * tokens)


# -- presets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


@dataclass(frozen=True)
class GpuType:
    """An environment's GPU: its memory, and how the cluster hands it out.

    ``memory_unit_bytes`` set means a memory-sliced resource (e.g. HAMi ``nvidia.com/gpumem`` in
    MiB): the request is an amount of GPU memory, not a device count.
    """

    name: str
    memory_bytes: int
    resource_name: str = "nvidia.com/gpu"
    memory_unit_bytes: int | None = None


@dataclass(frozen=True)
class GpuRequest:
    resource_name: str
    count: int


@dataclass(frozen=True)
class ResourcePreset:
    memory_request: str
    memory_limit: str
    memory: MemoryEstimate
    gpu: GpuRequest | None
    cache_size: str


def model_memory(
    model: ModelSize, *, context_length: int, num_parallel: int, kv_cache_type: str = "f16"
) -> MemoryEstimate:
    return MemoryEstimate(
        weights=model.weights_bytes,
        kv_cache=kv_cache_bytes(
            model,
            context_length=context_length,
            num_parallel=num_parallel,
            kv_cache_type=kv_cache_type,
        ),
        overhead=RUNTIME_OVERHEAD_BYTES,
    )


def service_memory(
    models: Sequence[ModelSize],
    *,
    context_length: int,
    num_parallel: int,
    max_loaded_models: int = 0,
    kv_cache_type: str = "f16",
    model_context: Mapping[str, int] | None = None,
) -> MemoryEstimate:
    """What the models that can be loaded at once need together: the largest max_loaded_models
    of them (0 = Ollama's default of 3). model_context: a larger context for some models, by
    name (a derived model's num_ctx reloads its base model's runner with that context)."""
    contexts = model_context or {}
    estimates = sorted(
        (
            model_memory(
                m,
                context_length=max(
                    context_length or DEFAULT_CONTEXT_LENGTH, contexts.get(m.name, 0)
                ),
                num_parallel=num_parallel,
                kv_cache_type=kv_cache_type,
            )
            for m in models
        ),
        key=lambda e: e.total,
        reverse=True,
    )[: max_loaded_models or DEFAULT_MAX_LOADED_MODELS]
    return MemoryEstimate(
        weights=sum(e.weights for e in estimates),
        kv_cache=sum(e.kv_cache for e in estimates),
        overhead=sum(e.overhead for e in estimates),
    )


def gpu_request(needed_bytes: int, gpu: GpuType) -> GpuRequest:
    """Devices (or memory units of a sliced GPU) that hold needed_bytes."""
    if gpu.memory_unit_bytes:
        return GpuRequest(gpu.resource_name, math.ceil(needed_bytes / gpu.memory_unit_bytes))
    return GpuRequest(gpu.resource_name, max(1, math.ceil(needed_bytes / gpu.memory_bytes)))


def cache_size_bytes(download_sizes: Sequence[int]) -> int:
    """Cache volume for a service's models: all of them, the largest once more (a pull of a moved
    tag holds old and new blobs until it prunes), 1 GiB headroom; rounded up to GiB."""
    if not download_sizes:
        return CACHE_HEADROOM_BYTES
    return round_up(sum(download_sizes) + max(download_sizes) + CACHE_HEADROOM_BYTES, GiB)


def resources_preset(
    models: Sequence[ModelSize],
    *,
    context_length: int,
    num_parallel: int,
    max_loaded_models: int = 0,
    gpu: GpuType | None = None,
    kv_cache_type: str = "f16",
    model_context: Mapping[str, int] | None = None,
) -> ResourcePreset:
    """`resourcesPreset: auto`. Memory request equals the limit: a model server is not burstable,
    and a limit above the request invites the OOM killer when the node is under pressure."""
    memory = service_memory(
        models,
        context_length=context_length,
        num_parallel=num_parallel,
        max_loaded_models=max_loaded_models,
        kv_cache_type=kv_cache_type,
        model_context=model_context,
    )
    memory_text = format_bytes(round_up(memory.total, MEMORY_STEP_BYTES))
    return ResourcePreset(
        memory_request=memory_text,
        memory_limit=memory_text,
        memory=memory,
        gpu=gpu_request(memory.total, gpu) if gpu else None,
        cache_size=format_bytes(cache_size_bytes([m.download_bytes for m in models])),
    )


# -- checks (messages, not exceptions: the caller places them in its report) ---------------------


def check_explicit_resources(
    models: Sequence[ModelSize],
    *,
    memory_request: str | int | None = None,
    memory_limit: str | int | None = None,
) -> list[str]:
    """Explicit resources win over presets, but not when they cannot hold the weights."""
    problems: list[str] = []
    amounts: dict[str, int] = {}
    for label, value in (("memory request", memory_request), ("memory limit", memory_limit)):
        if value is None:
            continue
        try:
            amounts[label] = quantity_bytes(value)
        except ValueError as error:
            problems.append(f"{label}: {error}")
    request, limit = amounts.get("memory request"), amounts.get("memory limit")
    if request is not None and limit is not None and request > limit:
        problems.append(f"memory request {memory_request} is above the memory limit {memory_limit}")
    if limit is not None and models:
        largest = max(models, key=lambda m: m.weights_bytes)
        if limit < largest.weights_bytes:
            problems.append(
                f"memory limit {memory_limit} is below the {human_bytes(largest.weights_bytes)} "
                f"the weights of {largest.name} need"
            )
    return problems


def gpu_memory(gpu: GpuType, count: int) -> tuple[int, str]:
    """The GPU memory a pod requesting count units gets, in bytes, and how to say it."""
    if gpu.memory_unit_bytes:
        available = min(count * gpu.memory_unit_bytes, gpu.memory_bytes)
        return available, (
            f"{count} x {gpu.resource_name} ({human_bytes(available)} of {gpu.name} memory)"
        )
    return count * gpu.memory_bytes, f"{count} x {gpu.name} ({human_bytes(gpu.memory_bytes)} each)"


def models_fitting_at_once(models: Sequence[ModelSize], available_bytes: int) -> int:
    """How many models are sure to fit in the GPU memory together: the most k for which the k
    largest weights do (any k of them then fit too). The KV cache is not counted."""
    total = 0
    for count, size in enumerate(sorted((m.weights_bytes for m in models), reverse=True)):
        total += size
        if total > available_bytes:
            return count
    return len(models)


def check_gpu_fit(models: Sequence[ModelSize], gpu: GpuType, count: int) -> list[str]:
    """Each model's weights must fit in the GPU memory the service requests."""
    available, offered = gpu_memory(gpu, count)
    return [
        f"model {m.name} ({human_bytes(m.weights_bytes)} of weights) cannot fit in {offered}"
        for m in models
        if m.weights_bytes > available
    ]


@dataclass(frozen=True)
class StartupBudget:
    seconds: int  # clamped; what the chart turns into probe thresholds and progressDeadlineSeconds
    pull_seconds: float
    load_seconds: float
    hash_seconds: float = 0.0  # lifecycle.verifyBlobs: every blob read once more, at load speed


def startup_budget(
    models: Sequence[ModelSize],
    *,
    bandwidth_bytes_per_second: int,
    load_bytes_per_second: int = DEFAULT_LOAD_BYTES_PER_SECOND,
    margin_seconds: int = STARTUP_MARGIN_SECONDS,
    minimum_seconds: int = MIN_STARTUP_SECONDS,
    maximum_seconds: int = MAX_STARTUP_SECONDS,
    verify_blobs: bool = False,
) -> StartupBudget:
    """Time for a cold pod: pull every model (the init container pulls them one after another),
    hash every blob when verify_blobs (lifecycle.verifyBlobs reads each one after its pull), load
    them, plus a margin; clamped so small models fail fast and big ones get their time."""
    if bandwidth_bytes_per_second <= 0 or load_bytes_per_second <= 0:
        raise ValueError("bandwidth must be positive")
    downloaded = sum(m.download_bytes for m in models)
    pull = downloaded / bandwidth_bytes_per_second
    hashed = downloaded / load_bytes_per_second if verify_blobs else 0.0
    load = sum(m.weights_bytes for m in models) / load_bytes_per_second
    seconds = math.ceil(pull + hashed + load + margin_seconds)
    return StartupBudget(
        seconds=min(max(seconds, minimum_seconds), maximum_seconds),
        pull_seconds=pull,
        load_seconds=load,
        hash_seconds=hashed,
    )
