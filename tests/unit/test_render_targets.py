"""render, backstage and schema refuse any target that holds sources or anything catalog-gen did
not write: exit 2, the path named, nothing written anywhere; check names what render refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from catalog_gen.cache import CACHE_DIR
from tests.conftest import REPO_ROOT
from tests.unit.helpers import CHART, leaf, make_catalog, run_cli


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under root but the cache (render may update it even when it refuses)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
        if CACHE_DIR not in path.relative_to(root).parts
    }


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """catalog/, a copy of the chart, a .git folder, and the outputs of one render."""
    # The shipped environments: they have argocd (deploy/argocd/) and a repoURL (backstage).
    make_catalog(
        tmp_path,
        {"dev/ml/svc.yaml": leaf()},
        environments=REPO_ROOT / "catalog" / "environments",
    )
    shutil.copytree(CHART, tmp_path / "chart")
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert run_cli(tmp_path, "render", chart=tmp_path / "chart").code == 0
    return tmp_path


@pytest.mark.parametrize("gitops_root", ["afile", "afile/sub"])
def test_a_target_that_cannot_be_made_leaves_no_folder_made_for_another(
    repository: Path, gitops_root: str
) -> None:
    # --out's new parents are made first; --gitops-root's then fails on a file in its way.
    (repository / "afile").write_text("not a folder\n")
    before = tree(repository)
    outcome = run_cli(
        repository,
        "render",
        "--out",
        "new1/new2/gen",
        "--gitops-root",
        gitops_root,
        chart=repository / "chart",
    )
    assert outcome.code == 1, outcome.stderr
    assert "cannot write afile" in outcome.stderr
    assert tree(repository) == before


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--out", "catalog/environments"], "catalog/environments"),
        (["--out", "catalog/dev"], "catalog/dev"),
        (["--out", "catalog/brand-new"], "catalog/brand-new"),
        (["--out", "catalog"], "catalog"),
        (["--out", "chart/templates"], "chart/templates"),
        (["--out", ".git"], ".git"),
        (["--out", ".git/objects"], ".git/objects"),
        (["--out", "."], "."),
        (["--out", "deploy"], "deploy"),
        (["--gitops-root", "catalog"], "catalog/deploy/argocd"),
        (["--gitops-root", "catalog/dev"], "catalog/dev/deploy/argocd"),
        (["--gitops-root", "generated"], "generated"),
        (["--gitops-root", "chart"], "chart/deploy/argocd"),
    ],
)
def test_render_refuses_a_target_in_or_around_the_sources(
    repository: Path, options: list[str], named: str
) -> None:
    before = tree(repository)
    outcome = run_cli(repository, "render", *options, chart=repository / "chart")
    assert outcome.code == 2, outcome.stderr
    assert outcome.stderr.startswith("catalog-gen: refusing to "), outcome.stderr
    assert named in outcome.stderr
    assert tree(repository) == before


@pytest.mark.parametrize(
    "foreign",
    ["deploy/argocd/my-app.yaml", "generated/dev/README.md", "generated/dev/ml/svc/extra.json"],
)
def test_render_refuses_to_delete_a_hand_written_file_in_an_output(
    repository: Path, foreign: str
) -> None:
    (repository / foreign).write_text("kind: Application  # mine\n")
    before = tree(repository)
    (repository / "catalog/dev/ml/svc.yaml").write_text(leaf("model: phi:3.8b\n"))
    before["catalog/dev/ml/svc.yaml"] = (repository / "catalog/dev/ml/svc.yaml").read_bytes()
    outcome = run_cli(repository, "render", chart=repository / "chart")
    assert outcome.code == 2
    assert f"catalog-gen did not write {foreign}" in outcome.stderr
    assert tree(repository) == before


@pytest.mark.parametrize(
    ("foreign", "options"),
    [
        ("generated/dev/README.md", []),
        ("generated/dev/ml/svc/extra.json", []),
        ("generated/dev/ml/svc/values.yaml", []),  # a generated file edited without its marker
        ("deploy/argocd/my-app.yaml", []),
        ("generated/dev/README.md", ["--no-cache"]),
        ("generated/dev/README.md", ["--jobs", "2"]),  # walked while the catalog is planned
    ],
)
def test_check_names_a_file_render_refuses_to_replace_and_says_so(
    repository: Path, foreign: str, options: list[str]
) -> None:
    """check and render agree: what render will not replace, check does not call removed (nor
    tell to run render) but names it, and says that render refuses until it is moved away."""
    (repository / foreign).write_text("kind: Application  # mine\n")
    outcome = run_cli(repository, "check", *options, chart=repository / "chart")
    assert outcome.code == 1
    tree_name = "deploy/argocd" if foreign.startswith("deploy/") else "generated"
    # The command to run is the one this check was given options for (run_cli passes --chart).
    render = f"catalog-gen render --chart {repository / 'chart'}"
    assert outcome.stderr.endswith(
        f"{tree_name} is not what `{render}` would write:\n"
        f"  not written by catalog-gen: {foreign}\n"
        f"`{render}` refuses to replace {tree_name} while it holds files catalog-gen "
        "did not write (every file it writes starts with a 'Code generated by catalog-gen ... "
        f"DO NOT EDIT.' line): move them away, then run `{render}` and commit the "
        "result\n"
    )
    rendered = run_cli(repository, "render", chart=repository / "chart")
    assert rendered.code == 2
    assert f"catalog-gen did not write {foreign}" in rendered.stderr


def test_check_names_a_root_location_file_render_refuses_to_replace(repository: Path) -> None:
    (repository / "catalog-info.yaml").write_text("apiVersion: backstage.io/v1alpha1\n")
    outcome = run_cli(repository, "check", chart=repository / "chart")
    assert outcome.code == 1
    assert outcome.stderr.endswith(
        "catalog-info.yaml: catalog-gen did not write catalog-info.yaml (every file it writes "
        "starts with a 'Code generated by catalog-gen ... DO NOT EDIT.' line); `catalog-gen "
        "render` refuses to replace it until it is moved away\n"
    )
    assert "stale" not in outcome.stderr
    rendered = run_cli(repository, "render", chart=repository / "chart")
    assert rendered.code == 2
    assert "catalog-gen did not write catalog-info.yaml" in rendered.stderr


@pytest.mark.parametrize(
    ("command", "out"),
    [
        *[("backstage", out) for out in ("catalog/dev", "chart/templates", ".git", ".")],
        # schema writes two files and replaces no directory; it has no --chart option
        *[("schema", out) for out in ("catalog/dev", "catalog", ".git/objects")],
    ],
)
def test_backstage_and_schema_refuse_the_sources_too(
    repository: Path, command: str, out: str
) -> None:
    before = tree(repository)
    arguments = [command, "--out", out]
    if command == "backstage":
        arguments += ["--catalog", "catalog", "--chart", str(repository / "chart")]
    outcome = run_cli(repository, *arguments)
    assert outcome.code == 2, outcome.stderr
    assert "refusing to" in outcome.stderr
    assert tree(repository) == before


@pytest.mark.parametrize("make", ["file", "link"])
def test_backstage_check_names_what_backstage_refuses_to_replace(
    repository: Path, make: str
) -> None:
    arguments = ["backstage", "--out", "template", "--catalog", "catalog"]
    assert run_cli(repository, *arguments, chart=repository / "chart").code == 0
    if make == "file":
        (repository / "template" / "NOTES.md").write_text("mine\n")
    else:
        (repository / "template").rename(repository / "moved")
        (repository / "template").symlink_to(repository / "moved")
    outcome = run_cli(repository, *arguments, "--check", chart=repository / "chart")
    assert outcome.code == 1
    if make == "file":
        assert "  not written by catalog-gen: template/NOTES.md\n" in outcome.stderr
        # The hint keeps the options that place the template (--out) and shape it.
        backstage = f"catalog-gen backstage --catalog catalog --chart {repository / 'chart'}"
        assert f"`{backstage} --out template` refuses to replace template while" in (outcome.stderr)
        assert outcome.stderr.endswith(f"run `{backstage} --out template` and commit the result\n")
    else:
        assert outcome.stderr.endswith(
            "template: it is a symbolic link; `catalog-gen backstage` refuses to replace it "
            "until it is moved away\n"
        )
    refused = run_cli(repository, *arguments, chart=repository / "chart")
    assert refused.code == 2
