"""The upstream registry's content and the on-disk model store, laid out as Ollama lays it out.

Facts reproduced (../shared/notes/ollama.md "Model store layout and registry protocol" and
"HTTP API"; ollama/ollama manifest/manifest.go, manifest/paths.go, server/images.go):
- Store: `$OLLAMA_MODELS/manifests/<host>/<namespace>/<model>/<tag>` holds the manifest exactly
  as the registry sent it (`os.WriteFile(fp, manifestData)`), and `$OLLAMA_MODELS/blobs/
  sha256-<hex>` the layers; a download is written to `sha256-<hex>-partial` first (a later pull
  resumes it).
- A model's digest (`/api/tags` `digest`, `ollama list` ID) is the sha256 of the manifest file's
  bytes as Go's json.Decoder reads them (`listed_digest`), so it equals the registry's manifest
  digest unless the file goes on past the decoder's last read (a JSON value ending exactly at
  512, 1,536, 3,584... bytes, a line break after it: recorded from 0.32.0 by a review); its
  size is the sum of the layer sizes and the config size.
- Manifests are Docker v2 (`application/vnd.docker.distribution.manifest.v2+json`), config
  `application/vnd.docker.container.image.v1+json`, layers `application/vnd.ollama.image.model`,
  `.template`, `.params`, `.system`, ...
- Deleting a model removes its manifest, prunes empty folders and removes the blobs no other
  manifest uses (manifest.Remove, RemoveLayers).
- Capabilities come from the weights file, not from the name: the double's weights blob starts
  with a one-line header saying `kind=generate` or `kind=embed` (a stand-in for GGUF metadata).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.ollama_double.names import Name, parse_name

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
TEMPLATE_MEDIA_TYPE = "application/vnd.ollama.image.template"
PARAMS_MEDIA_TYPE = "application/vnd.ollama.image.params"
SYSTEM_MEDIA_TYPE = "application/vnd.ollama.image.system"
MESSAGES_MEDIA_TYPE = "application/vnd.ollama.image.messages"
# Safetensors models' weights, one layer per tensor file: images.go PullModel pulls a manifest
# holding one through x/transfer (pullWithTransfer), with one progress bar for all of them.
TENSOR_MEDIA_TYPE = "application/vnd.ollama.image.tensor"
LICENSE_MEDIA_TYPE = "application/vnd.ollama.image.license"
PROMPT_MEDIA_TYPE = "application/vnd.ollama.image.prompt"
# The layers GetModel (server/images.go) reads for `ollama show`.
SHOW_OPENS = frozenset(
    {
        MODEL_MEDIA_TYPE,
        TEMPLATE_MEDIA_TYPE,
        PROMPT_MEDIA_TYPE,
        SYSTEM_MEDIA_TYPE,
        PARAMS_MEDIA_TYPE,
        MESSAGES_MEDIA_TYPE,
        LICENSE_MEDIA_TYPE,
    }
)
CHUNK = 1 << 20
_HEADER_PREFIX = b"GGUF-double "


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """A layer: small ones carry their bytes, the weights are generated on demand."""

    media_type: str
    digest: str
    size: int
    data: bytes | None = None
    weights: tuple[str, int, str] | None = None  # (seed, size, header line)
    url: str | None = None  # on a real registry: downloaded when pulled (registry.py)

    def chunks(self, start: int = 0) -> Iterator[bytes]:
        if self.url is not None:
            from tests.ollama_double.registry import download_blob  # registry imports store

            yield download_blob(self.url)[start:]
            return
        if self.data is not None:
            yield self.data[start:]
            return
        assert self.weights is not None
        yield from _weights_chunks(*self.weights, start=start)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def _weights_chunks(seed: str, size: int, header: str, start: int = 0) -> Iterator[bytes]:
    head = header.encode()
    offset = 0
    index = 0
    while offset < size:
        if index == 0:
            body = head + random.Random(f"{seed}:0").randbytes(max(0, CHUNK - len(head)))
        else:
            body = random.Random(f"{seed}:{index}").randbytes(CHUNK)
        body = body[: size - offset]
        if offset + len(body) > start:
            yield body[max(0, start - offset) :]
        offset += len(body)
        index += 1


_WEIGHTS_DIGESTS: dict[tuple[str, int, str], str] = {}


# GGUF metadata the double's weights carry, with the value a model gets when its spec names none
# (general.file_type, <arch>.context_length, <arch>.embedding_length in a real GGUF).
WEIGHTS_META_DEFAULTS = {"file_type": "Q4_0", "context_length": "4096", "embedding_length": "8"}


def weights_blob(
    seed: str, size: int, kind: str, family: str, meta: dict[str, str] | None = None
) -> Blob:
    fields = {"kind": kind, "family": family, **WEIGHTS_META_DEFAULTS, **(meta or {})}
    header = _HEADER_PREFIX.decode() + " ".join(f"{k}={v}" for k, v in fields.items()) + "\n"
    key = (seed, size, header)
    if key not in _WEIGHTS_DIGESTS:
        digest = hashlib.sha256()
        for chunk in _weights_chunks(seed, size, header):
            digest.update(chunk)
        _WEIGHTS_DIGESTS[key] = "sha256:" + digest.hexdigest()
    return Blob(MODEL_MEDIA_TYPE, _WEIGHTS_DIGESTS[key], size, weights=key)


def small_blob(media_type: str, data: bytes) -> Blob:
    return Blob(media_type, sha256_digest(data), len(data), data=data)


@dataclass(frozen=True)
class RemoteModel:
    """One tag on the fake upstream registry."""

    name: Name
    manifest: bytes
    blobs: tuple[Blob, ...] = field(default_factory=tuple)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.manifest).hexdigest()

    @property
    def size(self) -> int:
        return sum(blob.size for blob in self.blobs)


def build_manifest(config: Blob, layers: list[Blob]) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def config_blob(family: str, layers: list[Blob]) -> Blob:
    body = {
        "model_format": "gguf",
        "model_family": family,
        "model_families": [family],
        "model_type": "1B",
        "file_type": "Q4_0",
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
    }
    return small_blob(CONFIG_MEDIA_TYPE, json.dumps(body, separators=(",", ":")).encode())


def remote_model(reference: str, spec: dict[str, Any], revision: int = 0) -> RemoteModel:
    """The registry's tag `reference` as described in the control file; a new `revision` is the
    same tag republished with different weights (a different manifest digest)."""
    name = parse_name(reference)
    kind = str(spec.get("kind", "generate"))
    family = str(spec.get("family", "bert" if kind == "embed" else "llama"))
    seed = f"{name.key}@{revision}"
    meta = {k: str(spec[k]) for k in WEIGHTS_META_DEFAULTS if k in spec}
    layers = [weights_blob(seed, int(spec.get("size", 65536)), kind, family, meta)]
    if spec.get("tensor"):
        layers = [replace(layers[0], media_type=TENSOR_MEDIA_TYPE)]
    if kind == "generate":
        layers.append(small_blob(TEMPLATE_MEDIA_TYPE, b"{{ .System }}\n{{ .Prompt }}"))
        layers.append(small_blob(PARAMS_MEDIA_TYPE, b'{"stop":["<|end|>"]}'))
    config = config_blob(family, layers)
    manifest = build_manifest(config, layers)
    if spec.get("manifest_ends_at"):
        manifest = _ending_at(manifest, int(spec["manifest_ends_at"]))
    # pullModel (server/images.go) fetches the layers, then the config.
    return RemoteModel(name, manifest, (*layers, config))


def _ending_at(manifest: bytes, end: int) -> bytes:
    """The manifest's JSON padded with spaces to end at byte end, a line break after it (as
    Go's json.Encoder, which `ollama create` writes manifests with, ends a document)."""
    assert len(manifest) <= end
    assert manifest.endswith(b"}")
    return manifest[:-1] + b" " * (end - len(manifest)) + b"}\n"


