"""The base side of a diff: files of a git commit, read with git's plumbing.

Nothing is checked out and nothing is written in the repository: `git ls-tree` lists the blobs
under a path at the commit, `git cat-file --batch` streams them into a temporary folder (the
catalog and the chart) or into memory (the committed values files).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath


class GitError(Exception):
    """Not a git repository, an unknown REF, or git failed: a usage error."""


def _git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False
        )
    except OSError as error:
        raise GitError(f"cannot run git: {error}") from error
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args[:2])} failed: {message}")
    return result.stdout


def repository_root(path: Path) -> Path:
    """The top of the work tree holding path."""
    where = path if path.is_dir() else path.parent
    try:
        text = _git(where, "rev-parse", "--show-toplevel")
    except GitError as error:
        raise GitError(f"{path} is not inside a git work tree") from error
    return Path(text.decode().strip()).resolve()


def resolve_commit(root: Path, ref: str) -> str:
    """The full commit id REF names."""
    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a git revision")
    try:
        text = _git(
            root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
    except GitError as error:
        raise GitError(f"{ref!r} names no commit in {root}") from error
    return text.decode().strip()


def relative_to_root(root: Path, path: Path) -> PurePosixPath:
    """path as git names it at any commit: relative to the top of the work tree."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError as error:
        raise GitError(f"{path} is outside the git work tree {root}") from error
    return PurePosixPath(relative.as_posix())


def _entries(root: Path, commit: str, path: PurePosixPath) -> list[tuple[str, str, PurePosixPath]]:
    """(mode, blob id, path) of every file under path at commit."""
    listing = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", str(path))
    entries: list[tuple[str, str, PurePosixPath]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.decode("utf-8", "surrogateescape").partition("\t")
        mode, kind, object_id = meta.split()
        if kind == "blob":  # submodules (commit) have no files here
            entries.append((mode, object_id, PurePosixPath(name)))
    return entries


def read_named(
    root: Path, commit: str, folder: PurePosixPath, name: str
) -> dict[PurePosixPath, bytes]:
    """The regular files called name under folder at commit, by their folder relative to
    folder (generated/dev/ns/svc/values.yaml: dev/ns/svc); empty when folder is not there.
    A symbolic link is left out: git stores its target, not the content a reader would see."""
    entries = [
        (object_id, file_name)
        for mode, object_id, file_name in _entries(root, commit, folder)
        if file_name.name == name and mode in ("100644", "100755")
    ]
    contents = _blobs(root, [object_id for object_id, _ in entries])
    return {
        file_name.parent.relative_to(folder): content
        for (_, file_name), content in zip(entries, contents, strict=True)
    }


def extract(root: Path, commit: str, path: PurePosixPath, target: Path) -> bool:
    """Write the files under path at commit into target/path; False when path is not there."""
    entries = _entries(root, commit, path)
    if not entries:
        return False
    contents = _blobs(root, [object_id for _, object_id, _ in entries])
    for (mode, _, file_name), content in zip(entries, contents, strict=True):
        destination = target / file_name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000":  # a symbolic link: its target is the blob
            os.symlink(content.decode("utf-8", "surrogateescape"), destination)
        else:
            destination.write_bytes(content)
            if mode == "100755":
                destination.chmod(0o755)
    return True


def _blobs(root: Path, object_ids: list[str]) -> list[bytes]:
    """The contents of the blobs, in order, from one `git cat-file --batch`."""
    if not object_ids:
        return []
    output = _git(root, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in object_ids).encode())
    contents: list[bytes] = []
    position = 0
    for _ in object_ids:
        end = output.index(b"\n", position)
        size = int(output[position:end].split()[2])
        contents.append(output[end + 1 : end + 1 + size])
        position = end + 1 + size + 1  # the content, then a newline
    return contents
