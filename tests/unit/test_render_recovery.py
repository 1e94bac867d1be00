"""render killed (SIGKILL) or interrupted (SIGINT) at every step of its swap: the next render
completes it, `check` reports it meanwhile, Ctrl-C exits 130 with one line and no half-write."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from tests.unit.helpers import leaf, make_catalog, run_cli
from tests.unit.outputs_support import (
    catalog_with_outputs,
    leftovers,
    outputs,
    render_in_child,
)

MAX_STEPS = 40  # a render of three outputs makes about 15 counted steps


def single_render(tmp_path: Path, template: Path) -> dict[str, bytes]:
    fresh = tmp_path / "fresh"
    shutil.copytree(template / "catalog", fresh / "catalog")
    assert run_cli(fresh, "render").code == 0
    return outputs(fresh)


@pytest.mark.parametrize(
    ("kept", "arguments"),
    [(0, ()), (6, ()), (6, ("--no-cache",))],
    ids=["rebuilt-whole", "patched", "patched-without-a-record"],
)
def test_a_render_killed_at_any_step_is_completed_by_the_next_one(
    tmp_path: Path, kept: int, arguments: tuple[str, ...]
) -> None:
    template = tmp_path / "template"
    catalog_with_outputs(template, kept)
    before = outputs(template)
    expected = single_render(tmp_path, template)
    assert expected != before
    unchanged = template / "generated" / "dev" / "ml" / "kept-0" / "values.yaml"
    if kept:  # the path the parameters name is the one taken: a kept file stays where it was
        probe = tmp_path / "probe"
        shutil.copytree(template, probe)
        inode = (probe / unchanged.relative_to(template)).stat().st_ino
        assert render_in_child(probe, *arguments).returncode == 0
        assert (probe / unchanged.relative_to(template)).stat().st_ino == inode
    step = 0
    for step in range(1, MAX_STEPS):
        root = tmp_path / f"kill-{step}"
        shutil.copytree(template, root)
        killed = render_in_child(root, *arguments, kill_at=step)
        if killed.returncode == 0:
            break  # the render made fewer steps than this: every step has been tried
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        journals = [name for name in leftovers(root) if name.endswith("catalog-gen-journal")]
        check = run_cli(root, "check")
        assert check.code == (0 if outputs(root) == expected and not journals else 1)
        if journals:
            assert "a render was interrupted" in check.stderr
        assert run_cli(root, "render").code == 0
        assert outputs(root) == expected, step
        assert leftovers(root) == [], step
        assert run_cli(root, "check").code == 0
    assert 10 < step < MAX_STEPS


def test_ctrl_c_exits_130_with_one_line_and_no_half_written_output(tmp_path: Path) -> None:
    template = tmp_path / "template"
    catalog_with_outputs(template)
    before = outputs(template)
    expected = single_render(tmp_path, template)
    # while planning; at the first journal write; mid-swap; while removing the old copies
    for step, on_load in ((0, True), (1, False), (6, False), (12, False)):
        root = tmp_path / f"interrupt-{step}"
        shutil.copytree(template, root)
        interrupted = render_in_child(
            root, kill_at=step, kill_signal=signal.SIGINT, on_load=on_load
        )
        assert interrupted.returncode == 130, interrupted.stderr
        last = interrupted.stderr.splitlines()[-1]
        assert last == "catalog-gen: interrupted; no output was left half-written"
        assert "Traceback" not in interrupted.stderr
        # A signal that arrives during the swap is held until the swap is done.
        assert outputs(root) == (before if on_load else expected)
        assert leftovers(root) == []


def test_a_journal_catalog_gen_did_not_write_is_refused_by_render_and_by_check(
    tmp_path: Path,
) -> None:
    """The reviewer's: a journal beside another output (here catalog-info.yaml) naming the
    catalog as generated's old copy. render moved generated aside, the catalog in its place,
    and deleted it; check told the user to run render to complete it."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    assert run_cli(tmp_path, "render").code == 0
    before = outputs(tmp_path)
    journal = tmp_path / ".catalog-info.yaml.catalog-gen-journal"
    step = {"target": "generated", "staging": "nothing-here", "backup": "catalog"}
    journal.write_text(json.dumps({"version": 2, "steps": [step]}))
    for command in ("render", "check"):
        result = run_cli(tmp_path, command)
        assert result.code == 1, result.stderr
        assert (
            "catalog-gen: .catalog-info.yaml.catalog-gen-journal is not a journal catalog-gen "
            "wrote for this output"
        ) in result.stderr
        assert "inspect it and remove it by hand" in result.stderr
        assert "complete it" not in result.stderr
        assert (tmp_path / "catalog" / "dev" / "ml" / "svc.yaml").is_file()
        assert outputs(tmp_path) == before
        assert journal.exists()
