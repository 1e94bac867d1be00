"""The validation library itself: it must reject what an API server with strict field
validation rejects, and refuse kinds it cannot check."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import render_scenario
from tests.conftest import helm_binary
from tests.support.kube import load_documents, select, validate_manifests


@pytest.fixture(scope="module")
def gateway_documents() -> list[dict[str, Any]]:
    return render_scenario(helm_binary("3.19.0"), "httproute-gateway-tls")


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(select(documents, kind)[0])


def test_unknown_field_in_builtin_kind_is_rejected_for_each_version(
    gateway_documents: list[dict[str, Any]],
) -> None:
    deployment = one(gateway_documents, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    errors = validate_manifests([deployment], ("1.29", "1.34"))
    assert len(errors) == 2
    assert all("'livenesProbe' was unexpected" in error for error in errors)
    assert "Kubernetes 1.29" in errors[0]
    assert "Kubernetes 1.34" in errors[1]


def test_wrong_type_in_builtin_kind_is_rejected(gateway_documents: list[dict[str, Any]]) -> None:
    service = one(gateway_documents, "Service")
    service["spec"]["ports"][0]["port"] = "http"
    errors = validate_manifests([service], ("1.34",))
    assert len(errors) == 1
    assert "spec.ports.0.port" in errors[0]


def test_unknown_field_in_custom_resource_is_rejected(
    gateway_documents: list[dict[str, Any]], shared_dir: Path
) -> None:
    route = one(gateway_documents, "HTTPRoute")
    route["spec"]["rules"][0]["timeout"] = "10s"
    certificate = one(gateway_documents, "Certificate")
    certificate["spec"]["issuerRef"]["namespace"] = "x"
    errors = validate_manifests([route, certificate], ("1.34",), shared_dir / "crds")
    assert len(errors) == 2
    assert "HTTPRoute" in errors[0]
    assert "'timeout' was unexpected" in errors[0]
    assert "Certificate" in errors[1]
    assert "'namespace' was unexpected" in errors[1]


def test_custom_resource_metadata_is_checked_with_object_meta(
    gateway_documents: list[dict[str, Any]], shared_dir: Path
) -> None:
    gateway = one(gateway_documents, "Gateway")
    gateway["metadata"]["label"] = {"a": "b"}
    errors = validate_manifests([gateway], ("1.34",), shared_dir / "crds")
    assert errors == [
        f"gateway.networking.k8s.io/v1 Gateway/{gateway['metadata']['name']} "
        "(Kubernetes 1.34 ObjectMeta): metadata: Additional properties are not allowed "
        "('label' was unexpected)"
    ]


def test_preserve_unknown_fields_stay_open(shared_dir: Path) -> None:
    application: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "demo", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
            "source": {
                "repoURL": "https://example.com/repo.git",
                "path": "charts/demo",
                "helm": {"valuesObject": {"anything": {"nested": [1, 2]}}},
            },
        },
    }
    assert validate_manifests([application], ("1.34",), shared_dir / "crds") == []
    application["spec"]["source"]["helm"]["valueObject"] = {}
    errors = validate_manifests([application], ("1.34",), shared_dir / "crds")
    assert len(errors) == 1
    assert "'valueObject' was unexpected" in errors[0]


def test_unknown_kind_is_an_error_not_a_pass(shared_dir: Path) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    errors = validate_manifests([widget], ("1.30",), shared_dir / "crds")
    assert len(errors) == 1
    assert "unknown kind" in errors[0]


def test_custom_resource_without_crd_dir_is_an_error(
    gateway_documents: list[dict[str, Any]],
) -> None:
    errors = validate_manifests([one(gateway_documents, "HTTPRoute")], ("1.34",))
    assert len(errors) == 1
    assert "unknown kind" in errors[0]


def test_kind_removed_from_an_api_version_is_an_error() -> None:
    legacy = {
        "apiVersion": "policy/v1beta1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "x"},
        "spec": {"maxUnavailable": 1},
    }
    errors = validate_manifests([legacy], ("1.29",))
    assert len(errors) == 1
    assert "unknown kind" in errors[0]


def test_duplicate_keys_in_rendered_yaml_are_rejected() -> None:
    with pytest.raises(Exception, match="duplicate key 'name'"):
        load_documents("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n")


def test_empty_documents_are_dropped() -> None:
    assert load_documents("---\n---\na: 1\n") == [{"a": 1}]


def test_plain_equals_sign_and_merge_marker_values_are_strings() -> None:
    """helm writes `=` and `<<` unquoted; SafeLoader cannot construct them (YAML 1.1)."""
    text = "data:\n  a: =\n  b: '='\n  c: <<\n"
    assert load_documents(text) == [{"data": {"a": "=", "b": "=", "c": "<<"}}]


def test_a_merge_key_still_merges() -> None:
    text = "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n"
    assert load_documents(text)[0]["derived"] == {"x": 1, "y": 2}
