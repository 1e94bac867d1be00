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


def _tree_with_copies(tmp_path: Path) -> Path:
    """generated, its staged copy, and a folder of the user's beside them."""
    target = tmp_path / "generated"
    target.mkdir()
    (target / "values.yaml").write_text("previous")
    (tmp_path / ".generated.tmp-x").mkdir()
    (tmp_path / ".generated.tmp-x" / "values.yaml").write_text("staged")
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "leaf.yaml").write_text("mine")
    return target


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"staging": "{root}/nothing-here", "backup": "{root}/catalog"},
            "not a name catalog-gen gives",
        ),
        ({"backup": "{outside}"}, "not a name catalog-gen gives"),
        ({"backup": "{root}/catalog/.generated.old-x"}, "not a name catalog-gen gives"),
        ({"staging": "{root}/.generated.tmp-x/../catalog"}, "not a name catalog-gen gives"),
        ({"backup": "{root}/.generated.old-x/../catalog"}, "not a name catalog-gen gives"),
        ({"target": "{root}/catalog"}, "none of its steps is the output it lies beside"),
        ({"staging": "{root}/.generated.tmp-"}, "not a name catalog-gen gives"),
    ],
    ids=[
        "the-reviewers",
        "outside",
        "not-a-sibling",
        "dotdot-staging",
        "dotdot-backup",
        "another-target",
        "no-suffix",
    ],
)
def test_a_journal_naming_what_the_writer_never_names_moves_nothing(
    tmp_path: Path, change: dict[str, str], reason: str
) -> None:
    """A journal is replayed only as the writer writes it: any other could name the catalog,
    or a folder outside the repository, as the copy a swap removes."""
    target = _tree_with_copies(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "kept").write_text("mine")
    fields = {key: value.format(root=tmp_path, outside=outside) for key, value in change.items()}
    journal = _journal(target, [{**_step(target), **fields}])
    with pytest.raises(swap.JournalError, match=f"not a journal catalog-gen wrote.*{reason}"):
        swap.recover([target])
    assert (tmp_path / "catalog" / "leaf.yaml").read_text() == "mine"
    assert (outside / "kept").read_text() == "mine"
    assert (target / "values.yaml").read_text() == "previous"
    assert journal.exists()


def test_a_journal_beside_one_output_naming_only_another_moves_nothing(tmp_path: Path) -> None:
    """The reviewer's: a journal beside deploy/argocd whose only step is generated's."""
    target = _tree_with_copies(tmp_path)
    deploy = tmp_path / "deploy" / "argocd"
    deploy.mkdir(parents=True)
    journal = swap.journal_path(deploy)
    journal.write_text(json.dumps({"version": 2, "steps": [_step(target)]}))
    with pytest.raises(swap.JournalError, match="none of its steps is the output it lies beside"):
        swap.recover([target, deploy])
    assert (target / "values.yaml").read_text() == "previous"
    assert journal.exists()


def test_a_journal_naming_an_output_this_render_does_not_write_moves_nothing(
    tmp_path: Path,
) -> None:
    target = _tree_with_copies(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / ".other.tmp-x").mkdir()
    _journal(target, [_step(target), _step(other)])
    with pytest.raises(swap.JournalError, match="other, which is not an output of this render"):
        swap.recover([target])
    assert (target / "values.yaml").read_text() == "previous"
    assert (tmp_path / ".other.tmp-x").is_dir()


@pytest.mark.parametrize("linked", ["staging", "backup", "target", "folder"])
def test_a_journal_whose_paths_go_through_a_link_moves_nothing(tmp_path: Path, linked: str) -> None:
    """A link named as a copy, or a folder a patch step renames through, would move files
    from outside the output (and the swap removes its copies)."""
    target = tmp_path / "generated"
    outside = tmp_path / "elsewhere"
    (outside / "dev").mkdir(parents=True)
    (outside / "dev" / "kept").write_text("mine")
    staging, backup = tmp_path / ".generated.tmp-x", tmp_path / ".generated.old-x"
    staging.mkdir()
    if linked == "target":
        target.symlink_to(outside)
    else:
        target.mkdir()
    if linked == "folder":
        (target / "dev").symlink_to(outside / "dev")
    elif linked == "backup":
        backup.symlink_to(outside)
    elif linked == "staging":
        staging.rmdir()
        staging.symlink_to(outside)
    _journal(target, [_step(target, changed=[], removed=["dev/kept"])])
    with pytest.raises(swap.JournalError, match="is a symbolic link"):
        swap.recover([target])
    assert (outside / "dev" / "kept").read_text() == "mine"


