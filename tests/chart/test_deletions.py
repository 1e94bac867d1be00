"""A null in the values deletes a chart default (helm's coalesce; a leaf's chartValues reach helm
so). Where the templates cannot do without a value, values.schema.json requires it, so helm, and
catalog-gen, which checks the same schema, refuse the null up front instead of failing inside a
template or rendering a broken object. The list is what nulling every value of values.yaml, over
every ci/ scenario, broke before (3,400 renders; see docs/development.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import render
from tests.support.kube import HelmError
from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli

NEEDED = [
    "assumeApiVersions",
    "autoscaling",
    "backstage",
    "cache",
    "commonLabels",
    "exposure",
    "gateway",
    "global",
    "gpu",
    "httpRoute",
    "image",
    "imagePullSecrets",
    "ingress",
    "lifecycle",
    "networkPolicy",
    "ollama",
    "podDisruptionBudget",
    "podLabels",
    "probes",
    "pull",
    "resources",
    "service",
    "serviceAccount",
    "startup",
    "test",
    "tolerations",
    "autoscaling.enabled",
    "autoscaling.kedaHttp",
    "autoscaling.kedaHttp.referenceGrant",
    "autoscaling.prometheus",
    "autoscaling.scaleToZero",
    "gateway.enabled",
    "gateway.http",
    "gateway.tls",
    "gateway.tls.certificate",
    "gateway.tls.enabled",
    "global.imagePullSecrets",
    "httpRoute.authentication",
    "httpRoute.timeouts",
    "networkPolicy.dns",
    "networkPolicy.registry",
    "test.image",
]


def nulled(path: str) -> dict[str, Any]:
    *parents, key = path.split(".")
    values: dict[str, Any] = {key: None}
    for parent in reversed(parents):
        values = {parent: values}
    return values


@pytest.mark.parametrize("path", NEEDED)
def test_a_value_the_templates_need_cannot_be_deleted(
    helm: Path, tmp_path: Path, path: str
) -> None:
    *parents, key = path.split(".")
    with pytest.raises(HelmError) as failure:
        render(helm, {**nulled(path), "models": [{"name": "phi"}]}, tmp_path)
    assert "don't meet the specifications of the schema" in failure.value.stderr
    where = "/".join(["", *parents])
    assert f"- at '{where}': missing property '{key}'" in failure.value.stderr


def test_a_value_a_template_can_do_without_can_still_be_deleted(helm: Path, tmp_path: Path) -> None:
    """docs/catalog-gen.md's example: a null removes the memory limit."""
    values = {"models": [{"name": "phi"}], "resources": {"limits": {"memory": None}}}
    (workload,) = [d for d in render(helm, values, tmp_path) if d["kind"] == "Deployment"]
    (server,) = [c for c in workload["spec"]["template"]["spec"]["containers"]]
    assert "memory" not in server["resources"]["limits"]


def test_catalog_gen_reports_a_deleted_value_at_the_null(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf(
                "model: phi\nchartValues:\n  startup: null\n  networkPolicy: {dns: null}\n"
            )
        },
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stderr
    errors = error_lines(outcome.stdout)
    assert [line.split(": error: ")[0] for line in errors] == [
        "catalog/dev/ml/svc.yaml:8:3",
        "catalog/dev/ml/svc.yaml:9:19",
    ]
    assert errors[0].endswith(
        "$.chartValues.startup: chart value startup cannot be deleted: a null in chartValues "
        "removes the chart's default, and the chart's templates need a value here (set one, or "
        "leave the key out to keep the default)"
    )
