"""tools/render_chart.py: one line per service, non-zero exit when the chart refuses one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, helm_binary
from tools import render_chart


def test_summary_per_service_and_failure_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "dev/ml-workloads/ollama-phi/values.yaml"
    good.parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "generated/dev/ml-workloads/ollama-phi/values.yaml", good)
    arguments = ["--generated", str(tmp_path), "--helm", str(helm_binary("3.19.0"))]
    assert render_chart.main(arguments) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "ok   dev/ml-workloads/ollama-phi: ConfigMap, Deployment, HTTPRoute, Pod, Service, "
        "ServiceAccount"
    )
    bad = tmp_path / "dev/ml/broken/values.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("replicaCount: -1\n")
    assert render_chart.main(arguments) == 1
    output = capsys.readouterr().out
    assert "FAIL dev/ml/broken: " in output
    assert "replicaCount" in output
    assert output.endswith("1/2 services render with the chart\n")
