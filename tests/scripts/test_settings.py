"""Numeric settings: the chart's values.schema.json owns each bound; the scripts refuse anything
out of their own (wider) range as a configuration error, so the chart can never render a value
the scripts refuse, and no value can overflow the scripts' arithmetic."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, helm_binary
from tests.scripts.conftest import FILES, Pod, run_with

CHART = REPO_ROOT / "charts" / "ollama-inference-load"
# Chart value -> the variable it becomes, and the scripts that parse it.
SETTINGS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("lifecycle", "pollIntervalSeconds"): ("OIL_POLL_INTERVAL_SECONDS", ("pull-models.sh",)),
    ("lifecycle", "serverStartTimeoutSeconds"): (
        "OIL_SERVER_START_TIMEOUT_SECONDS",
        ("pull-models.sh",),
    ),
    ("lifecycle", "serverStopTimeoutSeconds"): (
        "OIL_SERVER_STOP_TIMEOUT_SECONDS",
        ("pull-models.sh",),
    ),
    ("lifecycle", "pullRetries"): ("OIL_PULL_RETRIES", ("pull-models.sh",)),
    ("lifecycle", "pullBackoffSeconds"): ("OIL_PULL_BACKOFF_SECONDS", ("pull-models.sh",)),
    ("lifecycle", "pullBackoffMaxSeconds"): ("OIL_PULL_BACKOFF_MAX_SECONDS", ("pull-models.sh",)),
    ("lifecycle", "pullProgressSeconds"): ("OIL_PULL_PROGRESS_SECONDS", ("pull-models.sh",)),
    ("lifecycle", "pullStallTimeoutSeconds"): (
        "OIL_PULL_STALL_TIMEOUT_SECONDS",
        ("pull-models.sh",),
    ),
    ("lifecycle", "pullAttemptTimeoutSeconds"): (
        "OIL_PULL_ATTEMPT_TIMEOUT_SECONDS",
        ("pull-models.sh",),
    ),
    ("lifecycle", "cliTimeoutSeconds"): (
        "OIL_CLI_TIMEOUT_SECONDS",
        ("pull-models.sh", "probe-ready.sh", "probe-live.sh", "test-models.sh"),
    ),
    ("startup", "budgetSeconds"): (
        "OIL_LOAD_TIMEOUT_SECONDS",
        ("pull-models.sh", "probe-ready.sh"),
    ),
    ("test", "timeoutSeconds"): ("OIL_TEST_TIMEOUT_SECONDS", ("test-models.sh",)),
}
ALL = dict(SETTINGS.values())


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return data


def bound(section: str, key: str) -> tuple[int, int]:
    spec = schema()["properties"][section]["properties"][key]
    assert spec["type"] == "integer"
    return int(spec["minimum"]), int(spec["maximum"])


def render_env(tmp_path: Path, values: dict[str, Any]) -> tuple[int, str, dict[str, str]]:
    """helm template with these values: exit status, stderr and the init container's OIL_*."""
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = subprocess.run(
        [str(helm_binary("3.19.0")), "template", "r", str(CHART), "-f", str(values_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    env: dict[str, str] = {}
    if result.returncode == 0:
        for document in yaml.safe_load_all(result.stdout):
            if document and document["kind"] in ("Deployment", "Pod"):
                spec = document["spec"].get("template", document)["spec"]
                for item in [*spec.get("initContainers", []), *spec["containers"]]:
                    env |= {e["name"]: e["value"] for e in item.get("env", []) if "value" in e}
    return result.returncode, result.stderr, env


def values_at(which: int) -> dict[str, Any]:
    """Every setting at its schema minimum (0) or maximum (1); probes allow the CLI timeout."""
    values: dict[str, Any] = {}
    for section, key in SETTINGS:
        values.setdefault(section, {})[key] = bound(section, key)[which]
    cli = values["lifecycle"]["cliTimeoutSeconds"]
    values["probes"] = {
        p: {"timeoutSeconds": cli + 2} for p in ("startup", "readiness", "liveness")
    }
    return values


def test_every_numeric_variable_the_chart_renders_is_bounded_here() -> None:
    rendered = {var for var, _ in SETTINGS.values()}
    helpers = "".join(path.read_text() for path in sorted((CHART / "templates").glob("_*.tpl")))
    helpers += (CHART / "templates" / "tests" / "test-models.yaml").read_text()
    named = set(re.findall(r"- name: (OIL_[A-Z_]+)", helpers))
    not_numeric = {"OIL_CONFIG_DIR", "OIL_LOAD_KEEPALIVE", "OIL_STATE_DIR", "OIL_VERIFY_BLOBS"}
    not_numeric.add("OIL_SERVER_PID")  # a number, but the chart's own (1), no chart value
    assert named - not_numeric == rendered


@pytest.mark.parametrize("which", [0, 1], ids=["minima", "maxima"])
def test_schema_extremes_render_and_every_script_accepts_them(
    pod: Pod, tmp_path: Path, which: int
) -> None:
    status, errors, env = render_env(tmp_path, values_at(which))
    assert status == 0, errors
    for var, scripts in SETTINGS.values():
        for script in scripts:
            result = run_with(pod, script, {"PATH": "/usr/bin:/bin", var: env[var]})
            assert result.returncode != 2, f"{script} refused {var}={env[var]}: {result.stdout}"
            assert var not in result.stdout + result.stderr


@pytest.mark.parametrize(("section", "key"), list(SETTINGS))
def test_schema_refuses_one_past_each_bound(tmp_path: Path, section: str, key: str) -> None:
    low, high = bound(section, key)
    for value in (low - 1, high + 1):
        values = values_at(1)
        values[section][key] = value
        status, errors, _ = render_env(tmp_path, values)
        assert status != 0, f"{section}.{key}={value} rendered"
        assert key in errors


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999", "18446744073709551616.5", "604801", "0", "0.0001", "-1", "1e3"],
)
@pytest.mark.parametrize("variable", sorted(ALL))
def test_out_of_range_values_are_a_configuration_error(pod: Pod, variable: str, value: str) -> None:
    if variable == "OIL_PULL_RETRIES" and value in ("604801", "0.0001"):
        value = "1001"
    for script in ALL[variable]:
        result = run_with(pod, script, {variable: value})
        assert result.returncode == 2, f"{script} accepted {variable}={value!r}"
        assert f"{variable}={value} is not" in result.stdout
        assert "server_pid" not in pod.state(), "something started despite a bad setting"


def test_every_bad_setting_is_reported_in_one_run(pod: Pod) -> None:
    result = pod.run(
        "pull-models.sh", OIL_PULL_RETRIES="0", OIL_POLL_INTERVAL_SECONDS="1" + "0" * 30
    )
    assert result.returncode == 2
    assert "OIL_PULL_RETRIES=0 is not a whole number between 1 and 1000" in result.stdout
    assert "OIL_POLL_INTERVAL_SECONDS=1000" in result.stdout


@pytest.mark.parametrize("script", ["pull-models.sh", "test-models.sh"])
def test_bad_settings_and_bad_model_lines_are_reported_in_one_run(pod: Pod, script: str) -> None:
    (pod.config_dir / "models.tsv").write_text("bad name!\t-1s\n")
    result = pod.run(script, OIL_CLI_TIMEOUT_SECONDS="0")
    assert result.returncode == 2
    assert "OIL_CLI_TIMEOUT_SECONDS=0 is not a number of seconds" in result.stdout
    assert "configuration: models.tsv:1: expected 5 tab-separated fields" in result.stdout
    assert "server_pid" not in pod.state(), "something started despite a bad setting"


def test_largest_accepted_values_do_not_overflow() -> None:
    script = (
        f'. "{FILES / "lib.sh"}"; oil_seconds_setting X 604800; oil_ms_to_s "$OIL_MS"; '
        'echo "$OIL_MS $OIL_S"'
    )
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == "604800000 604800.000\n"
