"""catalog-gen render/check with the GitOps files: deploy/argocd/ and catalog-info.yaml are
written beside generated/ (atomically, stale files removed) and checked for drift."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from catalog_gen.cli import main
from catalog_gen.emit.argocd import DEPLOY_DIR, deploy_files
from catalog_gen.emit.backstage import ROOT_LOCATION_PATH, root_location_bytes
from catalog_gen.writer import read_tree
from tests.gitops.conftest import CHART_DIR, FIXTURE_CATALOG, Rendered


def run(*arguments: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(arguments), stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def repository(tmp_path: Path) -> tuple[Path, list[str]]:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    options = ["--catalog", str(catalog), "--chart", str(CHART_DIR)]
    return catalog, [*options, "--out", str(tmp_path / "generated")]


def test_render_writes_the_gitops_files_beside_generated(
    tmp_path: Path, rendered: Rendered
) -> None:
    _, options = repository(tmp_path)
    code, output = run("render", *options)
    assert code == 0, output
    assert read_tree(tmp_path / DEPLOY_DIR) == deploy_files(rendered.catalog)
    assert (tmp_path / ROOT_LOCATION_PATH).read_bytes() == root_location_bytes()
    assert read_tree(tmp_path / "generated") == rendered.generated
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]
    code, output = run("check", *options)
    assert code == 0, output


def test_check_reports_stale_and_missing_gitops_files(tmp_path: Path) -> None:
    _, options = repository(tmp_path)
    assert run("render", *options)[0] == 0
    applicationset = tmp_path / DEPLOY_DIR / "applicationset-dev.yaml"
    applicationset.write_text(applicationset.read_text().replace("prune: true", "prune: false"))
    (tmp_path / ROOT_LOCATION_PATH).unlink()
    code, output = run("check", *options)
    assert code == 1
    assert "changed: deploy/argocd/applicationset-dev.yaml" in output.replace(
        str(tmp_path) + "/", ""
    )
    assert "catalog-info.yaml is stale" in output
    assert not (tmp_path / ROOT_LOCATION_PATH).exists()  # check writes nothing


def test_render_removes_the_files_of_a_removed_environment(tmp_path: Path) -> None:
    catalog, options = repository(tmp_path)
    assert run("render", *options)[0] == 0
    assert (tmp_path / DEPLOY_DIR / "applicationset-staging.yaml").is_file()
    shutil.rmtree(catalog / "staging")
    (catalog / "environments" / "staging.yaml").unlink()
    code, output = run("render", *options)
    assert code == 0, output
    assert not list((tmp_path / DEPLOY_DIR).glob("*-staging.yaml"))
    assert (tmp_path / DEPLOY_DIR / "applicationset-dev.yaml").is_file()


def test_an_environment_problem_stops_render_before_anything_is_written(tmp_path: Path) -> None:
    catalog, options = repository(tmp_path)
    environment = catalog / "environments" / "dev.yaml"
    environment.write_text(
        environment.read_text().replace("argocd:\n", "argocd:\n  project: default\n")
    )
    code, output = run("render", *options)
    assert code == 1
    assert "catalog/environments/dev.yaml" in output
    assert "$.argocd.project" in output
    assert not (tmp_path / "generated").exists()
    assert not (tmp_path / DEPLOY_DIR).exists()
    assert not (tmp_path / ROOT_LOCATION_PATH).exists()
