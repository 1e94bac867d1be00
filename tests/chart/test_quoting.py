"""Every string the chart writes means the same string to helm's YAML 1.1 reader: hostile
strings (YAML 1.1 booleans, numbers, comments, structure) go into every free-text value the
schema allows and come back unchanged from helm 3 and helm 4."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.chart.conftest import container, render
from tests.support.kube import Document, select
from tests.support.yaml11 import LABEL_HOSTILE, hostile_text, one_line_text

_paths = one_line_text.map(lambda text: "/" + text)


def _env(item: dict[str, Any]) -> dict[str, str]:
    return {env["name"]: env.get("value") for env in item["env"]}


def _mounts(item: dict[str, Any]) -> dict[str, str]:
    return {mount["name"]: mount["mountPath"] for mount in item["volumeMounts"]}


def _render(helm: Path, values: dict[str, Any]) -> list[Document]:
    with tempfile.TemporaryDirectory() as directory:
        return render(helm, values, Path(directory))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a helm run per step: no shrinking
)
@given(
    home=_paths,
    mount=_paths,
    text=hostile_text,
    label=st.sampled_from(LABEL_HOSTILE),
)
def test_free_text_values_round_trip_through_helm(
    helm: Path, *, home: str, mount: str, text: str, label: str
) -> None:
    values = {
        "homeDir": home,
        "cache": {"mountPath": mount},
        "extraEnv": [{"name": "HOSTILE", "value": text}],
        "podAnnotations": {"example.com/hostile": text},
        "service": {"annotations": {"example.com/hostile": text}},
        "commonLabels": {"example.com/hostile": label},
        "backstage": {"kubernetesId": label},
        "httpRoute": {
            "enabled": True,
            "hostnames": ["a.example.com"],
            "parentRefs": [{"name": "gw"}],
        },
    }
    documents = _render(helm, values)
    deployment = select(documents, "Deployment")[0]
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["example.com/hostile"] == text
    for name in ("pull-models", "ollama"):
        item = container(deployment, name)
        env = _env(item)
        assert (env["HOME"], env["OLLAMA_MODELS"], env["HOSTILE"]) == (home, mount, text)
        assert (_mounts(item)["home"], _mounts(item)["models"]) == (home, mount)
    service = select(documents, "Service")[0]
    assert service["metadata"]["annotations"]["example.com/hostile"] == text
    for document in documents:
        labels = document["metadata"]["labels"]
        assert labels["example.com/hostile"] == label
        assert labels["backstage.io/kubernetes-id"] == label


@pytest.mark.parametrize("name", ["y", "n", "on", "off", "no", "yes", "true", "null"])
def test_names_that_yaml_1_1_reads_as_booleans_stay_strings(helm: Path, name: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        documents = render(
            helm,
            {"fullnameOverride": name, "cache": {"mode": "sharedPVC"}},
            Path(directory),
            namespace="on",
        )
    for document in documents:
        assert document["metadata"]["namespace"] == "on"
        assert isinstance(document["metadata"]["name"], str)
        assert document["metadata"]["name"].startswith(name)
    assert select(documents, "Service")[0]["metadata"]["name"] == name
    assert (
        select(documents, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == name
    )
