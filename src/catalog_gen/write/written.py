"""What the last render wrote into each output tree, so the next one need not read it again.

For every file of a tree it wrote, render records a stamp: the file's device, inode, mode, size,
modification and change times (nanoseconds) as the file system reports them, and the sha256 of
the bytes written. A later render or check trusts a file on disk to hold those bytes only while
all six stat fields still match (a hand edit, a `chmod`, a `git checkout` or a copy changes at
least one), and reads the file otherwise. The change time cannot be set back by hand: bytes
rewritten in place at the same size with the modification time set back are seen (git's index
keeps it for the same reason). A file moved into place after its stamp was taken (a patched
tree's changed files) is stamped again once moved.
On a file system that keeps whole seconds, a file rewritten in place within the second it was
stamped keeps its stat: such a stamp is not trusted (RACY_SECONDS), and the file is read once
more by the next run. With matching stamps `check` and render's ownership proof skip reading
the files (files are never written in place: always a new file, then a rename; render leaves
unchanged files where they are).

The record is one file per output tree in the cache directory
(`written-<sha256 of the tree's absolute path>.record`), replaced atomically after a successful
swap: a pickle of plain lists only (the names, then one list per stamp field: a column each, so
reading it builds no object per file but the stamps themselves), read by an unpickler that
refuses every global. It is read with suspicion: a record that does not unpickle, names another
tree or holds a malformed stamp counts as empty, which costs only speed.

A render that changed few files of a big tree (a one-leaf edit: 3 of 30,000) does not rewrite
the record: it writes what differs from it (the changed stamps and the names removed) beside it
(`written-<...>.changes`, the same format with a list of removed names), which later reads lay
over it, until the changes are many and the record is rewritten whole (the changes file then
removed). A stamp is a true observation whichever file it comes from: it says what a file held
while its inode, size and times stay those, and catalog-gen trusts it only while they do. A
changes file left over another record (a run killed between writing a record and removing the
changes) can therefore only make a file be read again, never trusted wrongly.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

RECORD_PREFIX = "written-"
RECORD_VERSION = 4
RECORD_SUFFIX = ".record"
CHANGES_SUFFIX = ".changes"
# A record is rewritten whole once its changes would name more stamps than this, or more
# than an eighth of the tree's (then they save little).
_MOST_CHANGES = 1024


class Stamp(NamedTuple):
    """A file as render left it: where it is (device, inode), its mode, size, mtime and ctime,
    and the sha256 of its bytes."""

    device: int
    inode: int
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    digest: str

    def matches(self, found: os.stat_result) -> bool:
        """The file described by found is still the one stamped (same inode, never rewritten)."""
        return (
            found.st_ino == self.inode
            and found.st_dev == self.device
            and found.st_mode == self.mode
            and found.st_size == self.size
            and found.st_mtime_ns == self.mtime_ns
            and found.st_ctime_ns == self.ctime_ns
        )


# A file changed less than this before catalog-gen looks at it may change again within the file
# system's timestamp granularity without its stat changing (git's "racily clean" entries): the
# one margin of the leaves' stat index (cache.py LeafIndex) and of the write record's stamps. A
# stamp of such a file on a file system that keeps whole seconds (its mtime and ctime both
# whole: ext4 with 128-byte inodes, ext3, FAT, HFS+, some NFS) takes an inode no file has, so the
# next run reads it (and stamps it again, older by then); nanosecond file systems see a
# same-second rewrite in the times.
RACY_SECONDS = 2
_SECOND_NS = 1_000_000_000
NO_INODE = -1


def stamp(found: os.stat_result, digest: str) -> Stamp:
    return Stamp(
        found.st_dev,
        NO_INODE if _racy(found) else found.st_ino,
        found.st_mode,
        found.st_size,
        found.st_mtime_ns,
        found.st_ctime_ns,
        digest,
    )


def _racy(found: os.stat_result) -> bool:
    """Whether found may hide a same-second rewrite (RACY_SECONDS)."""
    if found.st_mtime_ns % _SECOND_NS or found.st_ctime_ns % _SECOND_NS:
        return False
    return max(found.st_mtime_ns, found.st_ctime_ns) > time.time_ns() - RACY_SECONDS * _SECOND_NS


class WriteRecord:
    """The stamps of the files render last wrote, per output tree, kept in directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._trees: dict[str, dict[str, Stamp]] = {}
        self._whole: dict[str, dict[str, Stamp]] = {}  # the record file's own stamps, per tree

    def stamps(self, tree: Path) -> Mapping[str, Stamp]:
        """relative POSIX path -> stamp, for the files last written under tree (maybe none)."""
        key = os.path.abspath(tree)
        if key not in self._trees:
            whole = self._whole[key] = _read(self._path(key), key)
            changes = _read_changes(self._path(key).with_suffix(CHANGES_SUFFIX), key)
            self._trees[key] = whole if changes is None else _changed(whole, *changes)
        return self._trees[key]

    def save(self, tree: Path, stamps: Mapping[str, Stamp]) -> None:
        """Record what was just written under tree: what differs from the record file beside
        it while that is little, else the record whole; a failure to write only costs speed (a
        record that says what the one read says already is not written again)."""
        key = os.path.abspath(tree)
        if self.stamps(tree) == stamps:
            return
        self._trees[key] = dict(stamps)
        whole = self._whole[key]
        changed = {name: found for name, found in stamps.items() if whole.get(name) != found}
        removed = sorted(whole.keys() - stamps.keys())
        path = self._path(key)
        with contextlib.suppress(OSError):
            if len(changed) + len(removed) > min(_MOST_CHANGES, len(stamps) // 8):
                replace_file(path, _pickled(key, stamps))
                self._whole[key] = dict(stamps)
                remove_file(path.with_suffix(CHANGES_SUFFIX))
                # The JSON record earlier catalog-gens kept for this tree: never read now.
                remove_file(path.with_suffix(".json"))
            else:
                replace_file(path.with_suffix(CHANGES_SUFFIX), _pickled(key, changed, removed))

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / f"{RECORD_PREFIX}{name}{RECORD_SUFFIX}"


def _pickled(key: str, stamps: Mapping[str, Stamp], removed: list[str] | None = None) -> bytes:
    """A record (removed None) or a changes file (removed: the names no longer there)."""
    columns = [list(column) for column in zip(*stamps.values(), strict=True)]
    if not columns:
        columns = [[] for _ in Stamp._fields]
    record = (RECORD_VERSION, key, list(stamps), *columns)
    if removed is not None:
        record = (*record, removed)
    return pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)


