"""RegistryClient against a real registry (Debian's docker-registry on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from catalog_gen.lock.registry import RegistryClient, RegistryConfig, RegistryError
from catalog_gen.references import ModelReference, parse_model_reference
from tests.lock.local_registry import LocalRegistry
from tests.lock.seeding import LICENSE, PARAMS, PROJECTOR, TEMPLATE, RegistrySeeder

pytestmark = pytest.mark.registry
INSECURE = RegistryConfig(insecure=True)


def unique_repository() -> str:
    return f"library/m{uuid.uuid4().hex[:10]}"


def reference(registry: LocalRegistry, repository: str, tag: str) -> ModelReference:
    return parse_model_reference(f"{registry.host}/{repository}:{tag}")


def test_digest_is_sha256_of_the_manifest_bytes_and_matches_the_registry(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    repository = unique_repository()
    seeded = seeder.push_model(repository, "3b", weights=b"\x01" * 4096)
    announced = seeder.push_manifest(repository, "3b", seeded.manifest)

    with RegistryClient() as client:
        remote = client.resolve(reference(registry, repository, "3b"), INSECURE)

    assert remote.digest == hashlib.sha256(seeded.manifest).hexdigest()
    assert f"sha256:{remote.digest}" == announced
    assert remote.registry_url == f"http://{registry.host}"


def test_layer_sizes_media_types_and_config_facts(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    repository = unique_repository()
    seeder.push_model(
        repository,
        "8b-q4",
        weights=b"w" * 10_000,
        config={"model_family": "llama", "model_type": "8.0B", "file_type": "Q4_K_M"},
        extra_layers=[
            (PROJECTOR, b"p" * 3_000),
            (TEMPLATE, b"{{ .Prompt }}"),
            (PARAMS, json.dumps({"stop": ["<|eot_id|>"]}).encode()),
            (LICENSE, b"license text"),
        ],
    )

    with RegistryClient() as client:
        remote = client.resolve(reference(registry, repository, "8b-q4"), INSECURE)

    sizes = {layer.base_media_type: layer.size for layer in remote.layers}
    assert sizes["application/vnd.ollama.image.model"] == 10_000
    assert sizes["application/vnd.ollama.image.projector"] == 3_000
    assert len(remote.layers) == 5
    assert remote.facts.family == "llama"
    assert remote.facts.parameter_size == "8.0B"
    assert remote.facts.quantization == "Q4_K_M"


def test_config_without_ollama_facts_gives_none(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    repository = unique_repository()
    seeder.push_model(repository, "latest", weights=b"x" * 10)
    with RegistryClient() as client:
        remote = client.resolve(reference(registry, repository, "latest"), INSECURE)
    assert (remote.facts.family, remote.facts.parameter_size, remote.facts.quantization) == (
        None,
        None,
        None,
    )


def test_unknown_layer_media_type_is_an_error_naming_it(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    repository = unique_repository()
    seeder.push_model(
        repository, "odd", weights=b"w", extra_layers=[("application/vnd.example.mystery", b"?")]
    )
    with RegistryClient() as client, pytest.raises(RegistryError) as raised:
        client.resolve(reference(registry, repository, "odd"), INSECURE)
    assert "application/vnd.example.mystery" in str(raised.value)
    assert "layers[1]" in str(raised.value)


def test_missing_tag_is_a_404_message_with_the_url(registry: LocalRegistry) -> None:
    with RegistryClient() as client, pytest.raises(RegistryError) as raised:
        client.resolve(reference(registry, "library/absent", "7b"), INSECURE)
    message = str(raised.value)
    assert "HTTP 404" in message
    assert f"http://{registry.host}/v2/library/absent/manifests/7b" in message
    assert "check the model name and tag" in message


def test_an_oci_manifest_ollama_cannot_pull_is_refused(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    # Ollama 0.32.0 asks for Docker v2 manifests only: Distribution refuses it an OCI manifest,
    # so the lock must not pin one (it did, asking for both).
    repository = unique_repository()
    weights = seeder.push_blob(repository, b"oci weights")
    config = seeder.push_blob(repository, b'{"model_family":"gemma"}')
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": len(b'{"model_family":"gemma"}'),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.ollama.image.model",
                    "digest": weights,
                    "size": len(b"oci weights"),
                }
            ],
        }
    ).encode()
    seeder.push_manifest(
        repository, "oci", manifest, media_type="application/vnd.oci.image.manifest.v1+json"
    )
    with RegistryClient() as client, pytest.raises(RegistryError) as refused:
        client.resolve(reference(registry, repository, "oci"), INSECURE)
    assert "the tag holds an OCI manifest, which Ollama 0.32.0 cannot pull" in str(refused.value)
    assert "MANIFEST_UNKNOWN: OCI manifest found" in str(refused.value)


def test_https_against_a_plain_http_registry_fails_with_a_clear_error(
    registry: LocalRegistry,
) -> None:
    client = RegistryClient(timeout=2)
    client.retry = type(client.retry)(attempts=1)
    with client, pytest.raises(RegistryError) as raised:
        client.resolve(reference(registry, "library/any", "latest"), RegistryConfig())
    assert f"TLS handshake with {registry.host} failed" in str(raised.value)
    assert "mark it insecure" in str(raised.value)


def test_a_registry_serving_blobs_itself_is_refused_as_ollama_cannot_pull_from_it(
    registry: LocalRegistry, seeder: RegistrySeeder
) -> None:
    """Docker Distribution on a filesystem answers a blob GET with the bytes (200): Ollama
    0.32.0's pull then fails every download with `http: no Location header in response`
    (ollama/ollama#7244; recorded in tests/fixtures/ollama-real/), so nothing is pinned from it
    (review: the lock pinned such models, and every pod failed)."""
    repository = unique_repository()
    seeder.push_model(repository, "3b", weights=b"\x02" * 4096)
    direct = LocalRegistry(f"127.0.0.1:{registry.port}", registry.port)  # no redirecting front

    with RegistryClient() as client, pytest.raises(RegistryError) as raised:
        client.resolve(reference(direct, repository, "3b"), INSECURE)

    message = str(raised.value)
    assert "serves the config blob at http://127.0.0.1:" in message
    assert "'http: no Location header in response' (ollama/ollama#7244)" in message
    with RegistryClient() as client:  # the same model through a redirecting front: pinned
        assert client.resolve(reference(registry, repository, "3b"), INSECURE).digest
