"""bench/stat_floor.py times what a render after a one-leaf edit cannot avoid: it must walk the
very tree render proves (every output file, its record read), or its figure says nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.unit.helpers import leaf, make_catalog, run_cli


def test_the_floor_stats_every_leaf_and_every_output_file(tmp_path: Path) -> None:
    make_catalog(
        tmp_path, {f"dev/ml/svc-{index}.yaml": leaf(name=f"svc-{index}") for index in range(3)}
    )
    assert run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated").code == 0
    outputs = [path for path in (tmp_path / "generated").rglob("*") if path.is_file()]
    catalog_files = [path for path in (tmp_path / "catalog").rglob("*") if path.is_file()]

    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "stat_floor.py"), "catalog", "generated"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO_ROOT / "src")},
    )

    assert result.returncode == 0, result.stderr
    found = re.match(r"(\d+) catalog files, (\d+) output files: ", result.stderr)
    assert found is not None, result.stderr
    assert (int(found[1]), int(found[2])) == (len(catalog_files), len(outputs))
