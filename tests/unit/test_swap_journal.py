"""An interrupted render's journal (catalog_gen/write/swap.py), as the next run reads it: a
journal it cannot trust moves nothing, and a swap whose staged copy is lost keeps the previous
output rather than leaving none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.write import swap


def _journal(target: Path, steps: list[dict[str, Any]], version: object = 2) -> Path:
    journal = swap.journal_path(target)
    journal.write_text(json.dumps({"version": version, "steps": steps}))
    return journal


def _step(target: Path, **more: Any) -> dict[str, Any]:
    parent, name = target.parent, target.name
    return {
        "target": str(target),
        "staging": str(parent / f".{name}.tmp-x"),
        "backup": str(parent / f".{name}.old-x"),
        **more,
    }


def test_a_patch_step_naming_a_path_outside_its_output_moves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "generated"
    (target / "dev").mkdir(parents=True)
    (tmp_path / "precious").write_text("mine")
    (tmp_path / ".generated.tmp-x").mkdir()
    journal = _journal(target, [_step(target, changed=[], removed=["../precious"])])
    with pytest.raises(swap.JournalError, match="cannot be read"):
        swap.recover([target])
    assert (tmp_path / "precious").read_text() == "mine"
    assert journal.exists()  # left for the user, who is told to compare and delete it


@pytest.mark.parametrize("version", [99, None, "2"])
def test_a_journal_of_a_version_this_code_does_not_know_is_not_replayed(
    tmp_path: Path, version: object
) -> None:
    target = tmp_path / "generated"
    (tmp_path / ".generated.tmp-x").mkdir()
    (tmp_path / ".generated.tmp-x" / "new").write_text("staged")
    (target).mkdir()
    (target / "old").write_text("previous")
    _journal(target, [_step(target)], version=version)
    with pytest.raises(swap.JournalError, match="version"):
        swap.recover([target])
    assert (target / "old").read_text() == "previous"
    assert not (target / "new").exists()


def test_a_swap_whose_staged_copy_is_lost_keeps_the_previous_output(tmp_path: Path) -> None:
    """Killed after the target was moved aside, and the staged copy then lost (removed by hand):
    the previous output comes back instead of being removed with the journal's leftovers."""
    target = tmp_path / "generated"
    backup = tmp_path / ".generated.old-x"
    backup.mkdir()
    (backup / "values.yaml").write_text("previous")
    journal = _journal(target, [_step(target)])
    assert swap.recover([target]) == [journal]
    assert (target / "values.yaml").read_text() == "previous"
    assert not journal.exists()
    assert not backup.exists()
