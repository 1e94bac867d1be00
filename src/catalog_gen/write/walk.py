"""Walking an output tree to prove it ours (render) or to find what changed in it (check), with
a stat per file, in one process.

Every walk goes os.walk's way: a folder's own entries, then each of its subfolders', in the
order the file system lists them, so what is reported is in one order. The folders a tree has,
and the order of their entries, do not change meanwhile: both run under the writers' lock
(write/writer.py). One process walks 30,000 files in about 0.2 s; the walk was shared out among
the `--jobs` processes until the twenty-second round, which measured it slower that way, warm or
with the page cache dropped (the names sent back cost more than the stats saved).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from catalog_gen.write.written import Stamp


def _listing(directory: str) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]]:
    """directory's folders, then its other entries (links to folders among them)."""
    folders: list[os.DirEntry[str]] = []
    others: list[os.DirEntry[str]] = []
    with os.scandir(directory) as listing:
        for entry in listing:
            (folders if entry.is_dir(follow_symlinks=False) else others).append(entry)
    return folders, others


# -- render: is every file ours? ----------------------------------------------------------------


def plain_file(entry: os.DirEntry[str]) -> bool:
    """Whether entry may be catalog-gen's: a regular file, not a link (it writes nothing else);
    render refuses a tree holding anything else, and check reports it (seen below)."""
    return entry.is_file(follow_symlinks=False)


@dataclass
class Ownership:
    """What a walk found of a tree render is to replace: the entries catalog-gen did not write
    (links, special files, files without its marker), the files its record's stamp proves
    (unread: their names only) and the stamps of those proven by reading them, by relative
    POSIX path."""

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
    root: str, stamps: Mapping[str, Stamp], read_ours: Callable[[str], Stamp | None]
) -> Ownership:
    """The tree at root walked (one lstat per file and folder): a file whose stamp matches is ours
    unread, any other regular file if read_ours (which reads it) gives its stamp; foreign
    entries in a walk's order (os.walk's: a folder's files, then its subfolders)."""
    found = Ownership()
    _own(root, "", stamps, read_ours, found)
    found.empty = [folder for folder in found.empty if folder != root]
    return found


def _own(
    directory: str,
    prefix: str,
    stamps: Mapping[str, Stamp],
    read_ours: Callable[[str], Stamp | None],
    found: Ownership,
) -> None:
    """ownership's walk of directory (prefix: its path under the root, with a slash)."""
    if not os.lstat(directory).st_mode & stat.S_IWUSR:
        found.locked.append(directory)
    folders, others = _listing(directory)
    if not folders and not others:
        found.empty.append(directory)
    for entry in others:
        name = prefix + entry.name
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
    for entry in folders:
        _own(entry.path, f"{prefix}{entry.name}/", stamps, read_ours, found)


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


def seen(root: str, stamps: Mapping[str, Stamp]) -> Seen:
    """The tree at root's entries (none when it is no folder), with a stat of each file."""
    found = Seen()
    if os.path.isdir(root):
        _see(root, "", stamps, found)
    return found


def _see(directory: str, prefix: str, stamps: Mapping[str, Stamp], found: Seen) -> None:
    folders, others = _listing(directory)
    for entry in others:
        name = prefix + entry.name
        if not plain_file(entry):
            found.foreign.append(name)
            continue
        found.names.append(name)
        known = stamps.get(name)
        if known is None or not known.matches(entry.stat(follow_symlinks=False)):
            found.unproven.append(name)
    for entry in folders:
        _see(entry.path, f"{prefix}{entry.name}/", stamps, found)


def listed(
    root: str,
    digests: Mapping[str, str],
    stamps: Mapping[str, Stamp],
    found: Seen | None = None,
) -> Listed:
    """The tree at root's entries (none when it is no folder), and which of its files to read:
    those whose stamp proves nothing, or whose recorded sha256 is not the expected one. found:
    the tree seen already (with these stamps)."""
    if found is None:
        found = seen(root, stamps)
    unproven = set(found.unproven)
    unknown = [
        name for name in found.names if name in unproven or stamps[name].digest != digests.get(name)
    ]
    return Listed(found.names, unknown, found.foreign)
