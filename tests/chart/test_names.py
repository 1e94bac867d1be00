"""The chart's resource names: within the limit of each kind, never colliding after a cut, the
same as catalog_gen/check/names.py derives (drift test against helm 3 and helm 4), and refused where
the chart cannot fix them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.names import CHART_NAME, resource_names
from tests.chart.conftest import CHART, render
from tests.support.kube import Document, HelmError

LIMITS = {"StatefulSet": 52}  # every other kind: 63 (a Service name, a label value)
CHART_CONTRACT = ChartContract.load(CHART)

# (release, values) at and around every limit, with and without overrides.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("r", {}),
    ("ollama-inference-load-x", {}),
    ("a" * 53, {}),
    ("a" * 41, {"nameOverride": "n"}),
    ("rel", {"fullnameOverride": "f" * 52, "cache": {"mode": "perReplica"}}),
    ("rel", {"fullnameOverride": "f" * 53, "cache": {"mode": "perReplica"}}),
    ("rel", {"fullnameOverride": "f" * 54, "cache": {"mode": "sharedPVC"}}),
    ("rel", {"fullnameOverride": "f" * 63, "cache": {"mode": "perReplica"}, "replicaCount": 2}),
    (
        "rel",
        {
            "fullnameOverride": "g" * 59,
            "serviceAccount": {"name": "account"},
            "httpRoute": {"enabled": True, "hostnames": ["a.example.com"]},
            "gateway": {
                "enabled": True,
                "className": "eg",
                "tls": {"certificate": {"enabled": True, "issuerRef": {"name": "ca"}}},
            },
            "networkPolicy": {"enabled": True, "ingressFrom": [{"podSelector": {}}]},
        },
    ),
    (
        "rel",
        {
            "fullnameOverride": "h" * 60,
            "ingress": {
                "enabled": True,
                "hosts": [{"host": "a.b"}],
            },
        },
    ),
]


def _names(documents: list[Document]) -> set[tuple[str, str]]:
    """(kind, name) of every rendered object but the scripts ConfigMap, whose name carries a
    hash of its content (test_the_scripts_configmap_is_named_by_its_content)."""
    names = {
        (str(doc["kind"]), str(doc["metadata"]["name"]))
        for doc in documents
        if not (doc["kind"] == "ConfigMap" and "-scripts-" in str(doc["metadata"]["name"]))
    }
    for doc in documents:
        if doc["kind"] == "Certificate":
            names.add(("Secret", str(doc["spec"]["secretName"])))
    return names


@pytest.mark.parametrize(("release", "values"), CASES)
def test_catalog_gen_derives_the_names_helm_renders(
    helm: Path, tmp_path: Path, release: str, values: dict[str, Any]
) -> None:
    documents = render(helm, values, tmp_path, release=release)
    effective = CHART_CONTRACT.effective(values)
    derived = {(item.kind, item.name) for item in resource_names(release, effective, values)}
    assert derived == _names(documents)


@pytest.mark.parametrize(("release", "values"), CASES)
def test_every_name_fits_its_kind_and_every_label_value_fits(
    helm: Path, tmp_path: Path, release: str, values: dict[str, Any]
) -> None:
    for document in render(helm, values, tmp_path, release=release):
        name = str(document["metadata"]["name"])
        assert len(name) <= LIMITS.get(str(document["kind"]), 63), (document["kind"], name)
        assert name[-1].isalnum()
        for value in (document["metadata"].get("labels") or {}).values():
            assert len(str(value)) <= 63


def test_long_names_that_share_a_prefix_derive_different_names(helm: Path, tmp_path: Path) -> None:
    one = _names(
        render(
            helm, {"fullnameOverride": "x" * 62 + "a", "cache": {"mode": "perReplica"}}, tmp_path
        )
    )
    two = _names(
        render(
            helm, {"fullnameOverride": "x" * 62 + "b", "cache": {"mode": "perReplica"}}, tmp_path
        )
    )
    assert len(one) == len(two) == 5  # the scripts ConfigMap aside (named by its content)
    assert not one & two


def test_a_short_name_is_kept_as_it_is(helm: Path, tmp_path: Path) -> None:
    names = _names(
        render(helm, {"fullnameOverride": "svc", "cache": {"mode": "perReplica"}}, tmp_path)
    )
    assert ("StatefulSet", "svc") in names
    assert ("Service", "svc-headless") in names
    assert ("Service", "svc") in names


def test_the_scripts_configmap_is_named_by_its_content(helm: Path, tmp_path: Path) -> None:
    # Running pods read the ConfigMap they started with: a model added to a fixed-name one
    # reached the old pods' probes, which found it missing and held every old pod unready.
    def scripts(values: dict[str, Any]) -> tuple[str, str]:
        documents = render(helm, {"fullnameOverride": "svc", **values}, tmp_path)
        (configmap,) = [doc for doc in documents if doc["kind"] == "ConfigMap"]
        (deployment,) = [doc for doc in documents if doc["kind"] == "Deployment"]
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        (mounted,) = [v["configMap"]["name"] for v in volumes if "configMap" in v]
        return str(configmap["metadata"]["name"]), str(mounted)

    one_name, one_mounted = scripts({"models": [{"name": "phi"}]})
    two_name, two_mounted = scripts({"models": [{"name": "phi"}, {"name": "qwen2.5:0.5b"}]})
    assert re.fullmatch(r"svc-scripts-[0-9a-f]{10}", one_name)
    assert one_name == one_mounted
    assert two_name == two_mounted
    assert one_name != two_name
    assert scripts({"models": [{"name": "phi"}]})[0] == one_name  # the same content, the same name
    long = "x" * 63
    documents = render(helm, {"fullnameOverride": long, "models": [{"name": "phi"}]}, tmp_path)
    (configmap,) = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    assert len(configmap["metadata"]["name"]) <= 63


@pytest.mark.parametrize("release", ["my.release", "1release"])
def test_the_chart_refuses_a_release_name_that_cannot_name_a_service(
    helm: Path, tmp_path: Path, release: str
) -> None:
    with pytest.raises(HelmError, match="is not a DNS-1035 label"):
        render(helm, {}, tmp_path, release=release)


def test_the_schema_refuses_a_full_name_starting_with_a_digit(helm: Path, tmp_path: Path) -> None:
    with pytest.raises(HelmError, match="fullnameOverride"):
        render(helm, {"fullnameOverride": "1svc"}, tmp_path)


def test_the_python_names_use_the_charts_name() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["name"] == CHART_NAME
