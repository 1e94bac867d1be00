"""The shipped scripts are POSIX sh: shellcheck (as sh) finds nothing, dash parses them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from tests.scripts.conftest import FILES, SCRIPTS

SHELLCHECK = REPO_ROOT / ".venv" / "bin" / "shellcheck"


def test_the_chart_ships_exactly_these_scripts() -> None:
    assert sorted(p.name for p in FILES.glob("*.sh")) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_finds_nothing(script: str) -> None:
    result = subprocess.run(
        [str(SHELLCHECK), "--shell=sh", "--external-sources", "--severity=style", script],
        cwd=FILES,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("script", SCRIPTS)
def test_dash_parses_it(script: str) -> None:
    dash = shutil.which("dash")
    assert dash, "dash (the image's /bin/sh) is needed to check the scripts"
    result = subprocess.run(
        [dash, "-n", str(FILES / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
