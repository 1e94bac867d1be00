#!/usr/bin/env python3
"""catalog-gen against helm on thousands of drawn leaves: who accepts what, and disagreements.

Draws N cases (tests/support/differential.py: the chart's own defaults and schema at their
boundaries, every enum, boolean, access-mode list and extraEnv name the chart sets, and
combinations of two or three), judges them with catalog-gen in one run, renders the values of
every accepted case with helm 3.19 and 4.3 (and what helm 3.19 rendered through the API server's
own create validation, tools/apiserver-validate), and renders every refused case's values as given
(chartValues over the chart defaults, without the catalog) to show where catalog-gen is stricter
than the chart. A disagreement is a case catalog-gen accepts and a helm, or the API server,
refuses: it must be 0.

    .venv/bin/python bench/differential.py [--cases 2000] [--seed 14] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import shared_dir_path
from tests.support.differential import (
    LEAF_FIELDS,
    chart_env_names,
    draw_cases,
    helm_paths,
    judge,
    renders,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args(argv)
    helms = helm_paths()
    cases = draw_cases(chart_env_names(helms["3.19.0"]), arguments.cases, arguments.seed)
    start = time.perf_counter()
    crds = shared_dir_path() / "crds"
    crd_dir = crds if crds.is_dir() else None
    verdicts = judge(cases, helms, workers=arguments.workers, crd_dir=crd_dir)
    seconds = time.perf_counter() - start
    accepted = sum(verdicts.generator)
    print(f"cases: {len(cases)} (seed {arguments.seed}), judged in {seconds:.1f} s")
    print(f"catalog-gen: {accepted} accepted, {len(cases) - accepted} refused")
    for version, results in verdicts.helm.items():
        refused = sum(1 for result in results if result is False)
        print(
            f"helm {version} on the accepted values: {accepted - refused} render, {refused} refuse"
        )
    judged = [errors for errors in verdicts.apiserver if errors is not None]
    refused_by_server = sum(1 for errors in judged if errors)
    resources = "built-in kinds and custom resources" if crd_dir else "built-in kinds"
    print(
        f"the API server's own validation (tools/apiserver-validate, {resources}) on what helm "
        f"3.19 rendered: {len(judged) - refused_by_server} accept, {refused_by_server} refuse"
    )
    helm = helms["3.19.0"]
    stricter = 0
    refused_cases = [
        case
        for index, case in enumerate(cases)
        if not verdicts.generator[index]
        and not any(path in LEAF_FIELDS and case.through_leaf for path, _ in case.mutations)
    ]
    with tempfile.TemporaryDirectory() as temporary:
        for index, case in enumerate(refused_cases):
            values = Path(temporary) / f"{index}.yaml"
            values.write_text(yaml.safe_dump(case.chart_values()))
            stricter += renders(helm, values)
    print(
        f"refused by catalog-gen, values given to helm 3.19 directly: {stricter} of "
        f"{len(refused_cases)} render (catalog-gen's own rules: leaf shape, lock, sizing, "
        "requests within limits)"
    )
    disagreements = verdicts.disagreements()
    print(
        f"disagreements (catalog-gen accepts, helm or the API server refuses): {len(disagreements)}"
    )
    for index in disagreements[:10]:
        refusals = verdicts.apiserver[index] or []
        print(f"  case {index}: {cases[index].mutations} {refusals[:2]}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
