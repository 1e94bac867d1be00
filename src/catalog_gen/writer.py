"""Write the generated tree all at once, or compare it with what is on disk.

render builds the whole tree in a sibling temporary directory and swaps it in with two renames,
so a failure at any point leaves the previous tree as it was, and files of deleted leaves
disappear with the old tree. Nothing outside the output directory is touched except the
temporary siblings, which are ours (`.<out>.tmp-*`, `.<out>.old-*`) and removed on the next run
if a crash left them.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_DIFF_LINES = 200


class UnsafeOutputError(Exception):
    """The output directory would replace something that is not generated output."""


def check_output_dir(out: Path, protected: list[Path]) -> None:
    """Refuse an output directory whose replacement would delete sources or the repository."""
    target = out.resolve()
    if target == Path(target.anchor) or target == Path.home().resolve():
        raise UnsafeOutputError(f"refusing to replace {out}: choose a dedicated directory")
    for path in [Path.cwd(), *protected]:
        resolved = path.resolve()
        if resolved == target or resolved.is_relative_to(target):
            raise UnsafeOutputError(
                f"refusing to replace {out}: it contains {path}; choose a dedicated directory "
                "such as generated/"
            )
    if (target / ".git").exists():
        raise UnsafeOutputError(f"refusing to replace {out}: it is a git repository")


def write_tree(out: Path, files: Mapping[PurePosixPath, bytes]) -> None:
    """Make out hold exactly files (LF bytes as given), atomically."""
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        for relative, content in sorted(files.items()):
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        # mkdtemp makes it 0700; the tree is meant to be committed and read by everyone.
        os.chmod(staging, 0o755)  # noqa: S103
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            backup.rmdir()
            out.rename(backup)
            try:
                staging.rename(out)
            except OSError:
                backup.rename(out)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_leftovers(out: Path) -> None:
    for prefix in (f".{out.name}.tmp-", f".{out.name}.old-"):
        for leftover in out.parent.glob(f"{prefix}*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


def read_tree(out: Path) -> dict[PurePosixPath, bytes]:
    if not out.is_dir():
        return {}
    return {
        PurePosixPath(path.relative_to(out).as_posix()): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class TreeDiff:
    added: list[PurePosixPath] = field(default_factory=list)  # render would create
    removed: list[PurePosixPath] = field(default_factory=list)  # render would delete
    changed: list[PurePosixPath] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)  # unified diff lines, bounded

    @property
    def clean(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self, out_display: str, limit: int = MAX_DIFF_LINES) -> str:
        lines = [f"{out_display} is not what `catalog-gen render` would write:"]
        lines += [f"  added:   {out_display}/{path}" for path in self.added]
        lines += [f"  removed: {out_display}/{path}" for path in self.removed]
        lines += [f"  changed: {out_display}/{path}" for path in self.changed]
        shown = self.diff[:limit]
        lines += shown
        if len(self.diff) > limit:
            lines.append(f"... {len(self.diff) - limit} more diff lines")
        lines.append("run `catalog-gen render` and commit the result")
        return "\n".join(lines) + "\n"


def diff_tree(out: Path, files: Mapping[PurePosixPath, bytes], out_display: str) -> TreeDiff:
    """What render would change in out, without touching it."""
    actual = read_tree(out)
    added = sorted(set(files) - set(actual))
    removed = sorted(set(actual) - set(files))
    changed = sorted(path for path in set(files) & set(actual) if files[path] != actual[path])
    diff: list[str] = []
    for path in [*changed, *added, *removed]:
        before = _lines(actual.get(path, b""))
        after = _lines(files.get(path, b""))
        diff.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                before,
                after,
                fromfile=f"{out_display}/{path}" if path in actual else "/dev/null",
                tofile=f"{out_display}/{path}" if path in files else "/dev/null",
            )
        )
    return TreeDiff(added, removed, changed, diff)


def _lines(content: bytes) -> list[str]:
    return content.decode("utf-8", errors="replace").splitlines(keepends=True)
