"""Write render's outputs all at once, or compare them with what is on disk.

render writes three outputs: the generated tree, the Argo CD tree and the root Location file.
Each is built completely in a temporary sibling first (`.<name>.tmp-*`); only when all of them
are staged are they swapped in, one rename each, the previous versions kept aside
(`.<name>.old-*`) until every swap succeeded. A failure while staging touches nothing; a failed
swap puts back the outputs already swapped, so the previous outputs stay as they were. The one
window left is a crash of the process itself (SIGKILL, power loss) between two renames: some
outputs are then new and the others old, each one whole; the next render (or `catalog-gen
check`) sees and fixes it. Leftover temporary siblings of such a crash are ours and removed by
the next run.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class TreeOutput:
    """A directory that must hold exactly these files (relative path -> LF bytes)."""

    path: Path
    files: Mapping[PurePosixPath, bytes]


@dataclass(frozen=True)
class FileOutput:
    """One file with exactly this content."""

    path: Path
    content: bytes


Output = TreeOutput | FileOutput


def write_tree(out: Path, files: Mapping[PurePosixPath, bytes]) -> None:
    """Make out hold exactly files (LF bytes as given), atomically."""
    write_outputs([TreeOutput(out, files)])


def write_outputs(outputs: Sequence[Output]) -> None:
    """Replace every output, all or nothing as far as renames allow (see the module doc)."""
    staged: list[tuple[Path, Path]] = []  # (staging, target)
    try:
        for output in outputs:
            staged.append((_stage(output), output.path))
    except BaseException:
        for staging, _ in staged:
            _remove(staging)
        raise
    swapped: list[tuple[Path, Path | None]] = []  # (target, its previous version set aside)
    try:
        for staging, target in staged:
            backup = _aside(target)
            try:
                staging.rename(target)
            except BaseException:
                if backup is not None:
                    backup.rename(target)
                raise
            swapped.append((target, backup))
    except BaseException:
        _roll_back(swapped)
        for staging, _ in staged[len(swapped) :]:
            _remove(staging)
        raise
    for _, backup in swapped:
        if backup is not None:
            _remove(backup)


def _stage(output: Output) -> Path:
    parent = output.path.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(output.path)
    if isinstance(output, FileOutput):
        handle, name = tempfile.mkstemp(prefix=f".{output.path.name}.tmp-", dir=parent)
        os.close(handle)
        staging = Path(name)
        try:
            staging.write_bytes(output.content)
            os.chmod(staging, 0o644)
        except BaseException:
            _remove(staging)
            raise
        return staging
    staging = Path(tempfile.mkdtemp(prefix=f".{output.path.name}.tmp-", dir=parent))
    try:
        for relative, content in sorted(output.files.items()):
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        # mkdtemp makes it 0700; the tree is meant to be committed and read by everyone.
        os.chmod(staging, 0o755)  # noqa: S103
    except BaseException:
        _remove(staging)
        raise
    return staging


def _aside(target: Path) -> Path | None:
    """Move the current version of target to a fresh `.<name>.old-*` sibling, if there is one."""
    if not target.exists() and not target.is_symlink():
        return None
    backup = _fresh_name(target, "old")
    target.rename(backup)
    return backup


def _roll_back(swapped: Sequence[tuple[Path, Path | None]]) -> None:
    """Put the previous versions back, last swap first."""
    for target, backup in reversed(swapped):
        discarded = _fresh_name(target, "tmp")
        target.rename(discarded)
        if backup is not None:
            backup.rename(target)
        _remove(discarded)


def _fresh_name(target: Path, kind: str) -> Path:
    """An unused sibling name `.<name>.<kind>-*` (ours: leftovers are removed by the next run)."""
    placeholder = Path(tempfile.mkdtemp(prefix=f".{target.name}.{kind}-", dir=target.parent))
    placeholder.rmdir()
    return placeholder


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_leftovers(out: Path) -> None:
    for prefix in (f".{out.name}.tmp-", f".{out.name}.old-"):
        for leftover in out.parent.glob(f"{prefix}*"):
            _remove(leftover)


def check_generated_file(path: Path, marker: str) -> None:
    """Refuse to replace a file that catalog-gen did not write (it lacks the generated marker)."""
    try:
        head = path.read_bytes()[:512]
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise UnsafeOutputError(f"refusing to replace {path}: it is a directory") from None
    if marker.encode() not in head:
        raise UnsafeOutputError(
            f"refusing to replace {path}: catalog-gen did not write it (no '{marker}' line); "
            "move it away, or choose another --gitops-root"
        )


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
