"""Swap staged outputs into place, all of them, and finish an interrupted swap on the next run.

A swap moves N staged outputs into place, two renames each (the current version aside, the
staged one in). Before the first rename a journal naming every step (target, staging path,
backup path) is written beside every target (`.<name>.catalog-gen-journal`, each copy written
to a temporary name, flushed, then renamed). A process killed between two renames (SIGKILL,
power loss) leaves the journal; the next writer, holding the same lock, finds it and rolls the
swap forward: every staged output was complete before the journal existed, so the result is
exactly the render that was interrupted. `catalog-gen check` reports a journal it finds.
A journal is trusted only as the writer writes it (read_journal): every step's target one of
this run's targets, one of them the journal's own, each step's staging and backup copies
siblings of their target named as the writer names them (`.<name>.tmp-*`, `.<name>.old-*`),
with no symbolic link on the way; any other journal moves nothing (JournalError): a person
must look at it, since replaying it could delete what catalog-gen never wrote.
A patch step (a tree of which only some files change) moves file by file instead: the previous
version of each changed or removed file aside into the backup folder, the staged one in; each
file moves at most once each way, so the roll-forward and the roll-back are repeatable.

A rename that fails (EXDEV, EACCES) rolls the swap back instead; only once every output is back
are the journal and the staged copies removed, so a failure during the roll-back too still
leaves a journal that completes the swap. SIGINT, SIGTERM and SIGHUP are held from the first
journal write to the last removal: Ctrl-C lands before or after a swap, never inside one.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOURNAL_SUFFIX = ".catalog-gen-journal"
JOURNAL_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1: whole-output steps only
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class JournalError(Exception):
    """A journal that cannot be read or trusted: a person must look (nothing it names is
    moved, and it is never deleted)."""


@dataclass(frozen=True)
class Step:
    """One output of a swap: staging becomes target; the previous target goes to backup.

    A patch step (changed is not None) replaces only some files of a target directory: each
    name in changed moves from staging/<name> to target/<name> (the previous file, if any, to
    backup/<name>), each name in removed from target/<name> to backup/<name>; the rest of the
    target is not touched."""

    target: Path
    staging: Path
    backup: Path
    changed: tuple[str, ...] | None = None
    removed: tuple[str, ...] = ()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": str(self.target),
            "staging": str(self.staging),
            "backup": str(self.backup),
        }
        if self.changed is not None:
            data["changed"] = list(self.changed)
            data["removed"] = list(self.removed)
        return data


def journal_path(target: Path) -> Path:
    return target.parent / f".{target.name}{JOURNAL_SUFFIX}"


def journal_temporary(target: Path) -> Path:
    """Where target's journal is written before it is renamed into place (a leftover of a
    writer killed in between is removed by the next one)."""
    journal = journal_path(target)
    return journal.with_name(journal.name + ".tmp")


def rename(source: str | Path, destination: str | Path) -> None:
    """Every rename of a swap goes through here (one place for tests to interrupt)."""
    os.rename(source, destination)


def remove(path: Path) -> None:
    """Remove a file, a link or a whole directory of catalog-gen's own (a staged copy, a
    previous version set aside, a leftover of either); gone already is fine. A folder in it
    someone made read-only (`chmod -R a-w` of an output, then moved aside by a render) is made
    writable and the removal tried again: only inside path, never path's own folder. An error
    names the full path refused (rmtree's names only the entry, relative to its folder)."""
    if path.is_dir() and not path.is_symlink():
        retry = _retry_writable(str(path))
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=lambda function, name, info: retry(function, name, info[1]))
    elif os.path.lexists(path):
        path.unlink()


