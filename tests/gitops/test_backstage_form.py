"""The Backstage form in a real browser: the committed Template's parameters rendered by
react-jsonschema-form with Backstage's validator setup, filled in by a person (with a bad model
name and a host the catalog already routes, then corrected), submitted; Backstage's
fetch:template writes the leaf from the submitted values and `catalog-gen validate` accepts it
in a scratch copy of the catalog. Screenshots go to test-artifacts/backstage-form/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.gitops.test_roundtrip import CHART, TEMPLATE_DIR, cli, fetch_values
from tests.support.backstage import _node, render_skeleton

FORM_SCRIPT = REPO_ROOT / "tests" / "support" / "backstage_form.cjs"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "backstage-form"
TAKEN_HOST = "text.hypermedia.au"  # catalog/dev/ml-workloads/ollama-phi.yaml routes it

STEPS: list[dict[str, Any]] = [
    {"title": "service"},
    {
        "fill": {
            "#root_serviceName": "form-svc",
            "#root_namespace": "team-form",
            "#root_serviceCatalog": "ml-inference",
            "#root_owner": "group:default/ml-platform",
            "#root_description": 'Made in the browser: "quotes", #hash\nand a second line',
        }
    },
    {"select": {"#root_environment": "dev"}},
    {"screenshot": "service-filled"},
    {"next": True},
    {"title": "model"},
    {"fill": {"#root_model": "Bad Model!"}},
    {"next": True},
    {"errors": "bad model"},
    {"screenshot": "bad-model"},
    {"fill": {"#root_model": "qwen2.5:0.5b", "#root_gpu_count": "0"}},
    {"next": True},
    {"title": "exposure"},
    {"fill": {"#root_ingress_host": TAKEN_HOST}},
    {"next": True},
    {"errors": "host without enabled"},
    {"check": "#root_ingress_enabled"},
    {"next": True},
    {"errors": "taken host"},
    {"screenshot": "taken-host"},
    {"fill": {"#root_ingress_host": "form-svc.dev.inference.example.com"}},
    {"next": True},
    {"screenshot": "review"},
]


def chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        pytest.fail(
            "chromium is needed for the Backstage form tests: "
            "sudo apt-get install -y chromium (make bootstrap does it when root)"
        )
    return found


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    template = yaml.safe_load((TEMPLATE_DIR / "template.yaml").read_text())
    request = {
        "parameters": template["spec"]["parameters"],
        "outDir": str(tmp_path_factory.mktemp("form")),
        "screenshotDir": str(SCREENSHOTS),
        "chromium": chromium(),
        "steps": STEPS,
    }
    result = subprocess.run(
        [_node(), str(FORM_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    if result.returncode != 0:
        pytest.fail(f"backstage_form.cjs failed ({result.returncode}):\n{result.stderr}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_the_form_walks_the_template_pages(session: dict[str, Any]) -> None:
    assert session["titles"] == {
        "service": "Step 1 of 3: Service",
        "model": "Step 2 of 3: Model and size",
        "exposure": "Step 3 of 3: Exposure",
    }


def test_a_bad_model_name_is_shown_and_blocks_the_page(session: dict[str, Any]) -> None:
    errors = session["errors"]["bad model"]
    assert errors
    assert all("must match pattern" in error for error in errors)
    assert session["titles"]["exposure"]  # only reached after correcting it


def test_a_host_the_catalog_routes_is_shown_with_its_owner(session: dict[str, Any]) -> None:
    errors = session["errors"]["taken host"]
    assert any(f"{TAKEN_HOST} is already routed by ml-workloads/ollama-phi" in e for e in errors)
    assert session["submitted"] is not None  # the corrected host passes


def test_a_host_without_enabled_is_refused_with_what_to_set(session: dict[str, Any]) -> None:
    # The leaf would lack ingress.enabled, which catalog-gen requires.
    errors = session["errors"]["host without enabled"]
    assert any("set Enabled too" in error for error in errors), errors


def test_screenshots_are_saved(session: dict[str, Any]) -> None:
    for name in ("service-filled", "bad-model", "taken-host", "review"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 1000


def test_the_submitted_values_make_a_leaf_catalog_gen_accepts(
    session: dict[str, Any], tmp_path: Path
) -> None:
    submitted = session["submitted"]
    assert submitted is not None
    assert submitted["ingress"] == {  # no administration: the form fills in no nested default
        "enabled": True,
        "host": "form-svc.dev.inference.example.com",
    }
    files = render_skeleton(TEMPLATE_DIR, fetch_values(submitted))
    leaf_path = "catalog/dev/team-form/form-svc.yaml"
    assert list(files) == [leaf_path]
    assert files[leaf_path].startswith("# yaml-language-server:")  # no blank first line
    assert yaml.safe_load(files[leaf_path])["description"] == submitted["description"]
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", catalog)
    (tmp_path / leaf_path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / leaf_path).write_text(files[leaf_path])
    code, output = cli("validate", "--catalog", str(catalog), "--chart", str(CHART))
    assert code == 0, output
