"""Walking an output tree to prove it ours (render) or to find what changed in it (check), with
a stat per file: in `--jobs` processes when the tree is big.

A tree render wrote holds a folder per service (`<environment>/<namespace>/<service>/`): the
walk lists the folders down to SPLIT_DEPTH itself, then walks the folders at that depth, each
whole, in chunks that plan/parallel.py shares out. The results are put back in the order of
one walk (a folder's own files, then each subfolder's walk, in the order the file system lists
them), so what is reported does not depend on jobs. The folders a tree has, and the order of
their entries, do not change meanwhile: both run under the writers' lock (write/writer.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from catalog_gen.plan.parallel import chunked_map
from catalog_gen.write.written import Stamp

SPLIT_DEPTH = 3  # <environment>/<namespace>/<service>: the folders walked whole, in parts
# Fewer folders than this per process are walked faster by one (a fork costs about 10 ms).
_LEAST_FOLDERS_PER_PROCESS = 500

Found = TypeVar("Found")
# What a walk gives for a folder (path, its prefix under the root, and whether to go into its
# subfolders too).
FolderWalk = Callable[[str, str, bool], Found]


def walk_in_parts(root: str, walk: FolderWalk[Found], jobs: int) -> list[Found]:
    """walk's result for each part of the tree under root, in one walk's order: a folder above
    SPLIT_DEPTH for its own files, one at that depth with everything below it (those in up to
    jobs processes)."""
    parts = list(_parts(root, "", 0))
    whole = [(path, prefix) for path, prefix, deep in parts if deep]

    def walk_whole(chunk: Sequence[tuple[str, str]]) -> list[Found]:
        return [walk(path, prefix, True) for path, prefix in chunk]

    walked: Iterator[Found]
    if jobs > 1 and len(whole) >= 2 * _LEAST_FOLDERS_PER_PROCESS:
        chunks, _ = chunked_map(walk_whole, whole, jobs, least=_LEAST_FOLDERS_PER_PROCESS)
        walked = iter([found for chunk in chunks for found in chunk])
    else:
        walked = (walk(path, prefix, True) for path, prefix in whole)
    return [next(walked) if deep else walk(path, prefix, False) for path, prefix, deep in parts]


def _parts(directory: str, prefix: str, depth: int) -> Iterator[tuple[str, str, bool]]:
    """(path, prefix, whole) of each part of the tree, in a walk's order."""
    if depth == SPLIT_DEPTH:
        yield directory, prefix, True
        return
    yield directory, prefix, False
    with os.scandir(directory) as listing:
        folders = [entry for entry in listing if entry.is_dir(follow_symlinks=False)]
    for entry in folders:
        yield from _parts(entry.path, f"{prefix}{entry.name}/", depth + 1)


def _files(
    directory: str,
    prefix: str,
    deep: bool,
    empty: list[str] | None = None,
    locked: list[str] | None = None,
) -> Iterator[tuple[os.DirEntry[str], str]]:
    """Every entry but the folders of directory, each with its path under the tree's root, then
    (deep) those of each subfolder: os.walk's order. empty (when given) receives the folders
    walked that hold nothing at all, locked (when given) those without their owner's write
    permission."""
    if locked is not None and not os.lstat(directory).st_mode & stat.S_IWUSR:
        locked.append(directory)
    with os.scandir(directory) as listing:
        entries = list(listing)
    if not entries and empty is not None:
        empty.append(directory)
    folders = [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            yield entry, prefix + entry.name
    if deep:
        for entry in folders:
            yield from _files(entry.path, f"{prefix}{entry.name}/", deep, empty, locked)


# -- render: is every file ours? ----------------------------------------------------------------


def plain_file(entry: os.DirEntry[str]) -> bool:
    """Whether entry may be catalog-gen's: a regular file, not a link (it writes nothing else);
    render refuses a tree holding anything else, and check reports it (seen below)."""
    return entry.is_file(follow_symlinks=False)


@dataclass
class Ownership:
    """What a walk found of a tree render is to replace: the entries catalog-gen did not write
    (links, special files, files without its marker), the files its record's stamp proves
    (unread: their names only, which cost less to send back from a --jobs process than their
    stamps) and the stamps of those proven by reading them, by relative POSIX path."""

    foreign: list[str] = field(default_factory=list)
    stamped: list[str] = field(default_factory=list)
    read: dict[str, Stamp] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)  # folders holding nothing (the root aside)
    locked: list[str] = field(default_factory=list)  # folders without their owner's write bit

    def proven(self, stamps: Mapping[str, Stamp]) -> dict[str, Stamp]:
        """The stamp of every file of the tree catalog-gen wrote (stamps: the walk's)."""
        if len(self.stamped) == len(stamps):  # every recorded file there, its stamp matching
            return {**stamps, **self.read}
        return {**{name: stamps[name] for name in self.stamped}, **self.read}


