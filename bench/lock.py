#!/usr/bin/env python3
"""How fast `catalog-gen lock` resolves references, with and without keep-alive and concurrency.

Starts its own docker-registry on 127.0.0.1 (temporary storage), pushes 200 small Ollama-style
models through the registry API, then resolves all 200 references (manifest + config blob each)
with each client setting and prints references per second (median of --rounds runs). Concurrency
stays bounded: the real registry is shared, so more workers are not the goal.

    .venv/bin/python bench/lock.py [--references 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "src"))

from catalog_gen.lock.model import WantedModel  # noqa: E402
from catalog_gen.lock.registry import RegistryClient, RegistryConfig  # noqa: E402
from catalog_gen.lock.resolve import resolve_all  # noqa: E402
from catalog_gen.references import parse_model_reference  # noqa: E402
from tests.lock.local_registry import (  # noqa: E402
    LocalRegistry,
    RegistryNotInstalledError,
    RegistryStartError,
    redirecting,
    start_registry,
)
from tests.lock.seeding import PARAMS, TEMPLATE, RegistrySeeder  # noqa: E402
from tests.support.blob_redirect import BlobRedirect  # noqa: E402

SETTINGS = (
    ("new connection per request", False, 1),
    ("keep-alive", True, 1),
    ("new connection per request, 4 workers", False, 4),
    ("keep-alive, 4 workers", True, 4),
    ("keep-alive, 8 workers", True, 8),
)


def start_bench_registry(
    storage: Path,
) -> tuple[subprocess.Popen[bytes], BlobRedirect, LocalRegistry]:
    try:
        process, local = start_registry(storage)
    except (RegistryNotInstalledError, RegistryStartError) as error:
        raise SystemExit(f"bench/lock.py: {error}") from error
    front, through_front = redirecting(local)
    return process, front, through_front


def seed(registry: LocalRegistry, count: int) -> list[WantedModel]:
    seeder = RegistrySeeder("127.0.0.1", registry.port)
    wanted = []
    try:
        for index in range(count):
            name, tag = f"bench/model{index % 20}", f"v{index // 20}"
            seeder.push_model(
                name,
                tag,
                weights=f"weights {index}".encode() * 512,
                config={"model_family": "llama", "model_type": "1B", "file_type": "Q4_0"},
                extra_layers=[(TEMPLATE, b"{{ .Prompt }}"), (PARAMS, b'{"num_ctx":4096}')],
            )
            reference = parse_model_reference(f"{registry.host}/{name}:{tag}")
            wanted.append(WantedModel(reference, RegistryConfig(insecure=True)))
    finally:
        seeder.close()
    return wanted


def measure(wanted: list[WantedModel], reuse: bool, workers: int) -> float:
    with RegistryClient(reuse_connections=reuse) as client:
        started = time.perf_counter()
        resolved, problems = resolve_all(wanted, client, concurrency=workers)
        elapsed = time.perf_counter() - started
    if problems or len(resolved) != len(wanted):
        raise SystemExit(f"bench/lock.py: resolution failed: {problems[:3]}")
    return len(wanted) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as storage:
        process, front, registry = start_bench_registry(Path(storage))
        try:
            wanted = seed(registry, args.references)
            print(
                f"{len(wanted)} references, 3 requests each (manifest, config blob and its "
                f"redirect), median of {args.rounds} rounds, docker-registry on 127.0.0.1 "
                "behind a front that redirects blob downloads (as Ollama's pull needs)"
            )
            print(f"{'client setting':<40} {'refs/s':>8} {'requests/s':>11}")
            for label, reuse, workers in SETTINGS:
                rates = [measure(wanted, reuse, workers) for _ in range(args.rounds)]
                rate = statistics.median(rates)
                print(f"{label:<40} {rate:>8.0f} {3 * rate:>11.0f}")
        finally:
            front.close()
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
