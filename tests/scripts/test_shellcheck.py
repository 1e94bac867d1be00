"""The shipped scripts are POSIX sh: shellcheck (as sh, with the optional check for masked
return values from the repository's .shellcheckrc) finds nothing, dash parses them, and no
script calls a function before defining it."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("script", ["tools/render_pr.sh", "tools/diff_pr.sh"])
def test_shellcheck_finds_nothing_in_the_pull_request_scripts(script: str) -> None:
    """The CI's bash scripts, as `make lint` checks them, so CI does too."""
    result = subprocess.run(
        [str(SHELLCHECK), "--severity=style", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_dash_parses_it(script: str) -> None:
    dash = shutil.which("dash")
    assert dash, "dash (the image's /bin/sh) is needed to check the scripts"
    result = subprocess.run(
        [dash, "-n", str(FILES / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


MASKED = 'report() { echo "$1"; }\nreport "$(false)"\n'


def test_every_shellcheck_run_gets_the_masked_return_check() -> None:
    """.shellcheckrc is found from the scripts' folder, so make lint, pre-commit and the tests
    all run SC2312; none of them may skip it with --norc or another rc file."""
    result = subprocess.run(
        [str(SHELLCHECK), "-"], input=MASKED, cwd=FILES, capture_output=True, text=True, check=False
    )
    assert "SC2312" in result.stdout, result.stdout
    plain = subprocess.run(
        [str(SHELLCHECK), "--norc", "--shell=sh", "-"],
        check=False,
        input=MASKED,
        cwd=FILES,
        capture_output=True,
        text=True,
    )
    assert "SC2312" not in plain.stdout, "the check is optional: only the rc file enables it"
    for place in ("Makefile", ".pre-commit-config.yaml", "tests/tooling/test_lint.py"):
        text = (REPO_ROOT / place).read_text()
        assert "shellcheck" in text, place
        assert "--norc" not in text
        assert "--rcfile" not in text


DEFINITION = re.compile(r"^([a-z_][a-z0-9_]*)\(\) \{")


def _defined_and_called(lines: list[str]) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Function definitions (name -> line) and the top-level lines outside function bodies."""
    defined: dict[str, int] = {}
    top_level: list[tuple[int, str]] = []
    inside = False
    for number, line in enumerate(lines, 1):
        if match := DEFINITION.match(line):
            defined[match[1]] = number
            inside = not line.rstrip().endswith("}")
        elif inside:
            inside = line != "}"
        elif not line.lstrip().startswith("#"):
            top_level.append((number, line))
    return defined, top_level


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s != "lib.sh"])
def test_no_function_is_called_before_its_definition(script: str) -> None:
    """sh runs a script top to bottom: a call above the definition fails with "not found" (a
    loader once called write_lock before it was defined, and the error went unseen)."""
    defined, top_level = _defined_and_called((FILES / script).read_text().splitlines())
    early = [
        f"{script}:{number}: {word} is defined on line {defined[word]}"
        for number, line in top_level
        for word in re.findall(r"[a-z_][a-z0-9_]*", line)
        if word in defined and defined[word] > number
    ]
    assert early == []


def test_the_definition_check_finds_an_early_call() -> None:
    defined, top_level = _defined_and_called(["late", "late() {", "\ttrue", "}"])
    assert defined == {"late": 2}
    assert top_level == [(1, "late")]
