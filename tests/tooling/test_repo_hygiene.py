"""Repository-level checks: workflows lint clean, CI entry point is sane, layout is complete."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent


def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "actionlint"), "-no-color"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Guards the test above against an actionlint that accepts anything."""
    workflow = tmp_path / "broken.yaml"
    workflow.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo ${{ github.nonexistent_context_key }}\n"
    )
    result = subprocess.run(
        [str(VENV_BIN / "actionlint"), "-no-color", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "nonexistent_context_key" in result.stdout


def test_actions_are_pinned_to_a_version() -> None:
    for workflow in sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml")):
        document = yaml.safe_load(workflow.read_text())
        for job in document["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses:
                    ref = uses.partition("@")[2]
                    assert re.fullmatch(r"v\d+\.\d+\.\d+", ref), (
                        f"{workflow.name}: {uses} is not pinned to a full version"
                    )


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert "\nmake test " in ci or "\nmake test\n" in ci
    assert "set -euo pipefail" in ci


def test_product_layout_exists() -> None:
    for path in (
        "charts/ollama-inference-load",
        "catalog",
        "src/catalog_gen",
        "schemas",
        "tests",
        ".github/workflows",
        "README.md",
        "pyproject.toml",
        "uv.lock",
    ):
        assert (REPO_ROOT / path).exists(), path


def test_tool_folders_are_ignored() -> None:
    # ".tools" itself too: a worktree may hold it as a symbolic link, which "dir/" rules miss.
    for path in (".tools", ".venv"):
        outcome = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=REPO_ROOT, check=False
        )
        assert outcome.returncode == 0, f"{path} is not ignored"


# Built from parts, so this file does not hold the markers it looks for.
CONFLICT_MARKER = re.compile("^(" + "<" * 7 + "|" + ">" * 7 + ") ", re.MULTILINE)


def marker_lines(text: str) -> list[int]:
    """Lines (1-based) that open or close a merge conflict."""
    return [text.count("\n", 0, match.start()) + 1 for match in CONFLICT_MARKER.finditer(text)]


def test_no_merge_conflict_markers_are_committed() -> None:
    """A conflict left in a doc or a fixture passes every other test (one reached docs once)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    found = []
    for name in filter(None, listed.split("\0")):
        path = REPO_ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue  # binary files, submodules, files deleted in the work tree
        found += [f"{name}:{line}" for line in marker_lines(text)]
    assert found == []


def test_the_conflict_marker_check_finds_a_marker() -> None:
    """Guards the test above against a pattern that matches nothing."""
    text = "a\n" + "<" * 7 + " HEAD\nb\n" + "=" * 7 + "\nc\n" + ">" * 7 + " other\n"
    assert marker_lines(text) == [2, 6]
    assert marker_lines("<< not a marker\n" + "<" * 7 + "no space\n") == []
