#!/usr/bin/env python3
"""How fast catalog-gen validates and renders, next to check-jsonschema on the same leaves.

Synthesizes catalogs of N leaves in one of several shapes, then times, as separate processes from
a cold start each (no cache: `--no-cache`):

  * catalog-gen validate          (load, schema, rules, plan, chart-schema check)
  * catalog-gen render            (all of validate, plus every emitter and the atomic write), in
                                  as many processes as there are CPUs (the default --jobs)
  * catalog-gen render --jobs 1   (the same in one process)
  * check-jsonschema              (the committed leaf schema, the same files: shape only)

and, with the cache: render with it empty (a first run: every leaf planned as without it, then
kept), then render and check after a one-leaf edit (incremental), at every size (their CPU over
the cold render's is printed too: near-constant means that ratio falls as the catalog grows), and
the "stat floor" (bench/stat_floor.py: start-up and a stat of every leaf and output file, what
such a render cannot avoid while it proves every output file its own). It
prints wall and CPU seconds (user + system of the process: on a busy machine the wall clock is
mostly waiting), leaves per second, the CPU cost per leaf (the same at every size when the cost
is linear), the ratio check-jsonschema / command from the same run (above 1: the command is that
many times faster than check-jsonschema's shape validation alone) and each process's peak RSS.

Shapes:
  dev     leaves shaped like the proof of concept's (catalog/dev/ml-workloads/ollama-phi.yaml),
          one unpinned model each (a warning per leaf, the usual dev case), 1,000 services per
          namespace, Argo CD and Backstage outputs
  mixed   one- and multi-model services, derived models, caches, a third resourcesPreset auto,
          every model pinned, 50 namespaces
  multi   4 environments (one with requireLock), 1,000 services per namespace, half the models
          pinned (warnings elsewhere)
  errors  the dev shape with a mistake in every tenth leaf (requests above limits, unknown keys):
          validate only, which must exit 1 (check-jsonschema too: an unknown key is a shape error)

    .venv/bin/python bench/generator.py [--shapes dev mixed] [--sizes 1000 10000] [--rounds 1]
        [--baseline-up-to 10000] [--incremental-up-to N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalog_gen.lock.lockfile import serialize_lock
from catalog_gen.lock.model import LockedModel, ModelLock

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
LEAF_SCHEMA = REPO_ROOT / "schemas" / "catalog-leaf.schema.json"
CACHE_DIR = ".catalog-gen-cache"
STAT_FLOOR = Path(__file__).resolve().parent / "stat_floor.py"
DENSE = 1000  # services per namespace in the dense shapes

ENVIRONMENT: dict[str, Any] = {
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
ARGOCD: dict[str, Any] = {
    "repoURL": "https://github.com/example-org/ollama-inference-load.git",
    "targetRevision": "main",
    "chart": {"path": "charts/ollama-inference-load"},
    "syncPolicy": {"automated": True, "prune": True, "selfHeal": True},
}
# Made-up pins with the real models' sizes (this benchmark never talks to a registry).
LOCK = {
    "registry.ollama.ai/library/phi:latest": ("e1", 1_602_461_536, "3B", "Q4_0"),
    "registry.ollama.ai/library/llama3.2:3b": ("e2", 2_019_377_376, "3.2B", "Q4_K_M"),
    "registry.ollama.ai/library/nomic-embed-text:latest": ("e3", 274_290_656, "137M", "F16"),
    "registry.ollama.ai/library/mistral:7b": ("e4", 4_113_301_824, "7.2B", "Q4_0"),
}


def lock_text(references: list[str]) -> str:
    pins = {}
    for reference in references:
        byte, weights, parameters, quantization = LOCK[reference]
        pins[reference] = LockedModel(
            reference=reference,
            registry="https://registry.ollama.ai",
            digest=byte * 32,
            total_size=weights + 10_000,
            model_size=weights,
            weights_size=weights,
            parameter_size=parameters,
            quantization=quantization,
        )
    return serialize_lock(ModelLock(pins))


def dev_leaf(index: int, environment: str = "bench") -> dict[str, Any]:
    """The proof of concept's leaf, one per index, 1,000 per namespace."""
    name = f"ollama-{index:06d}"
    return {
        "workloadType": "OLLAMA_INFERENCE_LOAD",
        "serviceName": name,
        "serviceCatalog": "ml-inference",
        "namespace": f"ml-workloads-{index // DENSE:03d}",
        "environment": environment,
        "model": "phi:latest",
        "gpu": {"count": 1},
        "ingress": {"enabled": True, "host": f"{name}.{environment}.hypermedia.au"},
        "container": {
            "replicas": 1,
            "resources": {
                "requests": {"cpu": "500m", "memory": "2Gi"},
                "limits": {"cpu": "2", "memory": "4Gi"},
            },
        },
    }


