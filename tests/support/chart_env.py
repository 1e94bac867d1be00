"""The chart as the lifecycle scripts meet it: the environment it gives each container and the
model lists and load groups of its scripts ConfigMap, from `helm template` (3.19.0), cached.
Used by the scripts' test pod (tests/scripts/conftest.py) and bench/init_pull.py, so both run
the scripts on what the chart renders, never on a copy of its defaults."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
HELM = REPO_ROOT / ".tools" / "helm" / "3.19.0" / "helm"
# What the chart writes into the scripts ConfigMap besides files/.
CONFIG_FILES = re.compile(r"^(models\.tsv|derived\.tsv|groups\.tsv|modelfile-\d+)$")


@functools.cache
def render_chart(values_json: str) -> tuple[dict[str, Any], ...]:
    """`helm template` of the chart with these values (JSON), every document; cached."""
    if not HELM.is_file():
        raise RuntimeError(f"helm 3.19.0 missing at {HELM}: run `make bootstrap`")
    result = subprocess.run(
        [str(HELM), "template", "pod", str(CHART), "-f", "-"],
        input=values_json,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed: {result.stderr}")
    return tuple(d for d in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if d)


def container_env(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The environment the chart gives each container (by name), literal values only."""
    found: dict[str, dict[str, str]] = {}
    for document in render_chart(json.dumps(values, sort_keys=True)):
        if document["kind"] not in ("Deployment", "Pod"):
            continue
        spec = document["spec"].get("template", document)["spec"]
        for item in [*spec.get("initContainers", []), *spec["containers"]]:
            env = item.get("env", [])
            found[item["name"]] = {e["name"]: e["value"] for e in env if "value" in e}
    return found


def chart_config(values: dict[str, Any]) -> dict[str, str]:
    """The model lists, load groups and Modelfiles of the chart's scripts ConfigMap."""
    for document in render_chart(json.dumps(values, sort_keys=True)):
        if document["kind"] == "ConfigMap" and "models.tsv" in document["data"]:
            return {k: v for k, v in document["data"].items() if CONFIG_FILES.match(k)}
    raise AssertionError("the chart rendered no scripts ConfigMap")


def chart_settings() -> dict[str, str]:
    """Every OIL_* variable the chart sets with its default values (any container)."""
    settings: dict[str, str] = {}
    for env in container_env({}).values():
        settings |= {k: v for k, v in env.items() if k.startswith("OIL_")}
    return settings
