"""Ollama model references: ``[registry/][namespace/]name[:tag]``.

Ollama itself expands a bare ``phi`` to ``registry.ollama.ai/library/phi:latest`` (see
../shared/notes/ollama.md, "Model store layout"). The canonical form is what the lock file keys on,
so ``phi``, ``phi:latest`` and ``library/phi:latest`` all pin the same digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

# The chart's model-name grammar (values.schema.json models[].name owns it; it is Ollama's
# types/model/name.go less the scheme): every part starts with a letter, digit or '_'; a host
# takes '_.:-' (at most 350 characters), a namespace '_-', a model and a tag '_.-' (80 each); the
# whole name at most MODEL_NAME_MAX_LENGTH. tests/scripts/test_model_names.py checks that the
# chart, the scripts and this parser accept the same names.
_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
_NAMESPACE = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}"
_HOST = r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}"
_TAG = _PART
MODEL_NAME_MAX_LENGTH = 350
_REFERENCE = re.compile(
    rf"^(?:(?P<registry>{_HOST})/)?(?:(?P<namespace>{_NAMESPACE})/)?(?P<name>{_PART})"
    rf"(?::(?P<tag>{_TAG}))?$"
)
MODEL_REFERENCE_PATTERN = _REFERENCE.pattern
# The chart's pattern itself (a host only before a namespace), for the leaf schema; the parser
# above also reads "host/name" so that it can say why Ollama would misread it.
MODEL_NAME_PATTERN = rf"^(?:(?:{_HOST}/)?{_NAMESPACE}/)?{_PART}(?::{_TAG})?$"
DIGEST_PATTERN = r"^[0-9a-f]{64}$"


class InvalidReferenceError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class ModelReference:
    registry: str
    namespace: str
    name: str
    tag: str

    @property
    def canonical(self) -> str:
        """registry/namespace/name:tag: the key the lock file uses."""
        return f"{self.registry}/{self.namespace}/{self.name}:{self.tag}"

    @property
    def short(self) -> str:
        """How `ollama list` shows the model: the default registry and namespace dropped."""
        if self.registry == DEFAULT_REGISTRY and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.name}:{self.tag}"
        if self.registry == DEFAULT_REGISTRY:
            return f"{self.namespace}/{self.name}:{self.tag}"
        return self.canonical

    @property
    def repository(self) -> str:
        """The OCI repository path on the registry: namespace/name."""
        return f"{self.namespace}/{self.name}"


def name_key(reference: ModelReference) -> str:
    """What Ollama compares a name by (types/model/name.go EqualFold: every part ignoring case):
    `phi`, `PHI` and `Library/Phi:Latest` are one model to it."""
    return reference.canonical.lower()


def parse_model_reference(text: str, default_registry: str = DEFAULT_REGISTRY) -> ModelReference:
    """Parse and normalize a reference; raises InvalidReferenceError with a reason."""
    if "@" in text:
        raise InvalidReferenceError(
            "Ollama cannot pull by digest; name a tag and pin its digest in the lock instead"
        )
    match = _REFERENCE.fullmatch(text) if len(text) <= MODEL_NAME_MAX_LENGTH else None
    if match is None:
        raise InvalidReferenceError(
            "not a valid Ollama model name; expected [registry/][namespace/]name[:tag] "
            "using letters, digits, '_', '-' and '.'"
        )
    registry: str | None = match.group("registry")
    namespace: str | None = match.group("namespace")
    # Ollama reads names from the right (types/model/name.go): model, then namespace, then host.
    # "a/b" is therefore always namespace/name, even when "a" looks like a host; a leaf that
    # means a registry must name the namespace too, or Ollama would pull from the wrong place.
    if registry is not None and namespace is None:
        if _looks_like_host(registry):
            raise InvalidReferenceError(
                f"Ollama reads {text!r} as namespace {registry!r} on the default registry; "
                f"to pull from the registry {registry!r} name the namespace too "
                f"(e.g. {registry}/library/{match.group('name')})"
            )
        registry, namespace = None, registry
    if registry is not None and ":" in registry:
        _check_port(registry)
    return ModelReference(
        registry=(registry or default_registry).lower(),
        namespace=namespace or DEFAULT_NAMESPACE,
        name=match.group("name"),
        tag=match.group("tag") or DEFAULT_TAG,
    )


def _check_port(host: str) -> None:
    """host:port with one port of 1 to 65535: what the grammar lets through otherwise
    (127.0.0.1:99999, a:5000:1) no registry client can dial (Go's dialer refuses it too, so the
    pull would fail in the pod): stricter than the chart's pattern, on purpose."""
    _, _, port = host.rpartition(":")
    if host.count(":") != 1 or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidReferenceError(
            f"registry {host!r} is not host:port with a port from 1 to 65535; no client can "
            "reach it"
        )


def _looks_like_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"