def _changed(
    whole: Mapping[str, Stamp], changed: Mapping[str, Stamp], removed: list[str]
) -> dict[str, Stamp]:
    stamps = {**whole, **changed}
    for name in removed:
        stamps.pop(name, None)
    return stamps


_TEMPORARY = ".tmp-"  # replace_file writes `.<name>.tmp-<random>` first
# Every temporary file replace_file makes in a folder, whatever it replaces.
TEMPORARY_FILES = f".*{_TEMPORARY}*"


def remove_file(path: Path) -> None:
    """Remove one of catalog-gen's own files (the cache folder's), or a folder in its place."""
    try:
        path.unlink(missing_ok=True)
    except IsADirectoryError:
        shutil.rmtree(path)


def replace_file(path: Path, content: bytes) -> None:
    """Write content beside path, then rename it over path (readers see the old or the new
    bytes, never part of them); no fsync: what uses it (this record, the cache) only costs speed
    when lost. Only for catalog-gen's own files (the cache folder): a folder at path is
    removed (else nothing could ever be kept there again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}{_TEMPORARY}", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        try:
            os.replace(name, path)
        except IsADirectoryError:
            remove_file(path)
            os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


class _PlainUnpickler(pickle.Unpickler):
    """Lists, tuples, text and integers only: a record names no class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("a write record holds only lists of text and integers")


def _read(path: Path, key: str) -> dict[str, Stamp]:
    data = _read_plain(path, key, 3 + len(Stamp._fields))
    return {} if data is None else _stamps(data) or {}


def _read_changes(path: Path, key: str) -> tuple[dict[str, Stamp], list[str]] | None:
    """A changes file's stamps and removed names; None when there is none, or a malformed one."""
    data = _read_plain(path, key, 4 + len(Stamp._fields))
    if data is None:
        return None
    removed = data[-1]
    changed = _stamps(data[:-1])
    if changed is None or type(removed) is not list or not set(map(type, removed)) <= {str}:
        return None
    return changed, removed


def _read_plain(path: Path, key: str, size: int) -> tuple[Any, ...] | None:
    """The tuple of plain values a record or changes file of this version and tree holds."""
    try:
        data = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception:  # unreadable, not a pickle, or not one of plain values: none
        return None
    if type(data) is not tuple or len(data) != size:
        return None
    if data[0] != RECORD_VERSION or data[1] != key:
        return None
    return data


def _stamps(data: tuple[Any, ...]) -> dict[str, Stamp] | None:
    names, columns = data[2], list(data[3:])
    if not _well_formed(names, columns):
        return None
    # tuple.__new__ straight from the columns: a stamp per output file, no Python call per stamp.
    made: Iterator[Stamp] = map(functools.partial(tuple.__new__, Stamp), zip(*columns, strict=True))
    return dict(zip(names, made, strict=True))


def _well_formed(names: Any, columns: list[Any]) -> bool:
    """The names text, every column a list as long, six of integers and one of sha256s in hex
    (checked a column at a time, with C-level maps: a record holds a stamp per output file)."""
    if type(names) is not list or not set(map(type, names)) <= {str}:
        return False
    if {type(column) for column in columns} != {list} or {len(column) for column in columns} != {
        len(names)
    }:
        return False
    return all(set(map(type, column)) <= {int} for column in columns[:-1]) and (
        set(map(type, columns[-1])) <= {str} and set(map(len, columns[-1])) <= {64}
    )
