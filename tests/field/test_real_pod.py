"""The chart's lifecycle scripts against a REAL `ollama` binary, run as the pod runs them
(tests/field/pod.py). Skipped unless a binary is given, so CI never depends on one:

    OLLAMA_FIELD_BIN=/path/to/ollama            the binary of the pod (init, server, probes, test)
    OLLAMA_FIELD_GGUF=/path/to/model.gguf       a small model it can load
    OLLAMA_FIELD_SEED_BIN=/path/to/ollama       creates + pushes the model (default: the above;
                                                0.32.x cannot create from a GGUF without its native
                                                llama-quantize, so 0.24.0 seeds for it)
    OLLAMA_FIELD_LOADS=1                        the binary can load models (readiness steps)

docs/field-trial.md says how the binaries were built and what these tests found.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, helm_binary
from tests.field.pod import Pod, render, tools_missing
from tests.field.record import seed_registry
from tests.lock.local_registry import start_registry
from tests.support.blob_redirect import BlobRedirect
from tests.support.net import free_port

BIN = os.environ.get("OLLAMA_FIELD_BIN", "")
GGUF = os.environ.get("OLLAMA_FIELD_GGUF", "")
SEED_BIN = os.environ.get("OLLAMA_FIELD_SEED_BIN", "") or BIN
LOADS = os.environ.get("OLLAMA_FIELD_LOADS") == "1"
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
DERIVED = 'FROM {model}\nSYSTEM """You answer in one word."""\n'

pytestmark = [
    pytest.mark.skipif(
        not (BIN and GGUF),
        reason="field trial: set OLLAMA_FIELD_BIN and OLLAMA_FIELD_GGUF to run the scripts against "
        "a real ollama (docs/field-trial.md); CI has no such binary",
    ),
    pytest.mark.skipif(bool(tools_missing()), reason=f"field trial needs {tools_missing()}"),
    pytest.mark.slow,
]


POD_ROOTS: list[Path] = []


@pytest.fixture(autouse=True)
def _remove_pod_roots() -> Iterator[None]:
    yield
    while POD_ROOTS:
        shutil.rmtree(POD_ROOTS.pop(), ignore_errors=True)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobRedirect]:
    """docker-registry holding the model, behind the blob-redirecting front Ollama needs."""
    root = tmp_path_factory.mktemp("registry")
    process, found = start_registry(root)
    front = BlobRedirect(found.port)
    try:
        seed_registry(SEED_BIN, Path(GGUF), tmp_path_factory.mktemp("seed"), found.host)
        yield front
    finally:
        front.close()
        process.terminate()
        process.wait()


def model(registry: BlobRedirect) -> str:
    return f"{registry.host}/oil/tiny:1"


def manifest_digest(registry: BlobRedirect) -> str:
    request = urllib.request.Request(
        f"http://{registry.host}/v2/oil/tiny/manifests/1",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.headers["Docker-Content-Digest"]).removeprefix("sha256:")


def make_pod(tmp_path: Path, name: str, digest: str = "", derived: bool = True) -> Pod:
    values: dict[str, object] = {
        "models": [{"name": name, "insecure": True, **({"digest": digest} if digest else {})}],
        "ollama": {"port": free_port()},
        "lifecycle": {"pullRetries": 2, "pullBackoffSeconds": 1, "pollIntervalSeconds": 1},
    }
    if derived:
        values["derivedModels"] = [
            {"name": "oil-derived:1", "modelfile": DERIVED.format(model=name)}
        ]
    tmp_path.mkdir(parents=True, exist_ok=True)
    docs = render(helm_binary("3.19.0"), CHART, values, tmp_path)
    # pytest's folders are private to root; the pod's uid must reach its volumes.
    root = Path(tempfile.mkdtemp(prefix="oil-pod-"))
    root.chmod(0o755)
    POD_ROOTS.append(root)
    return Pod.from_manifests(docs, root / "pod", Path(BIN))


def test_init_cold_then_warm_cache(tmp_path: Path, registry: BlobRedirect) -> None:
    pod = make_pod(tmp_path, model(registry))
    cold = pod.init()
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert "1 downloaded" in cold.stdout
    assert "created oil-derived:1" in cold.stdout
    warm = pod.init()
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "cache hit" in warm.stdout
    assert "0 downloaded" in warm.stdout


def test_init_pinned_digest_right_and_wrong(tmp_path: Path, registry: BlobRedirect) -> None:
    right = make_pod(tmp_path / "right", model(registry), manifest_digest(registry), derived=False)
    result = right.init()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches the pinned digest" in result.stdout
    wrong = make_pod(tmp_path / "wrong", model(registry), "0" * 64, derived=False)
    result = wrong.init()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "digest mismatch" in result.stdout
    assert "removed" in result.stdout
    assert not list((wrong.root / "models" / "manifests").rglob("1"))


def test_init_registry_down(tmp_path: Path) -> None:
    pod = make_pod(tmp_path, f"127.0.0.1:{free_port()}/oil/tiny:1", derived=False)
    result = pod.init()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "connect: connection refused" in result.stdout
    assert "failed after 2 attempts" in result.stdout


@pytest.mark.skipif(not LOADS, reason="OLLAMA_FIELD_LOADS=1 not set: the binary cannot load models")
def test_probes_self_heal_helm_test_and_clean_stop(tmp_path: Path, registry: BlobRedirect) -> None:
    pod = make_pod(tmp_path, model(registry))
    assert pod.init().returncode == 0
    pod.start_server()
    try:
        assert pod.probe("livenessProbe").returncode == 0
        first = pod.probe("readinessProbe")
        assert first.returncode == 1, first.stdout
        assert "load started" in first.stdout
        wait_ready(pod)
        stopped = pod.cli("stop", "oil-derived:1")
        assert stopped.returncode == 0, stopped.stderr
        evicted = pod.probe("readinessProbe")
        assert evicted.returncode == 1, evicted.stdout
        wait_ready(pod)
        test = pod.helm_test()
        assert test.returncode == 0, test.stdout + test.stderr
    finally:
        codes = pod.stop()
    assert codes == [0]


def wait_ready(pod: Pod, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while (result := pod.probe("readinessProbe")).returncode != 0:
        assert time.monotonic() < deadline, result.stdout
        time.sleep(1)