def _retry_writable(root: str) -> Callable[[Callable[..., object], str, BaseException], None]:
    """rmtree's error handler for the tree at root: an entry its folder's mode keeps from
    being removed is removed once that folder (inside root) is made writable; any other
    error is raised naming the full path."""

    def retry(function: Callable[..., object], name: str, error: BaseException) -> None:
        if isinstance(error, FileNotFoundError):
            return  # gone already
        name = os.fspath(name)  # root itself comes as given: a Path
        folder = os.path.dirname(name)
        inside = folder == root or folder.startswith(root + os.sep)
        if isinstance(error, PermissionError) and inside and function in (os.unlink, os.rmdir):
            try:
                os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IRWXU)
                function(name)
            except OSError as again:
                error = again
            else:
                return
        if not isinstance(error, OSError):
            raise error
        raise OSError(error.errno, error.strerror, name) from error

    return retry


def swap(steps: Sequence[Step]) -> None:
    """Move every staging into its target, all or (after a failed rename) none."""
    with signals_held():
        try:
            _write_journals(steps)
        except OSError:
            _finish(steps)  # nothing was swapped: drop the journals and the staged copies
            raise
        try:
            for step in steps:
                _forward(step)
        except OSError:
            _roll_back(steps)  # raises on a second failure: the journal then stays
            _finish(steps)
            raise
        _finish(steps)


def recover(targets: Sequence[Path], prove: Callable[[], object] = lambda: None) -> list[Path]:
    """Complete every swap whose journal lies beside one of targets; the journals handled.
    Every journal is read and trusted (read_journal) before anything moves; prove runs then,
    before the first move, when there is one (render proves the targets its own: a swap
    replaces them)."""
    found = [(journal, read_journal(journal, targets)) for journal in pending(targets)]
    for journal, steps in found[1:]:  # the writer writes one body beside every output
        if steps != found[0][1]:
            raise JournalError(_not_ours(journal, f"it is not the swap {found[0][0]} records"))
    if found:
        prove()
    handled: list[Path] = []
    for journal, steps in found:
        if not os.path.lexists(journal):  # another copy of a journal handled a moment ago
            continue
        with signals_held():
            for step in steps:
                _forward(step)
            _finish(steps)
        handled.append(journal)
    return handled


def pending(targets: Sequence[Path]) -> list[Path]:
    """The journals of interrupted swaps beside targets."""
    return [journal_path(target) for target in targets if os.path.lexists(journal_path(target))]


def journal_problem(journal: Path, targets: Sequence[Path]) -> str | None:
    """Why render would refuse journal (beside one of targets) rather than complete its swap;
    None when it would complete it."""
    try:
        read_journal(journal, targets)
    except JournalError as error:
        return str(error)
    return None


def read_journal(journal: Path, targets: Sequence[Path]) -> list[Step]:
    """The steps of journal, which lies beside one of targets (this run's outputs), once the
    journal is proven to be one the writer wrote for them (_untrusted)."""
    if not stat.S_ISREG(os.lstat(journal).st_mode):
        raise JournalError(_not_ours(journal, "it is not a regular file"))
    try:
        data = json.loads(journal.read_bytes())
        if data.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"version {data.get('version')!r}")
        steps = [_step_of(item) for item in data["steps"]]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise JournalError(
            f"{journal} records an interrupted render but cannot be read ({error}); compare "
            "the outputs with `catalog-gen check`, then delete it"
        ) from error
    reason = _untrusted(journal, steps, targets)
    if reason is not None:
        raise JournalError(_not_ours(journal, reason))
    return steps


def _not_ours(journal: Path, reason: str) -> str:
    return (
        f"{journal} is not a journal catalog-gen wrote for this output ({reason}); nothing it "
        "names was moved: inspect it and remove it by hand"
    )


