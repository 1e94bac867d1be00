"""The house rules hold on the whole tree: ruff (lint + format), mypy strict, yamllint, shellcheck.

GitHub Actions run the same through `make lint`; running them here as well means `.ci/run`
(which runs the test suite only) cannot land code that breaks them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / command[0]), *command[1:]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "--no-cache", "."),
        ("ruff", "format", "--check", "--no-cache", "."),
        ("mypy",),
        ("yamllint", "--strict", "."),
    ],
    ids=["ruff", "ruff-format", "mypy", "yamllint"],
)
def test_tree_is_clean(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_scripts_pass_shellcheck() -> None:
    scripts = sorted(str(p) for p in (REPO_ROOT / "charts").glob("*/files/*.sh"))
    assert scripts
    result = run("shellcheck", "--shell=sh", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_scripts_pass_shellcheck() -> None:
    """tools/render_pr.sh is bash (its `# shellcheck shell=bash` overrides .shellcheckrc's sh)."""
    result = run("shellcheck", str(REPO_ROOT / "tools" / "render_pr.sh"))
    assert result.returncode == 0, result.stdout + result.stderr