def ownership(
    root: str,
    stamps: Mapping[str, Stamp],
    read_ours: Callable[[str], Stamp | None],
    jobs: int,
) -> Ownership:
    """The tree at root walked (one lstat per file and folder): a file whose stamp matches is ours
    unread, any other regular file if read_ours (which reads it) gives its stamp; foreign
    entries in a walk's order (os.walk's: a folder's files, then its subfolders)."""

    def walk(directory: str, prefix: str, deep: bool) -> Ownership:
        found = Ownership()
        for entry, name in _files(directory, prefix, deep, found.empty, found.locked):
            if not plain_file(entry):
                found.foreign.append(entry.path)
            elif (known := stamps.get(name)) is not None and known.matches(
                entry.stat(follow_symlinks=False)
            ):
                found.stamped.append(name)
            elif (read := read_ours(entry.path)) is not None:
                found.read[name] = read
            else:
                found.foreign.append(entry.path)
        return found

    total = Ownership()
    for part in walk_in_parts(root, walk, jobs):
        total.foreign += part.foreign
        total.stamped += part.stamped
        total.read.update(part.read)
        total.empty += part.empty
        total.locked += part.locked
    total.empty = [folder for folder in total.empty if folder != root]
    return total


# -- check: which files must be read? ---------------------------------------------------------


@dataclass
class Seen:
    """The regular files of a tree, those of them whose stamp does not prove them unchanged
    (none, another stat), and the other entries (links, special files: not plain_file)."""

    names: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@dataclass
class Listed:
    """The regular files of a tree, those of them that must be read to compare them (all but
    those whose stamp matches with the expected sha256), and the other entries (Seen)."""

    names: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def seen(root: str, stamps: Mapping[str, Stamp], jobs: int) -> Seen:
    """The tree at root's entries (none when it is no folder), with a stat of each file."""
    if not os.path.isdir(root):
        return Seen()

    def walk(directory: str, prefix: str, deep: bool) -> Seen:
        found = Seen()
        for entry, name in _files(directory, prefix, deep):
            if not plain_file(entry):
                found.foreign.append(name)
                continue
            found.names.append(name)
            known = stamps.get(name)
            if known is None or not known.matches(entry.stat(follow_symlinks=False)):
                found.unproven.append(name)
        return found

    total = Seen()
    for part in walk_in_parts(root, walk, jobs):
        total.names += part.names
        total.unproven += part.unproven
        total.foreign += part.foreign
    return total


def listed(
    root: str,
    digests: Mapping[str, str],
    stamps: Mapping[str, Stamp],
    jobs: int,
    found: Seen | None = None,
) -> Listed:
    """The tree at root's entries (none when it is no folder), and which of its files to read:
    those whose stamp proves nothing, or whose recorded sha256 is not the expected one. found:
    the tree seen already (with these stamps)."""
    if found is None:
        found = seen(root, stamps, jobs)
    unproven = set(found.unproven)
    unknown = [
        name for name in found.names if name in unproven or stamps[name].digest != digests.get(name)
    ]
    return Listed(found.names, unknown, found.foreign)
