"""The double pinned to the real `ollama`: every step recorded from a real binary
(tests/fixtures/ollama-real/<version>/steps.json, recorded by tests/field/record.py; how the
binaries were built: docs/field-trial.md) is replayed against the double, in the same order, on
the same kind of registry (Debian's docker-registry on loopback), and must give the same exit
code, stdout and stderr (CLI) or status, content type and body (HTTP) after the narrow
normalizations of tests/field/normalize.py, each explained there.

The double's model is not the recorded GGUF: it is seeded into the registry with the same layer
media types and the same config details (family, format, parameter size, quantization) as the
recorded model, read from the recorded /api/tags answer.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.field.normalize import Normalizer
from tests.field.record import Env, run_trial
from tests.lock.local_registry import start_registry
from tests.lock.seeding import RegistrySeeder
from tests.ollama_double import install
from tests.ollama_double.store import CONFIG_MEDIA_TYPE, MODEL_MEDIA_TYPE, weights_blob
from tests.support.blob_redirect import BlobRedirect
from tests.support.net import free_port

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "ollama-real"
RECORDINGS = sorted(path.parent for path in FIXTURES.glob("*/steps.json"))
# The double follows the version the chart deploys (Chart.yaml appVersion). Older recordings
# (0.24.0, the last version whose loading could be built here) pin only what the deployed
# version could not be recorded doing: their `loaded` steps.
DEPLOYED = "0.32.0"

pytestmark = [
    pytest.mark.registry,
    pytest.mark.skipif(
        shutil.which("docker-registry") is None,
        reason="docker-registry (Debian) not installed; `make bootstrap` installs it as root",
    ),
]


def load(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "steps.json").read_text())
    return data


def recorded_details() -> dict[str, Any]:
    """The recorded model's details from the deployed version's /api/tags answer (normalized,
    so its parent_model names the weights as `<digest-N>`)."""
    recording = load(FIXTURES / DEPLOYED)
    normalizer = Normalizer()
    for record in recording["records"]:
        answer = normalizer.record(record)
        if record["id"] == "http-tags-one":
            return dict(answer["body"][0]["models"][0]["details"])
    raise AssertionError("the recording has no http-tags-one step")


def seed_double_model(port: int, details: dict[str, Any]) -> None:
    """The double's stand-in for the recorded model, pushed as `ollama push` pushed the real one:
    a config blob (what the creating server wrote: type, family; file_type "unknown" as 0.24.0
    wrote it for an F32 GGUF) and the weights layer with its `from` (the creating server's blob
    path, which 0.32.0 reports as parent_model)."""
    meta = {
        "file_type": str(details["quantization_level"]),
        "context_length": str(details["context_length"]),
        "embedding_length": str(details["embedding_length"]),
    }
    weights = weights_blob("field-trial", 4096, "generate", str(details["family"]), meta)
    layer_bytes = b"".join(weights.chunks())
    config = {
        "model_format": details["format"],
        "model_family": details["family"],
        "model_families": details["families"],
        "model_type": details["parameter_size"],
        "file_type": "unknown",
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [weights.digest]},
    }
    parent = re.sub(r"<digest-\d+>", weights.digest.replace(":", "-"), str(details["parent_model"]))
    seeder = RegistrySeeder("127.0.0.1", port)
    try:
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        config_descriptor = {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": seeder.push_blob("oil/tiny", config_bytes),
            "size": len(config_bytes),
        }
        layer = {
            "mediaType": MODEL_MEDIA_TYPE,
            "digest": seeder.push_blob("oil/tiny", layer_bytes),
            "size": len(layer_bytes),
            "from": parent,
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": config_descriptor,
            "layers": [layer],
        }
        seeder.push_manifest("oil/tiny", "1", json.dumps(manifest).encode())
    finally:
        seeder.close()


@pytest.fixture(scope="module", params=RECORDINGS, ids=[path.name for path in RECORDINGS])
def replay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    recording = load(request.param)
    root = tmp_path_factory.mktemp(f"contract-{request.param.name}")
    (root / "registry").mkdir()
    process, registry = start_registry(root / "registry")
    try:
        front = BlobRedirect(registry.port)
        seed_double_model(registry.port, recorded_details())
        env = Env(root / "trial", front.host, f"127.0.0.1:{free_port()}", registry.host)
        binary = install(root / "bin")
        loaded = any(record["phase"] == "loaded" for record in recording["records"])
        records, _ = run_trial(str(binary), env, loaded, root / "serve.log")
    finally:
        front.close()
        process.terminate()
        process.wait()
    return recording, {record["id"]: record for record in records}


def without_details(answer: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(answer)
    data: dict[str, Any] = json.loads(re.sub(r', "details": \{[^{}]*\}', "", text))
    return data


def test_the_deployed_version_is_recorded() -> None:
    chart = yaml.safe_load(
        (REPO_ROOT / "charts" / "ollama-inference-load" / "Chart.yaml").read_text()
    )
    assert chart["appVersion"] == DEPLOYED
    assert (FIXTURES / DEPLOYED / "steps.json").is_file()


def test_every_recording_names_its_version_and_commit() -> None:
    assert RECORDINGS, f"no recordings under {FIXTURES}"
    for folder in RECORDINGS:
        recording = load(folder)
        assert recording["version"] == folder.name
        assert len(recording["commit"]) == 40
        assert int(recording["commit"], 16) >= 0


def test_double_matches_the_real_binary(
    replay: tuple[dict[str, Any], dict[str, dict[str, Any]]],
) -> None:
    recording, double = replay
    real_norm, double_norm = Normalizer(), Normalizer()
    mismatches = []
    for record in recording["records"]:
        expected = real_norm.record(record)
        got = double_norm.record(double[record["id"]])
        if recording["version"] != DEPLOYED:
            if record["phase"] != "loaded":
                continue
            # /api/ps details come from another code path in 0.24.0; the double follows the
            # deployed version there (its /api/tags details), and no script reads them.
            expected, got = without_details(expected), without_details(got)
        if expected != got:
            mismatches.append(
                f"--- {record['id']} ({recording['version']})\n"
                f"real:   {json.dumps(expected, indent=1)}\n"
                f"double: {json.dumps(got, indent=1)}"
            )
    assert not mismatches, "\n".join(mismatches)
