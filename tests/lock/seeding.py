"""Push Ollama-style models into a real registry through its own HTTP API, as `ollama push` does:
each blob by a two-step upload (POST opens it, PUT with the digest closes it), then the manifest."""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.parse
from dataclasses import dataclass

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MODEL = "application/vnd.ollama.image.model"
TEMPLATE = "application/vnd.ollama.image.template"
PARAMS = "application/vnd.ollama.image.params"
LICENSE = "application/vnd.ollama.image.license"
PROJECTOR = "application/vnd.ollama.image.projector"


@dataclass(frozen=True)
class SeededModel:
    repository: str
    tag: str
    manifest: bytes
    digest: str  # 64 hex
    layer_sizes: dict[str, int]  # media type -> bytes (summed)

    @property
    def total_size(self) -> int:
        return sum(self.layer_sizes.values())


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistrySeeder:
    """Talks plain http to a loopback registry; one keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection = http.client.HTTPConnection(host, port, timeout=10)

    def close(self) -> None:
        self._connection.close()

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        self._connection.request(method, path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        response.read()
        return response

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = sha256_digest(data)
        if self._call("HEAD", f"/v2/{repository}/blobs/{digest}").status == 200:
            return digest
        opened = self._call("POST", f"/v2/{repository}/blobs/uploads/")
        if opened.status != 202:
            raise RuntimeError(f"upload not opened: HTTP {opened.status}")
        location = urllib.parse.urlsplit(opened.getheader("Location") or "")
        query = [*urllib.parse.parse_qsl(location.query), ("digest", digest)]
        path = f"{location.path}?{urllib.parse.urlencode(query)}"
        closed = self._call("PUT", path, data, {"Content-Type": "application/octet-stream"})
        if closed.status != 201:
            raise RuntimeError(f"blob upload failed: HTTP {closed.status}")
        return digest

    def push_manifest(
        self, repository: str, tag: str, manifest: bytes, media_type: str = DOCKER_MANIFEST_V2
    ) -> str:
        response = self._call(
            "PUT", f"/v2/{repository}/manifests/{tag}", manifest, {"Content-Type": media_type}
        )
        if response.status != 201:
            raise RuntimeError(f"manifest push failed: HTTP {response.status}")
        return response.getheader("Docker-Content-Digest") or ""

    def push_model(
        self,
        repository: str,
        tag: str,
        *,
        weights: bytes,
        config: dict[str, object] | None = None,
        extra_layers: list[tuple[str, bytes]] | None = None,
        config_media_type: str = DOCKER_CONFIG,
    ) -> SeededModel:
        """An Ollama-shaped model: config blob, weights layer, then template/params/... layers."""
        config_document = {
            "model_format": "gguf",
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            **(config or {}),
        }
        config_bytes = json.dumps(config_document, sort_keys=True).encode()
        layers = [(MODEL, weights), *(extra_layers or [])]
        descriptors = []
        sizes: dict[str, int] = {}
        for media_type, data in layers:
            descriptors.append(
                {
                    "mediaType": media_type,
                    "digest": self.push_blob(repository, data),
                    "size": len(data),
                }
            )
            sizes[media_type] = sizes.get(media_type, 0) + len(data)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST_V2,
                "config": {
                    "mediaType": config_media_type,
                    "digest": self.push_blob(repository, config_bytes),
                    "size": len(config_bytes),
                },
                "layers": descriptors,
            },
            separators=(",", ":"),
        ).encode()
        self.push_manifest(repository, tag, manifest)
        return SeededModel(repository, tag, manifest, hashlib.sha256(manifest).hexdigest(), sizes)
