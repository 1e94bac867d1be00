"""What the last render wrote into each output tree, so the next one need not read it again.

For every file of a tree it wrote, render records a stamp: the file's device, inode, mode, size,
modification and change times (nanoseconds) as the file system reports them, and the sha256 of
the bytes written. A later render or check trusts a file on disk to hold those bytes only while
all six stat fields still match (a hand edit, a `chmod`, a `git checkout` or a copy changes at
least one), and reads the file otherwise. The change time cannot be set back by hand: bytes
rewritten in place at the same size with the modification time set back are seen (git's index
keeps it for the same reason). A file moved into place after its stamp was taken (a patched
tree's changed files) is stamped again once moved.
With matching stamps `check` and render's ownership proof skip reading the files (files are never
written in place: always a new file, then a rename; render leaves unchanged files where they are).

The record is one file per output tree in the cache directory
(`written-<sha256 of the tree's absolute path>.record`), replaced atomically after a successful
swap: a pickle of plain lists only (the names, then one list per stamp field: a column each, so
reading it builds no object per file but the stamps themselves), read by an unpickler that
refuses every global. It is read with suspicion: a record that does not unpickle, names another
tree or holds a malformed stamp counts as empty, which costs only speed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

RECORD_PREFIX = "written-"
RECORD_VERSION = 4
RECORD_SUFFIX = ".record"


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


def stamp(found: os.stat_result, digest: str) -> Stamp:
    return Stamp(
        found.st_dev,
        found.st_ino,
        found.st_mode,
        found.st_size,
        found.st_mtime_ns,
        found.st_ctime_ns,
        digest,
    )


class WriteRecord:
    """The stamps of the files render last wrote, per output tree, kept in directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._trees: dict[str, dict[str, Stamp]] = {}

    def stamps(self, tree: Path) -> Mapping[str, Stamp]:
        """relative POSIX path -> stamp, for the files last written under tree (maybe none)."""
        key = os.path.abspath(tree)
        if key not in self._trees:
            self._trees[key] = _read(self._path(key), key)
        return self._trees[key]

    def save(self, tree: Path, stamps: Mapping[str, Stamp]) -> None:
        """Record what was just written under tree; a failure to write only costs speed (a
        record that says what the one read says already is not written again)."""
        key = os.path.abspath(tree)
        if key in self._trees and self._trees[key] == stamps:
            return
        self._trees[key] = dict(stamps)
        columns = [list(column) for column in zip(*stamps.values(), strict=True)]
        if not columns:
            columns = [[] for _ in Stamp._fields]
        record = (RECORD_VERSION, key, list(stamps), *columns)
        body = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        with contextlib.suppress(OSError):
            replace_file(self._path(key), body)
            # The JSON record earlier catalog-gens kept for this tree: never read now.
            self._path(key).with_suffix(".json").unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / f"{RECORD_PREFIX}{name}{RECORD_SUFFIX}"


def replace_file(path: Path, content: bytes) -> None:
    """Write content beside path, then rename it over path (readers see the old or the new
    bytes, never part of them); no fsync: what uses it (this record, the cache) only costs speed
    when lost."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


class _PlainUnpickler(pickle.Unpickler):
    """Lists, tuples, text and integers only: a record names no class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("a write record holds only lists of text and integers")


def _read(path: Path, key: str) -> dict[str, Stamp]:
    try:
        data = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception:  # unreadable, not a pickle, or not one of plain values: empty
        return {}
    if (
        type(data) is not tuple
        or len(data) != 3 + len(Stamp._fields)
        or data[0] != RECORD_VERSION
        or data[1] != key
    ):
        return {}
    names, columns = data[2], list(data[3:])
    if not _well_formed(names, columns):
        return {}
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
