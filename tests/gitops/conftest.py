"""A fixture catalog (four environments: git-path, OCI and Helm-repository charts, one without
Argo CD) planned and rendered once per session with the real pipeline and emitters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.emit import render_tree
from catalog_gen.emit.argocd import deploy_files, emit_app_json
from catalog_gen.emit.backstage import emit_catalog_info, root_location_bytes
from catalog_gen.emit.values import emit_values
from catalog_gen.plan.pipeline import CatalogPlan, plan_catalog
from catalog_gen.problems import Report
from tests.conftest import REPO_ROOT

FIXTURE_CATALOG = Path(__file__).parent / "fixtures" / "catalog"
CHART_DIR = REPO_ROOT / "charts" / "ollama-inference-load"


def plan(catalog_dir: Path) -> tuple[CatalogPlan, Report]:
    report = Report()
    planned = plan_catalog(catalog_dir, "catalog", ChartContract.load(CHART_DIR), report)
    return planned, report


@dataclass(frozen=True)
class Rendered:
    catalog: CatalogPlan
    report: Report
    generated: dict[PurePosixPath, bytes]  # relative to generated/
    deploy: dict[PurePosixPath, bytes]  # relative to deploy/argocd/
    root_location: bytes

    def app_records(self) -> dict[str, dict[str, Any]]:
        """{path of app.json relative to the repository: its content}."""
        return {
            f"generated/{path}": json.loads(content)
            for path, content in self.generated.items()
            if path.name == "app.json"
        }

    def yaml(self, path: PurePosixPath) -> dict[str, Any]:
        content = self.generated.get(path) or self.deploy[path]
        data = yaml.safe_load(content)
        assert isinstance(data, dict)
        return data


def render(catalog_dir: Path) -> Rendered:
    catalog, report = plan(catalog_dir)
    assert report.ok, report.format_text()
    tree = render_tree(
        catalog,
        service_emitters=[emit_values, emit_app_json, emit_catalog_info],
        environment_emitters=[],
    )
    generated = {PurePosixPath(name): content for name, content in tree.items()}
    return Rendered(catalog, report, generated, deploy_files(catalog), root_location_bytes())


@pytest.fixture(scope="session")
def rendered() -> Rendered:
    return render(FIXTURE_CATALOG)