def _untrusted(journal: Path, steps: Sequence[Step], targets: Sequence[Path]) -> str | None:
    """Why steps are not a swap the writer journals beside journal for targets; None when
    they are. Paths are compared with the links in their folders resolved; the last part of
    each must be no link (a swap renames it, and removes what it held)."""
    ours = {_real(target) for target in targets}
    if not steps or _real(journal) not in {_real(journal_path(step.target)) for step in steps}:
        return "none of its steps is the output it lies beside"
    if len({_real(step.target) for step in steps}) != len(steps):
        return "it names one output in two steps"
    for step in steps:
        if _real(step.target) not in ours:
            return f"it names {step.target}, which is not an output of this render"
        for copy, kind in ((step.target, ""), (step.staging, STAGED), (step.backup, SET_ASIDE)):
            if kind and not _copy_of(step.target, copy, kind):
                return f"{copy} is not a name catalog-gen gives a copy of {step.target}"
            if os.path.islink(copy):
                return f"{copy} is a symbolic link"
        linked = _linked_folder(step)
        if linked is not None:
            return f"{linked} is a symbolic link"
        for copy in (step.staging, step.backup):
            foreign = _foreign_entry(copy)
            if foreign is not None:  # moved into the output, a link would lead later renames out
                return f"{foreign} is a symbolic link or no regular file (the writer copies none)"
    return None


def _foreign_entry(root: Path) -> str | None:
    """An entry under a copy of an output (its staged or backed-up files, when it is there)
    that is neither a folder nor a regular file; None when there is none."""
    if not os.path.isdir(root) or os.path.islink(root):
        return None
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:  # what cannot be listed cannot be proven the writer's
            return folder
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
            elif entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                return entry.path
    return None


def _real(path: Path) -> Path:
    """path with the links of its folder resolved (its last part as it is)."""
    return Path(os.path.realpath(path.parent)) / path.name


# The copies of an output the writer makes beside it: `.<name>.tmp-<random>` (staged) and
# `.<name>.old-<random>` (set aside), the random part tempfile's. Made (writer.py), found as
# leftovers (writer.py) and trusted in a journal (here) by these alone.
STAGED, SET_ASIDE = "tmp", "old"


def copy_prefix(target: Path, kind: str) -> str:
    """The name of a copy of target, up to its random part (tempfile's prefix)."""
    return f".{target.name}.{kind}-"


def copies_pattern(target: Path, kind: str) -> str:
    """A glob of target's copies of that kind (target's name taken literally)."""
    return f"{glob.escape(copy_prefix(target, kind))}*"


def _copy_of(target: Path, copy: Path, kind: str) -> bool:
    """Whether copy is a sibling of target named as the writer names one (tempfile's)."""
    name = re.escape(copy_prefix(target, kind))
    return _real(copy).parent == _real(target).parent and (
        re.fullmatch(f"{name}[A-Za-z0-9_]+", copy.name) is not None
    )


def _linked_folder(step: Step) -> Path | None:
    """A folder a patch step's names go through, under its target or copies, that is a link
    (a rename through it would move a file from outside, or into it); None when none is."""
    checked: set[Path] = set()
    for name in [*(step.changed or ()), *step.removed]:
        for root in (step.target, step.staging, step.backup):
            folder = (root / name).parent
            while folder != root and folder not in checked:
                checked.add(folder)
                if os.path.islink(folder):
                    return folder
                folder = folder.parent
    return None


def _step_of(item: dict[str, Any]) -> Step:
    changed = item.get("changed")
    if changed is None:
        return Step(Path(item["target"]), Path(item["staging"]), Path(item["backup"]))
    names = [*changed, *item["removed"]]
    if not all(isinstance(name, str) and _inside(name) for name in names):
        raise ValueError("a patch step names a path outside its output")
    return Step(
        Path(item["target"]),
        Path(item["staging"]),
        Path(item["backup"]),
        tuple(changed),
        tuple(item["removed"]),
    )


