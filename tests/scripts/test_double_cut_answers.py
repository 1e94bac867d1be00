"""The double's CLI fails as the real one does on an answer cut before its end (a server that
died mid-pull): exit 1, `Error: unexpected EOF` (recorded from the real 0.32.0 CLI against the
same server, tests/fixtures/ollama-real/0.32.0/cut-answers.json). Taken as success, a pull cut
by a crashing server logged "pulled" and the init container went on to a store without it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.scripts.conftest import Pod
from tests.support.cut_server import cut_server

RECORDING = REPO_ROOT / "tests" / "fixtures" / "ollama-real" / "0.32.0" / "cut-answers.json"
CASES: list[dict[str, Any]] = json.loads(RECORDING.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["cut"] for case in CASES])
def test_an_answer_cut_before_its_end_fails_as_the_real_cli_fails(
    pod: Pod, case: dict[str, Any]
) -> None:
    with cut_server(case["cut"]) as host:
        result = pod.cli(*case["command"], OLLAMA_HOST=host)
    assert result.returncode == case["exit"], result.stderr
    assert result.stdout == case["stdout"]
    assert result.stderr.splitlines()[-1] == case["stderr_last_line"]