def listed_digest(data: bytes) -> str:
    """A stored manifest's digest as Ollama lists it (manifest/manifest.go ParseNamedManifest):
    the sha256 of what json.Decoder read of the file through a TeeReader. The decoder reads
    512 bytes, then fills a buffer grown to 2 x its size + 512 (1,536, 3,584...) until it holds
    the whole JSON value: bytes after the value in the last read are hashed, bytes beyond it
    are not (a value ending exactly at a read's end leaves a trailing line break unhashed), so
    this is the sha256 of the whole file only when the file ends within that last read."""
    text = data.decode("utf-8")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    _, end = json.JSONDecoder().raw_decode(text, start)
    value_end = len(text[:end].encode())
    read = 512
    while read < value_end:
        read = 2 * read + 512
    return hashlib.sha256(data[:read]).hexdigest()


@dataclass(frozen=True)
class LocalModel:
    name: Name
    digest: str  # 64 hex, sha256 of the manifest file
    size: int
    modified: float
    manifest: dict[str, Any]
    path: Path


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifests = root / "manifests"
        self.blobs = root / "blobs"

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest.replace(":", "-")

    def has_blob(self, blob: Blob) -> bool:
        path = self.blob_path(blob.digest)
        return path.is_file() and path.stat().st_size == blob.size

    def write_small_blob(self, media_type: str, data: bytes) -> Blob:
        blob = small_blob(media_type, data)
        if not self.has_blob(blob):
            self.blobs.mkdir(parents=True, exist_ok=True)
            self.blob_path(blob.digest).write_bytes(data)
        return blob

    def manifest_path(self, name: Name) -> Path:
        return self.manifests.joinpath(*name.path_parts)

    def write_manifest(self, name: Name, data: bytes) -> None:
        path = self.manifest_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def models(self) -> list[LocalModel]:
        found = []
        if not self.manifests.is_dir():
            return []
        for path in sorted(self.manifests.glob("*/*/*/*")):
            if not path.is_file():
                continue
            host, namespace, model, tag = path.relative_to(self.manifests).parts
            data = path.read_bytes()
            try:
                manifest = json.loads(data)
            except ValueError:
                continue
            layers = [manifest["config"], *manifest["layers"]]
            found.append(
                LocalModel(
                    name=Name(host, namespace, model, tag),
                    digest=listed_digest(data),
                    size=sum(int(layer["size"]) for layer in layers),
                    modified=path.stat().st_mtime,
                    manifest=manifest,
                    path=path,
                )
            )
        # /api/tags lists the newest first (recorded from 0.32.0: a model created after another
        # is listed above it).
        return sorted(found, key=lambda model: -model.modified)

    def find(self, name: Name) -> LocalModel | None:
        """Case-insensitive, as the server's getExistingName."""
        for model in self.models():
            if model.name.key == name.key:
                return model
        return None

    def find_exact(self, name: Name) -> LocalModel | None:
        """By exact spelling, as manifest.ParseNamedManifest opens its file (create's FROM)."""
        for model in self.models():
            if model.name.path_parts == name.path_parts:
                return model
        return None

    def missing_blobs(self, model: LocalModel) -> list[str]:
        """The digests of the blobs `ollama show` opens that have no file: the config and the
        layers GetModel reads (images.go: the weights, template, system, params, messages,
        license), not tensor, adapter, draft or projector layers (recorded from 0.32.0 by the
        seventeenth round's review: a missing tensor blob still shows)."""
        opened = [model.manifest["config"]] + [
            layer for layer in model.manifest["layers"] if layer["mediaType"] in SHOW_OPENS
        ]
        return [
            str(layer["digest"])
            for layer in opened
            if not self.blob_path(str(layer["digest"])).is_file()
        ]

    def layer(self, model: LocalModel, media_type: str) -> dict[str, Any] | None:
        for layer in model.manifest["layers"]:
            if layer["mediaType"] == media_type:
                return dict(layer)
        return None

    def read_layer(self, model: LocalModel, media_type: str) -> bytes | None:
        layer = self.layer(model, media_type)
        if layer is None:
            return None
        path = self.blob_path(str(layer["digest"]))
        return path.read_bytes() if path.is_file() else None

    def meta(self, model: LocalModel) -> dict[str, str]:
        """The weights file's metadata (its header line), as a real server reads the GGUF's."""
        layer = self.layer(model, MODEL_MEDIA_TYPE)
        path = self.blob_path(str(layer["digest"])) if layer else None
        if path is None or not path.is_file():
            return {"kind": "generate", **WEIGHTS_META_DEFAULTS}
        with path.open("rb") as handle:
            head = handle.readline(400)
        if not head.startswith(_HEADER_PREFIX):
            return {"kind": "generate", **WEIGHTS_META_DEFAULTS}
        pairs = head[len(_HEADER_PREFIX) :].decode(errors="replace").split()
        return {**WEIGHTS_META_DEFAULTS, **dict(p.split("=", 1) for p in pairs if "=" in p)}

    def kind(self, model: LocalModel) -> str:
        """`embed` or `generate`, read from the weights file's header."""
        return "embed" if self.meta(model).get("kind") == "embed" else "generate"

    def weights_digest(self, model: LocalModel) -> str:
        layer = self.layer(model, MODEL_MEDIA_TYPE)
        return str(layer["digest"]) if layer else model.digest

    def prune(self, digests: set[str]) -> None:
        """deleteUnusedLayers (images.go): the blobs of digests no stored manifest names."""
        in_use = {digest for other in self.models() for digest in layer_digests(other.manifest)}
        for digest in digests - in_use:
            self.blob_path(digest).unlink(missing_ok=True)

    def delete(self, model: LocalModel) -> None:
        model.path.unlink()
        for parent in model.path.parents:
            if parent == self.manifests or not parent.is_relative_to(self.manifests):
                break
            if any(parent.iterdir()):
                break
            parent.rmdir()
        self.prune(layer_digests(model.manifest))


def layer_digests(manifest: dict[str, Any]) -> set[str]:
    """The config's and the layers' digests of a manifest."""
    return {str(layer["digest"]) for layer in [manifest["config"], *manifest["layers"]]}


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)