def _inside(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "" not in parts


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends (they are delivered then)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _forward(step: Step) -> None:
    """Bring one step to 'swapped', from whatever state a crash left it in."""
    if step.changed is not None:
        _forward_patch(step, step.changed)
        return
    if os.path.lexists(step.staging):
        if os.path.lexists(step.target):
            rename(step.target, step.backup)
        rename(step.staging, step.target)
    elif not os.path.lexists(step.target) and os.path.lexists(step.backup):
        rename(step.backup, step.target)  # the staged copy is lost: keep the previous output


def _forward_patch(step: Step, changed: Sequence[str]) -> None:
    """A patch step to 'swapped': every removed file aside and the folders that emptied
    removed (first: a removed file may stand where a new file's folder goes, or the reverse),
    then every changed file in place (its previous one aside). Each file moves at most once
    each way, so running it again after a crash finishes it. Paths are text and each folder is
    made once: this runs for every changed file."""
    staging, target, backup = str(step.staging), str(step.target), str(step.backup)
    made: set[str] = set()
    for name in step.removed:
        current, aside = os.path.join(target, name), os.path.join(backup, name)
        if os.path.lexists(current) and not os.path.lexists(aside):
            _folder_of(aside, made)
            rename(current, aside)
    _prune(step.target, step.removed)
    for name in changed:
        staged = os.path.join(staging, name)
        if not os.path.lexists(staged):
            continue  # moved in already
        current, aside = os.path.join(target, name), os.path.join(backup, name)
        if os.path.lexists(current) and not os.path.lexists(aside):
            _folder_of(aside, made)
            rename(current, aside)
        _folder_of(current, made)
        rename(staged, current)


def _folder_of(path: str, made: set[str]) -> None:
    """Make the folder holding path (and its parents) unless made holds it already."""
    folder = os.path.dirname(path)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)


def _roll_back_patch(step: Step, changed: Sequence[str]) -> None:
    """A patch step back to 'staged', _forward_patch undone in reverse: the new files back in
    staging and the previous ones in place, folders made only for new files removed, then
    the removed files back in place."""
    for name in reversed(changed):
        staged, current, aside = step.staging / name, step.target / name, step.backup / name
        if not os.path.lexists(staged) and os.path.lexists(current):
            rename(current, staged)
        if os.path.lexists(aside) and not os.path.lexists(current):
            rename(aside, current)
    _prune(step.target, changed)
    for name in step.removed:
        current, aside = step.target / name, step.backup / name
        if os.path.lexists(aside) and not os.path.lexists(current):
            current.parent.mkdir(parents=True, exist_ok=True)
            rename(aside, current)


def _prune(target: Path, names: Sequence[str]) -> None:
    """Remove the folders under target that holding names made and that are now empty."""
    for name in names:
        folder = (target / name).parent
        while folder != target and folder.is_relative_to(target):
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): its parents are not empty either
                break
            folder = folder.parent


def _roll_back(steps: Sequence[Step]) -> None:
    """Bring every step back to 'staged' (target the previous output, staging the new one)."""
    for step in reversed(steps):
        if step.changed is not None:
            _roll_back_patch(step, step.changed)
            continue
        if not os.path.lexists(step.staging) and os.path.lexists(step.target):
            rename(step.target, step.staging)
        if os.path.lexists(step.backup) and not os.path.lexists(step.target):
            rename(step.backup, step.target)


def _finish(steps: Sequence[Step]) -> None:
    """Remove the journals first (the swap is then settled), then the copies left over. Those
    are leftovers only, removed by the next writer if the file system refuses now."""
    _remove_journals(steps)
    for step in steps:
        for copy in (step.backup, step.staging):
            with suppress(OSError):
                remove(copy)


def _remove_journals(steps: Sequence[Step]) -> None:
    for step in steps:
        remove(journal_temporary(step.target))
        remove(journal_path(step.target))


def named(error: OSError, path: str | os.PathLike[str]) -> OSError:
    """error, given path when it names no file (ENOSPC from a write, EIO from fsync): the
    message then names the file that failed, not the output it belongs to (review)."""
    if error.filename is None:
        error.filename = os.fspath(path)
    return error


def _write_journals(steps: Sequence[Step]) -> None:
    body = json.dumps(
        {"version": JOURNAL_VERSION, "steps": [step.to_data() for step in steps]}, indent=2
    ).encode()
    for step in steps:
        journal, temporary = journal_path(step.target), journal_temporary(step.target)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(descriptor, body)
            os.fsync(descriptor)
        except OSError as error:
            raise named(error, temporary) from None
        finally:
            os.close(descriptor)
        rename(temporary, journal)