def mixed_leaf(index: int) -> dict[str, Any]:
    """A realistic mix; every fourth has several models and a derived one."""
    name = f"svc-{index:05d}"
    data: dict[str, Any] = {
        "workloadType": "OLLAMA_INFERENCE_LOAD",
        "serviceName": name,
        "serviceCatalog": "bench",
        "namespace": f"team-{index % 50:02d}",
        "environment": "bench",
        "owner": f"group:team-{index % 50:02d}",
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


MULTI_ENVIRONMENTS = ("dev", "test", "staging", "prod")


def multi_leaf(index: int) -> dict[str, Any]:
    """Round-robin over four environments; pinned models (llama3.2, mistral) in half the leaves,
    the unpinned phi elsewhere, except in prod, which requires the lock."""
    environment = MULTI_ENVIRONMENTS[index % len(MULTI_ENVIRONMENTS)]
    data = dev_leaf(index // len(MULTI_ENVIRONMENTS), environment)
    if index % 2 or environment == "prod":
        data["model"] = "llama3.2:3b" if index % 3 else "mistral:7b"
        data["container"]["resources"] = {
            "requests": {"cpu": "1", "memory": "6Gi"},
            "limits": {"cpu": "4", "memory": "12Gi"},
        }
    return data


def errors_leaf(index: int) -> dict[str, Any]:
    data = dev_leaf(index)
    if index % 10 == 3:
        data["container"]["resources"]["requests"]["memory"] = "16Gi"  # above the limit
    elif index % 10 == 7:
        data["container"]["replica"] = 2  # unknown key
    return data


@dataclass(frozen=True)
class Shape:
    leaf: Callable[[int], dict[str, Any]]
    environments: tuple[str, ...]
    pinned: tuple[str, ...]
    gitops: bool  # environments with argocd and an owner: app.json and catalog-info.yaml too
    valid: bool


SHAPES = {
    "dev": Shape(dev_leaf, ("bench",), ("registry.ollama.ai/library/llama3.2:3b",), True, True),
    "mixed": Shape(
        mixed_leaf,
        ("bench",),
        tuple(reference for reference in LOCK if "mistral" not in reference),
        False,
        True,
    ),
    "multi": Shape(
        multi_leaf,
        MULTI_ENVIRONMENTS,
        ("registry.ollama.ai/library/llama3.2:3b", "registry.ollama.ai/library/mistral:7b"),
        True,
        True,
    ),
    "errors": Shape(errors_leaf, ("bench",), (), True, False),
}


def environment_file(name: str, gitops: bool) -> dict[str, Any]:
    # Every environment names an owner, as the shipped ones do (a service without one is a
    # warning: the shapes' warnings stay the ones they are about).
    data = {
        **ENVIRONMENT,
        "environment": name,
        "baseDomain": f"{name}.example.com",
        "owner": "group:ml-platform",
    }
    if gitops:
        data["argocd"] = ARGOCD
    if name == "prod":
        data["requireLock"] = True
    return data


def synthesize(root: Path, shape: Shape, count: int) -> list[Path]:
    catalog = root / "catalog"
    (catalog / "environments").mkdir(parents=True)
    for name in shape.environments:
        text = yaml.safe_dump(environment_file(name, shape.gitops))
        (catalog / "environments" / f"{name}.yaml").write_text(text)
    (catalog / "models.lock.yaml").write_text(lock_text(list(shape.pinned)))
    paths = []
    for index in range(count):
        data = shape.leaf(index)
        path = (
            catalog
            / str(data["environment"])
            / str(data["namespace"])
            / f"{data['serviceName']}.yaml"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Run:
    seconds: float  # wall clock
    cpu_seconds: float  # user + system of the process itself: what a busy machine distorts least
    peak_rss_mib: float


# Installed Python reads its modules' bytecode from __pycache__; PYTHONDONTWRITEBYTECODE (set on
# some development machines) would make every run compile every module again (seconds on a busy
# machine, for catalog-gen and check-jsonschema alike). The commands run as installed: bytecode
# written once (warm_bytecode), read by every timed run.
BENCH_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def warm_bytecode() -> None:
    """Compile catalog-gen's and check-jsonschema's modules once, as installing them does."""
    for command in (["catalog-gen", "--help"], ["check-jsonschema", "--help"]):
        subprocess.run(
            [str(VENV_BIN / command[0]), *command[1:]],
            env=BENCH_ENV,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    folders = [str(REPO_ROOT / "src")]
    folders += [path for path in sys.path if path.endswith("site-packages")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *folders],
        env=BENCH_ENV,
        stdout=subprocess.DEVNULL,
        check=False,  # a module that does not compile (a test fixture) is no reason to stop
    )


def timed(command: list[str], cwd: Path, *, expect: int = 0) -> Run:
    """Run command; its wall time and its own peak resident set size (wait4's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=BENCH_ENV)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != expect:
            raise SystemExit(
                f"{' '.join(command[:3])} exited {process.returncode}, not {expect}:\n"
                f"{out.read().decode()[-2000:]}\n{err.read().decode()[-2000:]}"
            )
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)  # Linux: KiB


def edit_one_leaf(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    data["description"] = f"edited at {time.time_ns()}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def measure(
    shape: Shape,
    count: int,
    rounds: int,
    *,
    baseline: bool,
    incremental: bool,
    where: str | None = None,
) -> dict[str, Run]:
    with tempfile.TemporaryDirectory(prefix="catalog-gen-bench-", dir=where) as directory:
        root = Path(directory)
        paths = synthesize(root, shape, count)
        catalog_gen = [str(VENV_BIN / "catalog-gen")]
        chart = ["--catalog", "catalog", "--chart", str(CHART)]
        render = [*catalog_gen, "render", *chart, "--out", "generated"]
        expect = 0 if shape.valid else 1
        cold = {
            "validate": [*catalog_gen, "validate", "--no-cache", *chart],
            "render": [*render, "--no-cache"],
            "render --jobs 1": [*render, "--no-cache", "--jobs", "1"],
            "check-jsonschema": [
                str(VENV_BIN / "check-jsonschema"),
                "--schemafile",
                str(LEAF_SCHEMA),
                *(str(path.relative_to(root)) for path in paths),
            ],
        }
        wanted = {
            name: command
            for name, command in cold.items()
            if not (name.startswith("render") and not shape.valid)
            and not (name == "check-jsonschema" and not baseline)
        }
        # Rounds interleaved (each command once per round): a machine that slows down during
        # the run slows every command of a round alike, so the ratios drift less.
        samples: dict[str, list[Run]] = {name: [] for name in wanted}
        for _ in range(rounds):
            for name, command in wanted.items():
                samples[name].append(timed(command, root, expect=expect))
                shutil.rmtree(root / "generated", ignore_errors=True)
        results: dict[str, Run] = {name: _median(runs) for name, runs in samples.items()}
        if shape.valid and incremental:
            results["render, empty cache"] = timed(render, root)  # fills it
            edit_one_leaf(paths[len(paths) // 2])
            results["render, 1 leaf edited"] = timed(render, root)
            # What that render cannot avoid (start-up, a stat per leaf and per output file):
            # it can only be as constant as this.
            results["stat floor"] = timed(
                [sys.executable, str(STAT_FLOOR), "catalog", "generated"], root
            )
            edit_one_leaf(paths[len(paths) // 3])
            check = [*catalog_gen, "check", *chart, "--out", "generated"]
            results["check, 1 leaf edited"] = timed(check, root, expect=1)
            results["render, nothing edited"] = timed(render, root)
        return results


def _median(samples: list[Run]) -> Run:
    return Run(
        statistics.median(run.seconds for run in samples),
        statistics.median(run.cpu_seconds for run in samples),
        max(run.peak_rss_mib for run in samples),
    )


def report(shape_name: str, count: int, results: dict[str, Run]) -> None:
    baseline = results.get("check-jsonschema")
    cold = results.get("render")
    for name, run in results.items():
        ratios = f"{'-':>8} {'-':>8}"
        if baseline is not None and name != "check-jsonschema":
            ratios = (
                f"{baseline.seconds / run.seconds:>7.1f}x "
                f"{baseline.cpu_seconds / run.cpu_seconds:>7.1f}x"
            )
        print(
            f"{shape_name:<7} {count:>7} {name:<24} {run.seconds:>8.2f} {run.cpu_seconds:>8.2f} "
            f"{count / run.seconds:>9.0f} {1000 * run.cpu_seconds / count:>8.3f} {ratios} "
            f"{run.peak_rss_mib:>9.0f}"
            + (
                f" {run.cpu_seconds / cold.cpu_seconds:>6.1%} of a cold render's CPU"
                if cold is not None
                and name.startswith(("render, nothing", "render, 1", "check,", "stat floor"))
                else ""
            ),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["dev", "mixed"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--rounds", type=int, default=1, help="median of this many runs (commands interleaved)"
    )
    parser.add_argument(
        "--baseline-up-to",
        type=int,
        default=10_000,
        metavar="N",
        help="run check-jsonschema only up to N leaves (it takes minutes at 50,000)",
    )
    parser.add_argument(
        "--incremental-up-to",
        type=int,
        default=None,
        metavar="N",
        help="time the one-leaf edits only up to N leaves (default: at every size)",
    )
    parser.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help="where the catalogs are made and rendered (default: the system's temporary "
        "folder; /dev/shm takes the disk out of the figures)",
    )
    arguments = parser.parse_args(argv)
    warm_bytecode()
    print(
        f"{'shape':<7} {'leaves':>7} {'command':<24} {'wall s':>8} {'CPU s':>8} {'leaves/s':>9} "
        f"{'CPU ms/leaf':>8} {'cjs/this':>8} {'(CPU)':>8} {'peak MiB':>9}"
    )
    for shape_name in arguments.shapes:
        for count in arguments.sizes:
            results = measure(
                SHAPES[shape_name],
                count,
                arguments.rounds,
                baseline=count <= arguments.baseline_up_to,
                incremental=arguments.incremental_up_to is None
                or count <= arguments.incremental_up_to,
                where=arguments.dir,
            )
            report(shape_name, count, results)
    print(
        "(each a separate process, cold start included; cold runs with --no-cache; render "
        "includes validate; leaves/s from the wall clock; cjs/this: check-jsonschema's time "
        "over this command's, wall and CPU (user + system))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
