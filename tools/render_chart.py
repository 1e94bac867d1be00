"""`make run`, second half: `helm template` the chart with every generated values file.

Prints one line per service (the kinds rendered) and exits 1 when any render fails, so a values
file the chart refuses (a guardrail, a schema error) stops `make run` the way it would stop
Argo CD. Uses the pinned helm binary, never one from PATH.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HELM = REPO_ROOT / ".tools" / "helm" / "3.19.0" / "helm"
DEFAULT_CHART = REPO_ROOT / "charts" / "ollama-inference-load"
DEFAULT_GENERATED = REPO_ROOT / "generated"
# What a cluster with Gateway API and cert-manager serves (Argo CD passes the same).
API_VERSIONS = (
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "gateway.networking.k8s.io/v1/Gateway",
    "cert-manager.io/v1/Certificate",
)


def render(helm: Path, chart: Path, values: Path, service_dir: Path) -> tuple[bool, str]:
    """(ok, summary) for one service: kinds rendered, or helm's error."""
    _environment, namespace, service = service_dir.parts[-3:]
    command = [
        str(helm),
        "template",
        service,
        str(chart),
        "--namespace",
        namespace,
        "--values",
        str(values),
    ]
    for api_version in API_VERSIONS:
        command += ["--api-versions", api_version]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        return False, result.stderr.strip() or f"helm exited {result.returncode}"
    kinds = Counter(
        document.get("kind", "?")
        for document in yaml.safe_load_all(result.stdout)
        if isinstance(document, dict)
    )
    return True, ", ".join(
        f"{kind}" if count == 1 else f"{kind} x{count}" for kind, count in sorted(kinds.items())
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--generated", type=Path, default=DEFAULT_GENERATED)
    parser.add_argument("--chart", type=Path, default=DEFAULT_CHART)
    parser.add_argument("--helm", type=Path, default=DEFAULT_HELM)
    arguments = parser.parse_args(argv)
    if not arguments.helm.is_file():
        print(f"render_chart: helm not found at {arguments.helm}: run `make bootstrap`")
        return 2
    values_files = sorted(arguments.generated.glob("*/*/*/values.yaml"))
    if not values_files:
        print(f"render_chart: no values files under {arguments.generated}: run catalog-gen render")
        return 1
    failures = 0
    for values in values_files:
        service_dir = values.parent.relative_to(arguments.generated)
        ok, summary = render(arguments.helm, arguments.chart, values, service_dir)
        status = "ok  " if ok else "FAIL"
        print(f"{status} {service_dir.as_posix()}: {summary}")
        failures += not ok
    print(f"{len(values_files) - failures}/{len(values_files)} services render with the chart")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
