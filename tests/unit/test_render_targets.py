"""render, backstage and schema refuse any target that holds sources or anything catalog-gen did
not write: exit 2, the path named, nothing written anywhere."""

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
