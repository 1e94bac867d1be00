"""writer.py: the atomic swap, stale removal, the drift check and the output-directory guard."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from catalog_gen import writer
from catalog_gen.writer import (
    UnsafeOutputError,
    check_output_dir,
    diff_tree,
    read_tree,
    write_tree,
)

A = PurePosixPath("dev/ml/a/values.yaml")
B = PurePosixPath("dev/ml/b/values.yaml")


def test_write_replaces_the_whole_tree_and_drops_stale_services(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree(out, {A: b"a: 1\n", B: b"b: 1\n"})
    write_tree(out, {A: b"a: 2\n"})
    assert read_tree(out) == {A: b"a: 2\n"}
    assert not (out / "dev/ml/b").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generated"]


def test_a_failed_write_leaves_the_previous_tree_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "generated"
    write_tree(out, {A: b"old\n"})

    def explode(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", explode)
    with pytest.raises(OSError, match="No space left"):
        write_tree(out, {A: b"new\n", B: b"new\n"})
    monkeypatch.undo()
    assert read_tree(out) == {A: b"old\n"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generated"]


def test_a_failed_swap_restores_the_previous_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "generated"
    write_tree(out, {A: b"old\n"})
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name.startswith(".generated.tmp-"):
            raise OSError(18, "Invalid cross-device link")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="cross-device"):
        write_tree(out, {A: b"new\n"})
    monkeypatch.undo()
    assert read_tree(out) == {A: b"old\n"}


def test_leftovers_of_a_crashed_run_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".generated.tmp-abc/dev").mkdir(parents=True)
    (tmp_path / ".generated.old-def").mkdir()
    (tmp_path / ".unrelated").mkdir()
    write_tree(tmp_path / "generated", {A: b"a\n"})
    assert sorted(path.name for path in tmp_path.iterdir()) == [".unrelated", "generated"]


def test_diff_lists_added_removed_and_changed_files_with_a_bounded_diff(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree(out, {A: b"x: 1\n", B: b"gone\n"})
    extra = PurePosixPath("prod/ml/c/values.yaml")
    difference = diff_tree(out, {A: b"x: 2\n", extra: b"new\n"}, "generated")
    assert (difference.added, difference.removed, difference.changed) == ([extra], [B], [A])
    text = difference.summary("generated", limit=3)
    assert text.splitlines()[:4] == [
        "generated is not what `catalog-gen render` would write:",
        f"  added:   generated/{extra}",
        f"  removed: generated/{B}",
        f"  changed: generated/{A}",
    ]
    assert "-x: 1" in "\n".join(difference.diff)
    assert "+x: 2" in "\n".join(difference.diff)
    assert "more diff lines" in text
    assert diff_tree(out, read_tree(out), "generated").clean


@pytest.mark.parametrize("target", [".", "..", "/"])
def test_output_dir_may_not_hold_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    (tmp_path / "repo/catalog").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    with pytest.raises(UnsafeOutputError):
        check_output_dir(Path(target), [Path("catalog")])


def test_output_dir_may_not_be_a_repository(tmp_path: Path) -> None:
    (tmp_path / "other/.git").mkdir(parents=True)
    with pytest.raises(UnsafeOutputError, match="git repository"):
        check_output_dir(tmp_path / "other", [])
    check_output_dir(tmp_path / "generated", [])


def test_max_diff_lines_is_bounded() -> None:
    assert 0 < writer.MAX_DIFF_LINES <= 1000
