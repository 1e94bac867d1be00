"""The GitOps files committed in this repository: up to date with the catalog and the leaf
schema (drift), and valid for Argo CD and Backstage."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.cli import main
from catalog_gen.emit.argocd import DEPLOY_DIR, deploy_files
from catalog_gen.emit.backstage import (
    ROOT_LOCATION_PATH,
    TEMPLATE_DIR,
    root_location_bytes,
    template_tree,
)
from catalog_gen.plan.pipeline import plan_catalog
from catalog_gen.problems import Report
from catalog_gen.write.writer import read_tree
from tests.conftest import REPO_ROOT
from tests.support.backstage import validate_entities
from tests.support.kube import validate_manifests

CHART = REPO_ROOT / "charts" / "ollama-inference-load"


def test_committed_argocd_files_are_what_render_writes() -> None:
    report = Report()
    planned = plan_catalog(REPO_ROOT / "catalog", "catalog", ChartContract.load(CHART), report)
    assert report.ok, report.format_text()
    assert read_tree(REPO_ROOT / DEPLOY_DIR) == deploy_files(planned), (
        "deploy/argocd is stale: run `catalog-gen render`"
    )
    assert (REPO_ROOT / ROOT_LOCATION_PATH).read_bytes() == root_location_bytes()


def test_committed_template_is_generated_from_the_committed_leaf_schema() -> None:
    report = Report()
    planned = plan_catalog(REPO_ROOT / "catalog", "catalog", ChartContract.load(CHART), report)
    leaf_schema = json.loads((REPO_ROOT / "schemas" / "catalog-leaf.schema.json").read_text())
    expected = template_tree(
        leaf_schema, planned.environments, planned.environment_documents, report, planned.plans
    )
    assert expected is not None, report.format_text()
    assert read_tree(REPO_ROOT / TEMPLATE_DIR) == expected, (
        "the Backstage template is stale: run `catalog-gen backstage`"
    )


def test_backstage_check_command_agrees() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "backstage",
            "--check",
            "--catalog",
            str(REPO_ROOT / "catalog"),
            "--chart",
            str(CHART),
            "--out",
            str(REPO_ROOT / TEMPLATE_DIR),
        ],
        stdout=out,
        stderr=err,
    )
    assert code == 0, out.getvalue() + err.getvalue()


def test_backstage_check_command_reports_drift(tmp_path: Path) -> None:
    stale = tmp_path / "template"
    stale.mkdir()
    (stale / "template.yaml").write_text("stale: true\n")
    out, err = io.StringIO(), io.StringIO()
    arguments = ["backstage", "--check", "--catalog", str(REPO_ROOT / "catalog")]
    arguments += ["--chart", str(CHART), "--out", str(stale)]
    assert main(arguments, stdout=out, stderr=err) == 1
    assert err.getvalue().endswith(
        f"run `catalog-gen backstage --catalog {REPO_ROOT / 'catalog'} --chart {CHART} --out "
        f"{stale}` and commit the result\n"
    )
    assert (stale / "template.yaml").read_text() == "stale: true\n"


def test_committed_argocd_files_are_valid_argo_cd_resources(shared_dir: Path) -> None:
    documents = [
        yaml.safe_load(path.read_text()) for path in sorted((REPO_ROOT / DEPLOY_DIR).glob("*"))
    ]
    assert documents
    assert validate_manifests(documents, crd_dir=shared_dir / "crds") == []


def test_committed_backstage_entities_pass_backstage_validation() -> None:
    entities = {
        "template": yaml.safe_load((REPO_ROOT / TEMPLATE_DIR / "template.yaml").read_text()),
        "location": yaml.safe_load((REPO_ROOT / ROOT_LOCATION_PATH).read_text()),
        "template location": yaml.safe_load(
            (REPO_ROOT / TEMPLATE_DIR / "location.yaml").read_text()
        ),
    }
    assert validate_entities(entities) == {name: [] for name in entities}
