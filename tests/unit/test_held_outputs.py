"""render and check with the cache and --jobs take the writers' locks before they plan, when
they are free, and walk the generated tree in another process meanwhile (write/writer.py
HeldOutputs): the same outputs and verdicts, the same refusals, and nothing held or left running
once they are done."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.write import walk, writer
from catalog_gen.write.writer import HeldOutputs
from catalog_gen.write.written import WriteRecord
from tests.conftest import REPO_ROOT
from tests.unit.helpers import FIXTURE_ENVIRONMENTS, leaf, make_catalog, run_cli
from tests.unit.outputs_support import leftovers, outputs
from tests.unit.test_parallel import children


def rendered(root: Path, environments: Path = FIXTURE_ENVIRONMENTS) -> Path:
    leaves = {"dev/ml/svc.yaml": leaf(), "dev/ml/other.yaml": leaf(name="other")}
    catalog = make_catalog(root, leaves, environments=environments)
    first = run_cli(root, "render", "--jobs", "2")
    assert first.code == 0, first.stderr
    return catalog


def cold(tmp_path: Path, root: Path) -> dict[str, bytes]:
    """What a render without the cache writes from the same catalog."""
    copy = tmp_path / "cold"
    shutil.copytree(root / "catalog", copy / "catalog")
    assert run_cli(copy, "render", "--no-cache").code == 0
    return outputs(copy)


def test_the_tree_is_walked_in_another_process_while_render_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "held"
    catalog = rendered(root)
    (catalog / "dev/ml/svc.yaml").write_text(leaf("model: phi:3.8b\n"))
    walkers = tmp_path / "walkers"
    walkers.mkdir()
    real = walk.ownership

    def noted(*arguments: Any) -> walk.Ownership:
        (walkers / str(os.getpid())).touch()
        return real(*arguments)

    monkeypatch.setattr(writer, "ownership", noted)
    again = run_cli(root, "render", "--jobs", "2")
    assert again.code == 0, again.stderr
    walked = [int(path.name) for path in walkers.iterdir()]
    assert len(walked) == 1
    assert walked != [os.getpid()]  # not here: in the process forked before planning
    assert outputs(root) == cold(tmp_path, root)
    assert leftovers(root) == []
    assert run_cli(root, "check").code == 0


def test_an_invalid_catalog_lets_the_locks_go_and_leaves_no_process(tmp_path: Path) -> None:
    root = tmp_path / "held"
    catalog = rendered(root)
    before, processes = outputs(root), children()
    (catalog / "dev/ml/svc.yaml").write_text(leaf("unknownKey: 1\n"))
    assert run_cli(root, "render", "--jobs", "2").code == 1
    assert outputs(root) == before
    assert children() <= processes
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(descriptor)


def test_a_busy_lock_is_not_waited_for_before_planning(tmp_path: Path) -> None:
    root = tmp_path / "held"
    rendered(root)
    targets = [root / "generated", root / "catalog-info.yaml"]  # no Argo CD: no deploy/
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        record = WriteRecord(root / ".catalog-gen-cache")
        assert HeldOutputs.take(targets, root / "generated", record, exclusive=True) is None
    finally:
        os.close(descriptor)
    held = HeldOutputs.take(targets, root / "generated", record, exclusive=True)
    assert held is not None
    with held:
        assert held.covers(targets)
        assert not held.covers([tmp_path / "elsewhere" / "generated"])


def test_an_output_folder_made_after_the_locks_were_taken_is_locked_then(
    tmp_path: Path,
) -> None:
    """deploy/ removed by hand: render takes the locks before planning without it, finds after
    planning that it writes there too, and writes as without the early locks."""
    root = tmp_path / "held"
    catalog = rendered(root, REPO_ROOT / "catalog" / "environments")  # dev has Argo CD
    shutil.rmtree(root / "deploy")
    (catalog / "dev/ml/svc.yaml").write_text(leaf("model: phi:3.8b\n"))
    assert run_cli(root, "render", "--jobs", "2").code == 0
    assert (root / "deploy" / "argocd").is_dir()
    assert outputs(root) == cold(tmp_path, root)
    assert leftovers(root) == []


def test_check_walks_the_tree_in_another_process_and_finds_what_one_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "held"
    rendered(root)
    walkers = tmp_path / "walkers"
    walkers.mkdir()
    real = walk.seen

    def noted(*arguments: Any) -> walk.Seen:
        (walkers / str(os.getpid())).touch()
        return real(*arguments)

    monkeypatch.setattr(writer, "seen", noted)
    assert run_cli(root, "check", "--jobs", "2").code == 0
    walked = [int(path.name) for path in walkers.iterdir()]
    assert len(walked) == 1
    assert walked != [os.getpid()]
    edited = next((root / "generated").rglob("values.yaml"))
    edited.write_bytes(edited.read_bytes() + b"# by hand\n")
    held, alone = run_cli(root, "check", "--jobs", "2"), run_cli(root, "check", "--jobs", "1")
    assert (held.code, held.stderr) == (alone.code, alone.stderr) == (1, alone.stderr)
    assert "by hand" in held.stderr
