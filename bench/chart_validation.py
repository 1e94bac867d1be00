"""Benchmark: render every ci/ scenario and validate it for Kubernetes 1.29-1.34 plus CRDs.

Prints figures; it asserts nothing (speed goals live here, never in timed tests). Run with
    .venv/bin/python -m bench.chart_validation
"""

from __future__ import annotations

import time

from tests.chart.conftest import SCENARIOS, render_scenario
from tests.conftest import helm_binary, shared_dir_path
from tests.support.kube import KUBE_VERSIONS, validate_manifests


def main() -> int:
    helm = helm_binary("3.19.0")
    started = time.perf_counter()
    documents = [document for scenario in SCENARIOS for document in render_scenario(helm, scenario)]
    rendered = time.perf_counter()
    crd_dir = shared_dir_path() / "crds"
    errors = validate_manifests(documents, KUBE_VERSIONS, crd_dir if crd_dir.is_dir() else None)
    first = time.perf_counter()
    validate_manifests(documents, KUBE_VERSIONS, crd_dir if crd_dir.is_dir() else None)
    second = time.perf_counter()
    print(
        f"scenarios: {len(SCENARIOS)}, documents: {len(documents)}, versions: {len(KUBE_VERSIONS)}"
    )
    print(f"render (helm {helm.parent.name}): {rendered - started:.2f}s")
    print(f"validate, cold schema cache: {first - rendered:.2f}s")
    print(f"validate, warm schema cache: {second - first:.2f}s")
    print(f"validation errors: {len(errors)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