def test_a_journal_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    target = _tree_with_copies(tmp_path)
    swap.journal_path(target).mkdir()
    with pytest.raises(swap.JournalError, match="it is not a regular file"):
        swap.recover([target])
    assert (target / "values.yaml").read_text() == "previous"


def test_a_journal_of_a_relative_target_is_trusted_where_its_folder_is_reached_by_a_link(
    tmp_path: Path,
) -> None:
    """The paths are compared with their folders' links resolved: the repository reached
    through a link is the same repository."""
    real = tmp_path / "real"
    real.mkdir()
    target = _tree_with_copies(real)
    (tmp_path / "link").symlink_to(real)
    journal = _journal(target, [_step(target)])
    assert swap.recover([tmp_path / "link" / "generated"]) == [
        swap.journal_path(tmp_path / "link" / "generated")
    ]
    assert (target / "values.yaml").read_text() == "staged"
    assert not journal.exists()


def _planted_link(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A review's journal: a first patch step moves a staged link to a folder outside the
    repository into the output, a second renames and removes files through it."""
    target = tmp_path / "generated"
    target.mkdir()
    (target / "values.yaml").write_text("previous")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("precious")
    (victim / "bashrc").write_text("export SAFE=1\n")
    first, second = tmp_path / ".generated.tmp-aaa", tmp_path / ".generated.tmp-ccc"
    first.mkdir()
    (first / "a").symlink_to(victim)
    (second / "a").mkdir(parents=True)
    (second / "a" / "bashrc").write_text("echo PWNED\n")
    steps = [
        {
            **_step(target),
            "staging": str(first),
            "backup": str(tmp_path / ".generated.old-bbb"),
            "changed": ["a"],
            "removed": [],
        },
        {
            **_step(target),
            "staging": str(second),
            "backup": str(tmp_path / ".generated.old-ddd"),
            "changed": ["a/bashrc"],
            "removed": ["a/secret"],
        },
    ]
    return target, victim, steps


def test_a_journal_whose_staged_copy_holds_a_link_moves_nothing(tmp_path: Path) -> None:
    """The writer never stages a link; a staged link moved into the output would let a later
    step rename and remove files wherever it points (a review's data loss)."""
    target, victim, steps = _planted_link(tmp_path)
    journal = _journal(target, steps)
    with pytest.raises(swap.JournalError, match="not a journal catalog-gen wrote"):
        swap.recover([target])
    assert (victim / "secret").read_text() == "precious"
    assert (victim / "bashrc").read_text() == "export SAFE=1\n"
    assert (target / "values.yaml").read_text() == "previous"
    assert journal.exists()


def test_journals_that_are_not_copies_of_one_swap_move_nothing(tmp_path: Path) -> None:
    """The writer writes one body beside every output; two journals that differ (each step
    naming its own output once) are not one swap: nothing moves."""
    target = _tree_with_copies(tmp_path)
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "app.yaml").write_text("previous")
    (tmp_path / ".deploy.tmp-x").mkdir()
    (tmp_path / ".deploy.tmp-x" / "app.yaml").write_text("staged")
    _journal(target, [_step(target)])
    _journal(deploy, [_step(deploy), _step(target)])
    with pytest.raises(swap.JournalError, match="not a journal catalog-gen wrote"):
        swap.recover([target, deploy])
    assert (target / "values.yaml").read_text() == "previous"
    assert (deploy / "app.yaml").read_text() == "previous"


def test_a_journal_naming_one_output_in_two_steps_moves_nothing(tmp_path: Path) -> None:
    target = _tree_with_copies(tmp_path)
    _journal(target, [_step(target), _step(target)])
    with pytest.raises(swap.JournalError, match="not a journal catalog-gen wrote"):
        swap.recover([target])
    assert (target / "values.yaml").read_text() == "previous"
