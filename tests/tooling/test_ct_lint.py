"""tools/ct_lint.py: the local `ct lint` passes on the repository and catches what ct catches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools import ct_lint

CHART = "charts/ollama-inference-load"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """A git repo holding a copy of the chart and the ct configuration, committed on main."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / CHART, repo / CHART)
    for name in ("ct.yaml", "lintconf.yaml", "chart_schema.yaml"):
        shutil.copy(REPO_ROOT / name, repo / name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "c")
    return repo


def lint(repo: Path) -> list[str]:
    return ct_lint.lint(repo, repo / "ct.yaml", REPO_ROOT / ".tools" / "helm", None).lines


def test_repository_charts_pass() -> None:
    assert ct_lint.main(["--repo", str(REPO_ROOT)]) == 0


def test_unchanged_chart_passes(scratch_repo: Path) -> None:
    assert lint(scratch_repo) == []


def test_change_without_version_bump_fails(scratch_repo: Path) -> None:
    values = scratch_repo / CHART / "values.yaml"
    values.write_text(values.read_text() + "\n")
    assert any("bump `version`" in line for line in lint(scratch_repo))


def test_change_with_version_bump_passes(scratch_repo: Path) -> None:
    chart_yaml = scratch_repo / CHART / "Chart.yaml"
    text = chart_yaml.read_text()
    version_line = next(line for line in text.splitlines() if line.startswith("version:"))
    major, minor, patch = version_line.split(":", 1)[1].strip().strip('"').split(".")
    chart_yaml.write_text(text.replace(version_line, f"version: {major}.{minor}.{int(patch) + 1}"))
    assert lint(scratch_repo) == []


def test_missing_maintainers_and_schema_errors_are_reported(scratch_repo: Path) -> None:
    chart_yaml = scratch_repo / CHART / "Chart.yaml"
    kept = [
        line
        for line in chart_yaml.read_text().splitlines()
        if not line.startswith(("maintainers", "  -", "    "))
    ]
    chart_yaml.write_text("\n".join([*kept, "unknownField: x", "version_bumped: no"]) + "\n")
    findings = "\n".join(lint(scratch_repo))
    assert "at least one maintainer is required" in findings
    assert "unknownField" in findings


def test_yamllint_problems_are_reported(scratch_repo: Path) -> None:
    values = scratch_repo / CHART / "values.yaml"
    values.write_text(values.read_text() + "trailing: spaces   \n")
    assert any("trailing-spaces" in line for line in lint(scratch_repo))


def test_helm_lint_failure_is_reported(scratch_repo: Path) -> None:
    ci = scratch_repo / CHART / "ci"
    ci.mkdir(exist_ok=True)
    (ci / "broken-values.yaml").write_text("replicaCount: not-a-number\n")
    assert any("lint --strict (broken-values.yaml) failed" in line for line in lint(scratch_repo))


def test_a_clone_on_another_branch_compares_with_the_remotes_target_branch(
    scratch_repo: Path, tmp_path: Path
) -> None:
    """As ct does: origin/main, which a clone has whatever branch it checked out (a clone made
    with -b has no local main)."""
    git(scratch_repo, "branch", "feature")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "feature", str(scratch_repo), str(clone))
    assert lint(clone) == []
    values = clone / CHART / "values.yaml"
    values.write_text(values.read_text() + "\n")
    assert any("chart changed since origin/main" in line for line in lint(clone))
