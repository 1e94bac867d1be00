"""What the last render wrote into each output tree, so the next one need not read it again.

For every file of a tree it wrote, render records a stamp: the file's device, inode, mode, size
and modification time (nanoseconds) as the file system reports them, and the sha256 of the bytes
written. A later render or check trusts a file on disk to hold those bytes only while all five
stat fields still match (a hand edit, a `chmod`, a `git checkout` or a copy changes at least one),
and reads the file otherwise. A change that keeps all five (bytes rewritten in place at the same
size, then the modification time set back by hand) is not seen; `--no-cache` reads every file.
With matching stamps render hard-links the unchanged files into the new tree instead of writing
them (files are never written in place: always a new file, then a rename), and `check` and the
ownership proof skip reading them.

The record is one JSON file per output tree in the cache directory
(`written-<sha256 of the tree's absolute path>.json`), replaced atomically after a successful
swap. It is read with suspicion: a record that does not parse, names another tree or holds a
malformed stamp counts as empty, which costs only speed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

RECORD_PREFIX = "written-"
RECORD_VERSION = 2


class Stamp(NamedTuple):
    """A file as render left it: where it is (device, inode), its mode, size and mtime, and
    the sha256 of its bytes."""

    device: int
    inode: int
    mode: int
    size: int
    mtime_ns: int
    digest: str

    def matches(self, found: os.stat_result) -> bool:
        """The file described by found is still the one stamped (same inode, never rewritten)."""
        return (
            found.st_ino == self.inode
            and found.st_dev == self.device
            and found.st_mode == self.mode
            and found.st_size == self.size
            and found.st_mtime_ns == self.mtime_ns
        )


def stamp(found: os.stat_result, digest: str) -> Stamp:
    return Stamp(
        found.st_dev, found.st_ino, found.st_mode, found.st_size, found.st_mtime_ns, digest
    )


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


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
        body = json.dumps(
            {
                "version": RECORD_VERSION,
                "tree": key,
                "files": {name: list(value) for name, value in sorted(stamps.items())},
            },
            separators=(",", ":"),
        ).encode()
        with contextlib.suppress(OSError):
            replace_file(self._path(key), body)

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / f"{RECORD_PREFIX}{name}.json"


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


def _read(path: Path, key: str) -> dict[str, Stamp]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("version") != RECORD_VERSION
        or data.get("tree") != key
        or not isinstance(data.get("files"), dict)
    ):
        return {}
    files: dict[str, Any] = data["files"]
    values = list(files.values())
    if not _well_formed(values):
        return {}
    # tuple.__new__ straight from each list: a stamp per output file, no Python call per stamp.
    made: Iterator[Stamp] = map(functools.partial(tuple.__new__, Stamp), values)
    return dict(zip(files, made, strict=True))


def _well_formed(values: list[Any]) -> bool:
    """Every value a stamp: five integers and a sha256 in hex (checked a column at a time, with
    C-level maps: a record holds a stamp per output file)."""
    if not set(map(type, values)) <= {list} or not set(map(len, values)) <= {len(Stamp._fields)}:
        return False
    columns = list(zip(*values, strict=True))
    return all(set(map(type, column)) <= {int} for column in columns[:-1]) and (
        not columns or (set(map(type, columns[-1])) <= {str} and set(map(len, columns[-1])) <= {64})
    )
