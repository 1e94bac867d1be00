"""Bounds the chart's schema puts on its inputs so that what it renders fits what Kubernetes
accepts: every number an int32 (derived ones included), the scripts ConfigMap below 1 MiB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import container, render
from tests.support.kube import HelmError, select, validate_manifests

INT32_MAX = 2**31 - 1
CONFIGMAP_MAX_BYTES = 1024 * 1024  # data + binaryData values (core.MaxSecretSize)

AT_THE_MAXIMA: dict[str, Any] = {
    "startup": {"budgetSeconds": 1_000_000_000, "progressMarginSeconds": 1_000_000_000},
    "probes": {
        "startup": {"periodSeconds": 1, "timeoutSeconds": INT32_MAX},
        "readiness": {
            "periodSeconds": INT32_MAX,
            "timeoutSeconds": INT32_MAX,
            "failureThreshold": INT32_MAX,
        },
        "liveness": {
            "periodSeconds": INT32_MAX,
            "timeoutSeconds": INT32_MAX,
            "failureThreshold": INT32_MAX,
        },
    },
    "podSecurityContext": {"runAsUser": INT32_MAX, "runAsGroup": INT32_MAX, "fsGroup": INT32_MAX},
}


def test_numbers_at_the_schema_maxima_fit_int32_and_validate(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, AT_THE_MAXIMA, tmp_path)
    deployment = select(documents, "Deployment")[0]
    assert deployment["spec"]["progressDeadlineSeconds"] == 2_000_000_000
    probe = container(deployment, "ollama")["startupProbe"]
    assert probe["failureThreshold"] == 1_000_000_000
    assert validate_manifests([deployment], ("1.34",)) == []


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"startup": {"budgetSeconds": 1_000_000_001}}, "/startup/budgetSeconds"),
        ({"startup": {"progressMarginSeconds": 1_000_000_001}}, "/startup/progressMarginSeconds"),
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
        "models": [{"name": model, "digest": "a" * 64, "insecure": True} for model in models],
        "derivedModels": [
            {"name": f"d{index}", "modelfile": text} for index, text in enumerate(modelfiles)
        ],
    }
    configmap = select(render(helm, values, tmp_path), "ConfigMap")[0]
    size = sum(len(text.encode()) for text in configmap["data"].values())
    assert sum(len(text.encode()) for text in modelfiles) < size < CONFIGMAP_MAX_BYTES
    assert len(configmap["data"]["groups.tsv"].splitlines()) == 1 + 100
