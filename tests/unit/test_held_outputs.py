"""check with the cache and --jobs takes the writers' locks (shared) before it plans, when they
are free, and walks the generated tree in another process meanwhile (write/writer.py
HeldOutputs): the same verdicts, and nothing held or left running once it is done. render does
not: it proves that it wrote every file it replaces right before it writes, so what is done to
the tree by hand while it plans is seen."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalog_gen import cli, snapshot
from catalog_gen.plan.pipeline import CatalogPlan, plan_catalog
from catalog_gen.write import walk, writer
from catalog_gen.write.writer import HeldOutputs
from catalog_gen.write.written import WriteRecord
from tests.conftest import REPO_ROOT
from tests.unit.helpers import FIXTURE_ENVIRONMENTS, leaf, make_catalog, run_cli
from tests.unit.outputs_support import outputs
from tests.unit.test_parallel import children


def rendered(root: Path, environments: Path = FIXTURE_ENVIRONMENTS) -> Path:
    leaves = {"dev/ml/svc.yaml": leaf(), "dev/ml/other.yaml": leaf(name="other")}
    catalog = make_catalog(root, leaves, environments=environments)
    first = run_cli(root, "render", "--jobs", "2")
    assert first.code == 0, first.stderr
    return catalog


def while_planning(monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """act runs once the command has begun, before it plans (after check took its locks):
    before it reuses the last run (snapshot.py), or plans the catalog, whichever comes first."""
    real, real_reuse = plan_catalog, snapshot.reuse
    done: list[bool] = []

    def once() -> None:
        if not done:
            done.append(True)
            act()

    def planned(*arguments: Any, **options: Any) -> CatalogPlan:
        once()
        return real(*arguments, **options)

    def reused(*arguments: Any, **options: Any) -> snapshot.Reused | None:
        once()
        return real_reuse(*arguments, **options)

    monkeypatch.setattr(cli, "plan_catalog", planned)
    monkeypatch.setattr(snapshot, "reuse", reused)


def unlocked(root: Path) -> bool:
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


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
    assert walked != [os.getpid()]  # not here: in the process forked before planning
    edited = next((root / "generated").rglob("values.yaml"))
    edited.write_bytes(edited.read_bytes() + b"# by hand\n")
    held, alone = run_cli(root, "check", "--jobs", "2"), run_cli(root, "check", "--jobs", "1")
    assert (held.code, held.stderr) == (alone.code, alone.stderr) == (1, alone.stderr)
    assert "by hand" in held.stderr


def test_a_file_removed_while_check_plans_is_missing_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "held"
    rendered(root)
    gone = next((root / "generated").rglob("values.yaml"))
    gone.write_bytes(gone.read_bytes() + b"# by hand\n")  # its stamp proves nothing now
    walked = tmp_path / "walked"
    real = walk.seen

    def noted(*arguments: Any) -> walk.Seen:
        found = real(*arguments)
        walked.touch()  # in the walking process, once it has listed the tree
        return found

    def remove_once_walked() -> None:
        deadline = time.monotonic() + 30
        while not walked.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        gone.unlink()

    monkeypatch.setattr(writer, "seen", noted)
    while_planning(monkeypatch, remove_once_walked)
    held = run_cli(root, "check", "--jobs", "2")
    monkeypatch.undo()
    alone = run_cli(root, "check", "--jobs", "1")
    assert (held.code, held.stderr) == (alone.code, alone.stderr) == (1, alone.stderr)
    assert "cannot" not in held.stderr


def test_an_invalid_catalog_lets_the_locks_go_and_leaves_no_process(tmp_path: Path) -> None:
    root = tmp_path / "held"
    catalog = rendered(root)
    processes = children()
    (catalog / "dev/ml/svc.yaml").write_text(leaf("unknownKey: 1\n"))
    assert run_cli(root, "check", "--jobs", "2").code == 1
    assert children() <= processes
    assert unlocked(root)


def test_a_writer_holding_the_lock_is_not_waited_for_before_planning(tmp_path: Path) -> None:
    root = tmp_path / "held"
    rendered(root)
    targets = [root / "generated", root / "catalog-info.yaml"]  # no Argo CD: no deploy/
    record = WriteRecord(root / ".catalog-gen-cache")
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert HeldOutputs.take(targets, root / "generated", record) is None
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)  # another reader: shared
        held = HeldOutputs.take(targets, root / "generated", record)
        assert held is not None
        with held:
            assert held.covers(targets)
            assert not held.covers([tmp_path / "elsewhere" / "generated"])
    finally:
        os.close(descriptor)
    assert unlocked(root)


def test_an_output_folder_missing_before_planning_is_checked_as_without(tmp_path: Path) -> None:
    root = tmp_path / "held"
    rendered(root, REPO_ROOT / "catalog" / "environments")  # dev has Argo CD: deploy/argocd
    shutil.rmtree(root / "deploy")
    held, alone = run_cli(root, "check", "--jobs", "2"), run_cli(root, "check", "--jobs", "1")
    assert (held.code, held.stderr) == (alone.code, alone.stderr) == (1, alone.stderr)


def test_render_sees_what_is_done_to_the_tree_by_hand_while_it_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file added while render plans is never deleted (render refuses); a generated file
    edited meanwhile is written again (check then finds the tree up to date)."""
    root = tmp_path / "added"
    rendered(root)
    notes = root / "generated" / "NOTES.md"

    def add() -> None:
        notes.write_text("mine\n")

    while_planning(monkeypatch, add)
    refused = run_cli(root, "render", "--jobs", "2")
    assert refused.code == 2, refused.stderr
    assert "NOTES.md" in refused.stderr
    assert notes.read_text() == "mine\n"
    root = tmp_path / "edited"
    rendered(root)
    edited = next((root / "generated").rglob("values.yaml"))
    before = outputs(root)

    def edit() -> None:
        edited.write_bytes(edited.read_bytes() + b"# by hand\n")

    while_planning(monkeypatch, edit)
    assert run_cli(root, "render", "--jobs", "2").code == 0
    monkeypatch.undo()
    assert outputs(root) == before
    assert run_cli(root, "check", "--jobs", "2").code == 0
