"""tools/render_chart.py (`make run`): one line per service, strict validation, non-zero exit
when the chart refuses a values file or renders an invalid manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED_ENV, helm_binary
from tools import render_chart

PHI_VALUES = REPO_ROOT / "generated/dev/ml-workloads/ollama-phi/values.yaml"
# The shipped leaf autoscales with the KEDA HTTP add-on (docs/autoscaling.md).
PHI_KINDS = (
    "ConfigMap, Deployment, HTTPRoute, InterceptorRoute, NetworkPolicy, Pod, PodDisruptionBudget, "
    "ReferenceGrant, "
    "ScaledObject, Service, ServiceAccount"
)


SUMMARY = (
    "services render with the chart into valid manifests (Kubernetes 1.29-1.34, strict; the API "
    "server's validation, 1.34)"
)


def arguments(generated: Path, *extra: str) -> list[str]:
    return ["--generated", str(generated), "--helm", str(helm_binary("3.19.0")), *extra]


def _service_chart(tmp_path: Path, spec: str) -> list[str]:
    """render_chart's arguments for a chart of one Service with spec (YAML lines under spec:)
    and one service's (empty) values file."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "service.yaml").write_text(
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  {spec}"
    )
    generated = tmp_path / "generated"
    values = generated / "dev/ml/svc/values.yaml"
    values.parent.mkdir(parents=True)
    values.write_text("{}\n")
    return arguments(generated, "--chart", str(chart))


def copy_phi(generated: Path) -> None:
    target = generated / "dev/ml-workloads/ollama-phi/values.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(PHI_VALUES, target)


def test_validated_summary_per_service_with_the_crds(
    tmp_path: Path,
    shared_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(SHARED_ENV, str(shared_dir))
    copy_phi(tmp_path)
    assert render_chart.main(arguments(tmp_path)) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok   dev/ml-workloads/ollama-phi: {PHI_KINDS}",
        f"1/1 {SUMMARY}",
    ]


def test_custom_resources_without_crds_are_named_not_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "no-shared-here"))
    generated = tmp_path / "generated"
    copy_phi(generated)
    assert render_chart.main(arguments(generated)) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"ok   dev/ml-workloads/ollama-phi: {PHI_KINDS} "
        "(HTTPRoute, InterceptorRoute, ReferenceGrant, ScaledObject not validated: no CRD "
        f"folder, set {SHARED_ENV})"
    )


def test_a_values_file_the_chart_refuses_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_phi(tmp_path)
    bad = tmp_path / "dev/ml/broken/values.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("replicaCount: -1\n")
    assert render_chart.main(arguments(tmp_path)) == 1
    output = capsys.readouterr().out
    assert "FAIL dev/ml/broken: " in output
    assert "replicaCount" in output
    assert output.endswith(f"1/2 {SUMMARY}\n")


def test_an_invalid_manifest_fails_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chart that renders a field Kubernetes does not know: helm is happy, the check is not."""
    spec = "ports: [{port: 80}]\n  replicas: 3\n"
    assert render_chart.main(_service_chart(tmp_path, spec)) == 1
    output = capsys.readouterr().out
    assert "FAIL dev/ml/svc: invalid manifests:" in output
    assert "replicas" in output


def test_a_manifest_only_the_api_server_refuses_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every field known and well typed (the OpenAPI schemas pass it), but a Service port name
    that is no DNS label: kube-apiserver's own validation refuses it."""
    spec = "ports: [{name: Web_Port, port: 80}]\n"
    assert render_chart.main(_service_chart(tmp_path, spec)) == 1
    output = capsys.readouterr().out
    assert "FAIL dev/ml/svc: invalid manifests:" in output
    assert "Service/x: spec.ports[0].name: Invalid value" in output
