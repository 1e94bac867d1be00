"""catalog-gen render/check with the GitOps files: render writes exactly three outputs
(generated/, <gitops root>/deploy/argocd/, <gitops root>/catalog-info.yaml), all or none, stale
files removed; check compares all three."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from catalog_gen.cache import CACHE_DIR
from catalog_gen.cli import main
from catalog_gen.emit.argocd import DEPLOY_DIR, deploy_files
from catalog_gen.emit.backstage import ROOT_LOCATION_PATH, root_location_bytes
from catalog_gen.write.writer import read_tree
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


def test_render_writes_the_gitops_files_at_the_catalogs_parent(
    tmp_path: Path, rendered: Rendered
) -> None:
    _, options = repository(tmp_path)
    code, output = run("render", *options)
    assert code == 0, output
    assert read_tree(tmp_path / DEPLOY_DIR) == deploy_files(rendered.catalog)
    assert (tmp_path / ROOT_LOCATION_PATH).read_bytes() == root_location_bytes()
    assert read_tree(tmp_path / "generated") == rendered.generated
    # Nothing hidden but the cache of unchanged leaves (ignored by git).
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == [CACHE_DIR]
    code, output = run("check", *options)
    assert code == 0, output


def test_the_gitops_files_are_the_same_bytes_from_inside_the_catalog(
    tmp_path: Path, rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--catalog .` from inside the catalog writes what `--catalog catalog` writes from its
    parent: the Argo CD files name their environment file from the catalog's own folder (they
    said `# Source: /environments/dev.yaml`, and diff reported every one changed)."""
    catalog, _ = repository(tmp_path)
    monkeypatch.chdir(catalog)
    options = ["--catalog", ".", "--chart", str(CHART_DIR), "--gitops-root", str(tmp_path)]
    code, output = run("render", *options, "--out", str(tmp_path / "generated"))
    assert code == 0, output
    assert read_tree(tmp_path / DEPLOY_DIR) == deploy_files(rendered.catalog)


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


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root but the cache, which a failed render may still update."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and CACHE_DIR not in path.relative_to(root).parts
    }


def leftovers(root: Path) -> list[Path]:
    """Hidden files and folders under root but the cache."""
    return [path for path in root.rglob(".*") if CACHE_DIR not in path.relative_to(root).parts]


def test_out_elsewhere_writes_nothing_beside_it(tmp_path: Path, rendered: Rendered) -> None:
    catalog, _ = repository(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    options = ["--catalog", str(catalog), "--chart", str(CHART_DIR)]
    code, output = run("render", *options, "--out", str(elsewhere / "x"))
    assert code == 0, output
    assert sorted(path.name for path in elsewhere.iterdir()) == ["x"]
    assert read_tree(elsewhere / "x") == rendered.generated
    # The GitOps files go to the repository root: the catalog's parent.
    assert sorted(path.name for path in (tmp_path / "repo").iterdir()) == [
        CACHE_DIR,
        "catalog",
        "catalog-info.yaml",
        "deploy",
    ]


def test_gitops_root_puts_the_gitops_files_there(tmp_path: Path, rendered: Rendered) -> None:
    _, options = repository(tmp_path)
    root = tmp_path / "site"
    code, output = run("render", *options, "--gitops-root", str(root))
    assert code == 0, output
    assert read_tree(root / DEPLOY_DIR) == deploy_files(rendered.catalog)
    assert (root / ROOT_LOCATION_PATH).read_bytes() == root_location_bytes()
    assert not (tmp_path / "deploy").exists()
    assert not (tmp_path / ROOT_LOCATION_PATH).exists()
    assert run("check", *options, "--gitops-root", str(root))[0] == 0
    assert run("check", *options)[0] == 1  # the default root has none of them


@pytest.mark.parametrize(
    "failing",
    [".generated.", ".argocd.", ".catalog-info.yaml."],
    ids=["generated", "deploy", "location"],
)
def test_a_failed_swap_of_any_output_keeps_every_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    catalog, options = repository(tmp_path)
    assert run("render", *options)[0] == 0
    (tmp_path / ROOT_LOCATION_PATH).write_bytes(
        (tmp_path / ROOT_LOCATION_PATH).read_bytes() + b"# previous\n"
    )
    shutil.rmtree(catalog / "sandbox")  # the next render would drop sandbox/ from generated/
    # deploy/argocd/ would not change otherwise (generated/ is patched: only sandbox/ moves).
    applicationset = sorted((tmp_path / "deploy").rglob("applicationset-*.yaml"))[0]
    applicationset.write_bytes(applicationset.read_bytes() + b"# previous\n")
    before = snapshot(tmp_path)
    real_rename = os.rename

    def rename(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        # Any move into or out of the output's staged copy or backup: the whole output, or (a
        # tree patched in place) one of its files.
        for path in (Path(source), Path(target)):
            if any(part.startswith((f"{failing}tmp-", f"{failing}old-")) for part in path.parts):
                raise OSError(28, "No space left on device", str(path))
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    code, output = run("render", *options)
    monkeypatch.undo()
    assert code == 1  # the environment, not a bug: exit 1 naming the path
    assert "No space left on device" in output
    assert failing in output
    assert snapshot(tmp_path) == before
    assert not leftovers(tmp_path)


def test_a_failure_while_staging_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, options = repository(tmp_path)
    assert run("render", *options)[0] == 0
    shutil.rmtree(catalog / "sandbox")
    before = snapshot(tmp_path)
    real_open = os.open

    def open_(
        path: str | os.PathLike[str], flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int:
        if Path(path).name.startswith(".catalog-info.yaml.tmp-"):
            raise OSError(122, "Disk quota exceeded", str(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_)
    code, output = run("render", *options)
    monkeypatch.undo()
    assert code == 1, output
    assert "Disk quota exceeded" in output
    assert snapshot(tmp_path) == before
    assert not leftovers(tmp_path)


def test_render_refuses_to_replace_a_hand_written_root_catalog_info(tmp_path: Path) -> None:
    _, options = repository(tmp_path)
    (tmp_path / ROOT_LOCATION_PATH).write_text("apiVersion: backstage.io/v1alpha1\nkind: Group\n")
    code, output = run("render", *options)
    assert code == 2
    assert "catalog-gen did not write" in output
    assert not (tmp_path / "generated").exists()
    assert not (tmp_path / "deploy").exists()


def test_render_refuses_outputs_inside_each_other(tmp_path: Path) -> None:
    catalog, _ = repository(tmp_path)
    options = ["--catalog", str(catalog), "--chart", str(CHART_DIR)]
    code, output = run("render", *options, "--out", str(tmp_path / "deploy"))
    assert code == 2
    assert "one is inside the other" in output
    assert not (tmp_path / "deploy").exists()
