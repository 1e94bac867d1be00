"""`make run`, second half: `helm template` the chart with every generated values file.

Every rendered manifest is then validated strictly (tools/kube_validate.py): built-in kinds for
Kubernetes 1.29-1.34 with unknown fields rejected and by the API server's own create validation
(tools/apiserver-validate, Kubernetes 1.34), custom resources (the APIs the chart's templates
ask the cluster for: catalog_gen.diff.render.chart_api_versions) against the real CRDs in
$OLLAMA_LOAD_SHARED_DIR/crds (default ../shared/crds) when that folder exists; without it they
are reported as not validated, never passed silently.

Prints one line per service (the kinds rendered) and exits 1 when any render or validation fails,
so a values file the chart refuses (a guardrail, a schema error) stops `make run` the way it would
stop Argo CD. Uses the pinned helm binary, never one from PATH.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from catalog_gen.diff.render import chart_api_versions
from tools.kube_validate import (
    Document,
    HelmError,
    apiserver_errors,
    helm_template_text,
    load_documents,
    validate_manifests,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "OLLAMA_LOAD_SHARED_DIR"
DEFAULT_HELM = REPO_ROOT / ".tools" / "helm" / "3.19.0" / "helm"
DEFAULT_CHART = REPO_ROOT / "charts" / "ollama-inference-load"
DEFAULT_GENERATED = REPO_ROOT / "generated"


def crd_dir() -> Path | None:
    shared = Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared"))
    crds = shared / "crds"
    return crds if crds.is_dir() else None


def is_custom_resource(document: Document, chart: Path) -> bool:
    group = str(document.get("apiVersion", "")).rpartition("/")[0]
    return group in {api.split("/")[0] for api in chart_api_versions(chart)}


def render(
    helm: Path, chart: Path, values: Path, service_dir: Path, crds: Path | None
) -> tuple[bool, str]:
    """(ok, summary) for one service: kinds rendered, or helm's or the validator's errors."""
    _environment, namespace, service = service_dir.parts[-3:]
    try:
        text = helm_template_text(
            helm,
            chart,
            [values],
            release=service,
            namespace=namespace,
            api_versions=chart_api_versions(chart),
        )
    except HelmError as error:
        return False, error.stderr.strip() or str(error)
    documents = load_documents(text)
    unchecked = [] if crds else [d for d in documents if is_custom_resource(d, chart)]
    checked = [d for d in documents if d not in unchecked]
    problems = validate_manifests(checked, crd_dir=crds)
    problems += apiserver_errors([text], namespace, crds)[0]
    if problems:
        return False, "invalid manifests:\n    " + "\n    ".join(problems)
    kinds = Counter(str(document.get("kind", "?")) for document in documents)
    summary = ", ".join(
        kind if count == 1 else f"{kind} x{count}" for kind, count in sorted(kinds.items())
    )
    if unchecked:
        names = sorted({str(d.get("kind")) for d in unchecked})
        summary += f" ({', '.join(names)} not validated: no CRD folder, set {SHARED_ENV})"
    return True, summary


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
    crds = crd_dir()
    for values in values_files:
        service_dir = values.parent.relative_to(arguments.generated)
        ok, summary = render(arguments.helm, arguments.chart, values, service_dir, crds)
        status = "ok  " if ok else "FAIL"
        print(f"{status} {service_dir.as_posix()}: {summary}")
        failures += not ok
    print(
        f"{len(values_files) - failures}/{len(values_files)} services render with the chart "
        "into valid manifests (Kubernetes 1.29-1.34, strict; the API server's validation, 1.34)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
