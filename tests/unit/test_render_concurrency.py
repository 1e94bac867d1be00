"""Renders run at the same time (real processes): every one exits 0 and the result is exactly
what one render writes, with nothing left over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.helpers import CHART, run_cli
from tests.unit.outputs_support import catalog_with_outputs, leftovers, outputs

PROCESSES = 4
ROUNDS = 3


def test_parallel_renders_end_in_the_tree_of_a_single_render(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    catalog_with_outputs(fresh)
    assert run_cli(fresh, "render").code == 0
    expected = outputs(fresh)
    root = tmp_path / "shared"
    catalog_with_outputs(root)
    command = [sys.executable, "-m", "catalog_gen", "render", "--chart", str(CHART)]
    for _ in range(ROUNDS):
        children = [
            subprocess.Popen(
                command,
                cwd=root,
                env={**os.environ, "CATALOG_GEN_LOCK_TIMEOUT": "300"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        for child in children:
            _, stderr = child.communicate(timeout=300)
            assert child.returncode == 0, stderr
        assert outputs(root) == expected
        assert leftovers(root) == []
    assert run_cli(root, "check").code == 0
