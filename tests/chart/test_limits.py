"""Bounds the chart's schema puts on its inputs so that what it renders fits what Kubernetes
accepts: every number an int32 (derived ones included), the scripts ConfigMap below 1 MiB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import CHART, container, render
from tests.support.kube import HelmError, select, validate_manifests

INT32_MAX = 2**31 - 1
SCHEMA = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
CONFIGMAP_MAX_BYTES = 1024 * 1024  # data + binaryData values (core.MaxSecretSize)


def maximum(*path: str) -> int:
    """The schema's maximum for the value at path (the owner of every bound)."""
    node = SCHEMA
    for key in path:
        node = node["properties"][key]
    value = node["maximum"]
    assert isinstance(value, int)
    return value


BUDGET_MAX = maximum("startup", "budgetSeconds")
MARGIN_MAX = maximum("startup", "progressMarginSeconds")
TIMEOUT_MAX = maximum("probes", "liveness", "timeoutSeconds")
AT_THE_MAXIMA: dict[str, Any] = {
    "startup": {"budgetSeconds": BUDGET_MAX, "progressMarginSeconds": MARGIN_MAX},
    "probes": {
        "startup": {"periodSeconds": 1, "timeoutSeconds": TIMEOUT_MAX},
        "readiness": {
            "periodSeconds": maximum("probes", "readiness", "periodSeconds"),
            "timeoutSeconds": TIMEOUT_MAX,
            "failureThreshold": maximum("probes", "readiness", "failureThreshold"),
        },
        "liveness": {
            "periodSeconds": maximum("probes", "liveness", "periodSeconds"),
            "timeoutSeconds": TIMEOUT_MAX,
            "failureThreshold": maximum("probes", "liveness", "failureThreshold"),
        },
    },
    "podSecurityContext": {
        "runAsUser": maximum("podSecurityContext", "runAsUser"),
        "runAsGroup": maximum("podSecurityContext", "runAsGroup"),
        "fsGroup": maximum("podSecurityContext", "fsGroup"),
    },
}


def test_numbers_at_the_schema_maxima_fit_int32_and_validate(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, AT_THE_MAXIMA, tmp_path)
    deployment = select(documents, "Deployment")[0]
    assert deployment["spec"]["progressDeadlineSeconds"] == BUDGET_MAX + MARGIN_MAX <= INT32_MAX
    probe = container(deployment, "ollama")["startupProbe"]
    assert probe["failureThreshold"] == BUDGET_MAX <= INT32_MAX
    assert validate_manifests([deployment], ("1.34",)) == []


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"startup": {"budgetSeconds": BUDGET_MAX + 1}}, "/startup/budgetSeconds"),
        ({"startup": {"progressMarginSeconds": MARGIN_MAX + 1}}, "/startup/progressMarginSeconds"),
        ({"probes": {"liveness": {"failureThreshold": INT32_MAX + 1}}}, "/probes/liveness"),
        ({"podSecurityContext": {"runAsUser": INT32_MAX + 1}}, "/podSecurityContext/runAsUser"),
        ({"models": [{"name": f"m{index}"} for index in range(101)]}, "/models"),
        ({"httpRoute": {"hostnames": [f"h{i}.example.com" for i in range(17)]}}, "/httpRoute"),
    ],
)
def test_the_schema_refuses_inputs_past_the_bounds(
    helm: Path, tmp_path: Path, values: dict[str, Any], path: str
) -> None:
    with pytest.raises(HelmError, match=path):
        render(helm, values, tmp_path)


def test_the_largest_model_lists_keep_the_configmap_below_1_mib(helm: Path, tmp_path: Path) -> None:
    name = "r" * 80 + ":" + "t" * 80
    models = [f"{index:03d}{name[3:]}" for index in range(100)]
    # A FROM line, then four bytes per character: the most UTF-8 text a maxLength of 8192 allows.
    modelfiles = [f"FROM {models[index]}\n" for index in range(16)]
    modelfiles = [m + "\U0001f600" * (8192 - len(m)) for m in modelfiles]
    values = {
        "models": [
            {"name": model, "digest": f"{index:064x}", "insecure": True}
            for index, model in enumerate(models)
        ],
        "derivedModels": [
            {"name": f"d{index}", "modelfile": text} for index, text in enumerate(modelfiles)
        ],
    }
    configmap = select(render(helm, values, tmp_path), "ConfigMap")[0]
    size = sum(len(text.encode()) for text in configmap["data"].values())
    assert sum(len(text.encode()) for text in modelfiles) < size < CONFIGMAP_MAX_BYTES
    assert len(configmap["data"]["groups.tsv"].splitlines()) == 1 + 100
