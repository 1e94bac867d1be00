"""checkov on every rendered ci/ scenario: zero failed checks; every skip is justified."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import CHART, SCENARIOS, render_scenario_text
from tests.conftest import REPO_ROOT, helm_binary

CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
CONFIG = CHART / ".checkov.yaml"


def test_checkov_passes_on_every_scenario(tmp_path: Path) -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"checkov missing at {CHECKOV}: run `make test`, which bootstraps it")
    helm = helm_binary("3.19.0")
    for scenario in SCENARIOS:
        (tmp_path / f"{scenario}.yaml").write_text(render_scenario_text(helm, scenario))
    # One run over all scenarios: checkov's start-up dominates its run time.
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CONFIG), "-d", str(tmp_path), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    # At least ServiceAccount, ConfigMap, Service, workload and test Pod per scenario.
    assert summary["resource_count"] >= 5 * len(SCENARIOS)
    assert summary["passed"] > 0
    assert result.returncode == 0, result.stderr


def test_every_skip_is_justified_by_a_comment() -> None:
    lines = CONFIG.read_text().splitlines()
    skips = yaml.safe_load(CONFIG.read_text())["skip-check"]
    assert skips
    for check in skips:
        index = lines.index(f"  - {check}")
        assert lines[index - 1].strip().startswith("#"), f"{check} has no justification above it"


def test_resource_level_skips_carry_a_reason() -> None:
    for template in (CHART / "templates").rglob("*.yaml"):
        for line in template.read_text().splitlines():
            if "checkov.io/skip" in line:
                _, _, value = line.partition(":")
                check, _, reason = value.strip().partition("=")
                assert check.startswith("CKV"), line
                assert len(reason.split()) >= 3, f"{template.name}: {line.strip()} needs a reason"
