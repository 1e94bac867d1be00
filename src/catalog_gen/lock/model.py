"""The model lock's data: what a pin records (LockedModel), the lock (ModelLock), a model the
catalog wants pinned (WantedModel, with where it names it), and render's check of one model
against the lock (lock_problem).

Tags move (``llama3:8b`` is republished), so a deploy that pulls a tag is not reproducible. The
lock records what the tag meant when someone ran ``catalog-gen lock``; render puts that digest into
the values and the init container refuses a pull whose digest differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog_gen.lock.registry import (
    MODEL_MEDIA_TYPE,
    WEIGHT_MEDIA_TYPES,
    RegistryConfig,
    RemoteModel,
    registry_base_url,
)
from catalog_gen.problems import Problem, Severity
from catalog_gen.references import ModelReference
from catalog_gen.sizing import ModelSize

LOCK_VERSION = 1
DEFAULT_LOCK_PATH = Path("catalog") / "models.lock.yaml"


@dataclass(frozen=True)
class LockedModel:
    reference: str  # canonical registry/namespace/name:tag
    registry: str  # scheme://host it was resolved from
    digest: str  # 64 hex: what Ollama's /api/tags reports and the init container compares
    total_size: int  # bytes of every layer: what a pull downloads (the config blob aside)
    model_size: int  # bytes of the application/vnd.ollama.image.model layer(s)
    weights_size: int  # bytes loaded into memory: model, projector, adapter, draft, tensor layers
    parameter_size: str | None = None  # e.g. "8.0B" (config model_type)
    quantization: str | None = None  # e.g. "Q4_K_M" (config file_type)
    family: str | None = None  # e.g. "llama" (config model_family)
    media_types: tuple[str, ...] = ()  # distinct layer media types, sorted

    @classmethod
    def from_remote(cls, remote: RemoteModel) -> LockedModel:
        layers = remote.layers
        return cls(
            reference=remote.reference.canonical,
            registry=remote.registry_url,
            digest=remote.digest,
            total_size=sum(layer.size for layer in layers),
            model_size=sum(x.size for x in layers if x.base_media_type == MODEL_MEDIA_TYPE),
            weights_size=sum(x.size for x in layers if x.base_media_type in WEIGHT_MEDIA_TYPES),
            parameter_size=remote.facts.parameter_size,
            quantization=remote.facts.quantization,
            family=remote.facts.family,
            media_types=tuple(sorted({layer.base_media_type for layer in layers})),
        )

    def sizing(self, name: str) -> ModelSize:
        """The facts sizing works from; name is how messages show the model (e.g. llama3:8b)."""
        return ModelSize(
            name=name,
            weights_bytes=self.weights_size,
            download_bytes=self.total_size,
            parameter_size=self.parameter_size,
            quantization=self.quantization,
        )

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reference": self.reference,
            "registry": self.registry,
            "digest": self.digest,
            "totalSize": self.total_size,
            "modelSize": self.model_size,
            "weightsSize": self.weights_size,
        }
        for key, value in (
            ("parameterSize", self.parameter_size),
            ("quantization", self.quantization),
            ("family", self.family),
        ):
            if value is not None:
                data[key] = value
        if self.media_types:
            data["mediaTypes"] = list(self.media_types)
        return data


@dataclass(frozen=True)
class ModelLock:
    models: Mapping[str, LockedModel] = field(default_factory=dict)
    # 1-based line of each entry in the file it was read from, for problems that point at it.
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    def get(self, canonical: str) -> LockedModel | None:
        return self.models.get(canonical)


@dataclass(frozen=True)
class Origin:
    """Where the catalog names a model, so lock problems point at the leaf line."""

    path: str
    line: int = 0
    column: int = 0
    json_path: str = "$"


@dataclass(frozen=True)
class WantedModel:
    reference: ModelReference
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    origin: Origin | None = None

    @property
    def registry_url(self) -> str:
        return registry_base_url(self.reference.registry, insecure=self.registry.insecure)

    @classmethod
    def from_catalog(
        cls,
        reference: ModelReference,
        *,
        insecure: bool,
        origin: Origin | None = None,
    ) -> WantedModel:
        """A catalog model (the registry it names is reached anonymously, as Ollama pulls)."""
        return cls(reference, RegistryConfig(insecure=insecure), origin)


def expected_digest(lock: ModelLock | None, reference: ModelReference) -> str:
    """The digest for the chart's models[].digest: 64 hex, or "" when the model is not pinned."""
    entry = lock.get(reference.canonical) if lock else None
    return entry.digest if entry else ""


# The hint of an unpinned model where requireLock holds: `new` and `promote` add how to pin the
# model of a leaf that is not written yet (cli.py).
REQUIRE_LOCK_HINT = "run `catalog-gen lock`"


def lock_problem(
    lock: ModelLock | None,
    wanted: WantedModel,
    *,
    require_lock: bool,
    lock_display: str = str(DEFAULT_LOCK_PATH),
    environment: str | None = None,
) -> Problem | None:
    """Render's check: an unpinned model is an error where the environment sets requireLock
    (prod), a warning elsewhere, where it deploys unpinned (digest ""); a pin resolved over
    another scheme is treated as unpinned. environment names the environment in the message."""
    entry = lock.get(wanted.reference.canonical) if lock else None
    if entry is not None and entry.registry == wanted.registry_url:
        return None
    origin = wanted.origin or Origin(lock_display)
    if entry is None:
        message = f"model {wanted.reference.short} is not pinned in {lock_display}"
    else:
        message = (
            f"model {wanted.reference.short} is pinned from {entry.registry} but this "
            f"environment pulls it over {wanted.registry_url}"
        )
    if require_lock:
        where = f"environment {environment!r}" if environment else "this environment"
        message += f", and {where} requires every model to be (requireLock: true)"
    else:
        message += ': it deploys unpinned (digest "")'
    return Problem(
        origin.path,
        origin.line,
        origin.column,
        origin.json_path,
        message,
        Severity.ERROR if require_lock else Severity.WARNING,
        REQUIRE_LOCK_HINT + ("" if require_lock else "; required where requireLock: true"),
    )
