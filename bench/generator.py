#!/usr/bin/env python3
"""How fast catalog-gen validates and renders, next to check-jsonschema on the same leaves.

Synthesizes catalogs of N leaves (default 10, 1,000 and 10,000: a mix of one-model and
multi-model services, exposed or not, with resources, caches and derived models, a third of them
sized from the model lock with resourcesPreset auto; every model pinned in a made-up lock), then
times, as separate processes from a cold start each:

  * catalog-gen validate          (load, schema, rules, plan, chart-schema check)
  * catalog-gen render            (all of validate, plus every emitter and the atomic write)
  * check-jsonschema              (the committed leaf schema, the same files: shape only)

and prints leaves per second and the ratio render / check-jsonschema from the same run (below 1
means the whole validate+render is faster than check-jsonschema's validation alone). The
per-leaf cost at each size shows whether the time is linear in the number of leaves.

    .venv/bin/python bench/generator.py [--sizes 10 1000 10000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from catalog_gen.lock import LockedModel, ModelLock, serialize_lock

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
LEAF_SCHEMA = REPO_ROOT / "schemas" / "catalog-leaf.schema.json"
NAMESPACES = 50

ENVIRONMENT = {
    "environment": "bench",
    "lifecycle": "experimental",
    "routing": "gateway",
    "baseDomain": "bench.example.com",
    "gateway": {"parentRef": {"name": "gw", "namespace": "gateway-system"}},
    "gpu": {"types": [{"name": "l4", "memory": "24Gi"}], "defaultType": "l4"},
    "defaults": {
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "8Gi"}},
        "cache": {"mode": "emptyDir", "size": "20Gi"},
    },
    "downloadBandwidth": "100Mi",
}
# Made-up pins with the real models' sizes (this benchmark never talks to a registry).
LOCK = {
    "registry.ollama.ai/library/phi:latest": ("e1", 1_602_461_536, "3B", "Q4_0"),
    "registry.ollama.ai/library/llama3.2:3b": ("e2", 2_019_377_376, "3.2B", "Q4_K_M"),
    "registry.ollama.ai/library/nomic-embed-text:latest": ("e3", 274_290_656, "137M", "F16"),
}


def lock_text() -> str:
    pins = {
        reference: LockedModel(
            reference=reference,
            registry="https://registry.ollama.ai",
            digest=byte * 32,
            total_size=weights + 10_000,
            model_size=weights,
            weights_size=weights,
            parameter_size=parameters,
            quantization=quantization,
        )
        for reference, (byte, weights, parameters, quantization) in LOCK.items()
    }
    return serialize_lock(ModelLock(pins))


def leaf(index: int) -> dict[str, object]:
    """A realistic leaf; every fourth has several models and a derived one."""
    name = f"svc-{index:05d}"
    data: dict[str, object] = {
        "workloadType": "OLLAMA_INFERENCE_LOAD",
        "serviceName": name,
        "serviceCatalog": "bench",
        "namespace": f"team-{index % NAMESPACES:02d}",
        "environment": "bench",
        "owner": f"group:team-{index % NAMESPACES:02d}",
        "gpu": {"count": index % 2},
        "ingress": {"enabled": index % 3 != 0},
        "container": {
            "replicas": 1 + index % 2,
            "resources": {
                "requests": {"cpu": "1", "memory": "4Gi"},
                "limits": {"cpu": "4", "memory": "12Gi"},
            },
        },
    }
    if index % 4 == 0:
        data["models"] = ["llama3.2:3b", {"name": "nomic-embed-text", "embedding": True}]
        data["derivedModels"] = [
            {
                "name": f"{name}-assistant",
                "from": "llama3.2:3b",
                "system": "Answer briefly.",
                "parameters": {"temperature": 0.2, "num_ctx": 8192},
            }
        ]
        data["ollama"] = {"numParallel": 2, "maxLoadedModels": 3}
    else:
        data["model"] = "phi:latest"
    if index % 5 == 0:
        data["cache"] = {"mode": "perReplica", "size": "40Gi"}
    if index % 3 == 1:
        data["resourcesPreset"] = "auto"
        del data["gpu"]
        data["container"] = {"replicas": 1}
    return data


def synthesize(root: Path, count: int) -> list[Path]:
    catalog = root / "catalog"
    (catalog / "environments").mkdir(parents=True)
    (catalog / "environments" / "bench.yaml").write_text(yaml.safe_dump(ENVIRONMENT))
    (catalog / "models.lock.yaml").write_text(lock_text())
    paths = []
    for index in range(count):
        data = leaf(index)
        path = catalog / "bench" / str(data["namespace"]) / f"{data['serviceName']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or "warning:" in result.stdout:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def measure(count: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="catalog-gen-bench-") as directory:
        root = Path(directory)
        paths = synthesize(root, count)
        catalog_gen = [str(VENV_BIN / "catalog-gen")]
        chart = ["--catalog", "catalog", "--chart", str(CHART)]
        commands = {
            "validate": [*catalog_gen, "validate", *chart],
            "render": [*catalog_gen, "render", *chart, "--out", "generated"],
            "check-jsonschema": [
                str(VENV_BIN / "check-jsonschema"),
                "--schemafile",
                str(LEAF_SCHEMA),
                *(str(path.relative_to(root)) for path in paths),
            ],
        }
        times: dict[str, float] = {}
        for name, command in commands.items():
            samples = []
            for _ in range(rounds):
                samples.append(timed(command, root))
                shutil.rmtree(root / "generated", ignore_errors=True)
            times[name] = statistics.median(samples)
        return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--rounds", type=int, default=1, help="median of this many runs")
    arguments = parser.parse_args(argv)
    header = (
        f"{'leaves':>7} {'validate/s':>11} {'render/s':>9} {'check-jsonschema/s':>19} "
        f"{'render ms/leaf':>15} {'render / cjs':>13}"
    )
    print(header)
    for count in arguments.sizes:
        times = measure(count, arguments.rounds)
        ratio = times["render"] / times["check-jsonschema"]
        print(
            f"{count:>7} {count / times['validate']:>11.0f} {count / times['render']:>9.0f} "
            f"{count / times['check-jsonschema']:>19.0f} "
            f"{1000 * times['render'] / count:>15.2f} {ratio:>13.2f}",
            flush=True,
        )
    print("(each a separate process, cold start included; render includes validate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
