"""Work over a list in forked processes, results in the list's order: what `--jobs N` runs.

`chunked_map(work, items, jobs)` cuts items into up to `jobs` contiguous chunks, runs
`work(chunk)` for the first here and for each other in a process forked from this one (it
inherits everything already loaded: the chart contract, the environments, the plans; nothing
travels to it) and returns the
results in chunk order, so that concatenating them gives exactly what `work(items)` gives
(work must be a pure function of its chunk: problems go into the result, not into shared
state). Results travel back pickled; objects listed in `shared` (the environments; instances
of classes, not of dict, list or other built-in types, which pickle ignores a dispatch table
for) travel as their index and come back as the very same objects, so plans share them as
serial ones do.

Serial (one chunk, in this process) with jobs 1, with too few items to pay for the processes
(fewer than `least` per process), or where the platform cannot fork. Otherwise catalog-gen runs
the first chunk itself, and each other chunk runs in a process of its own, which runs it at once,
writes its result to its own pipe and exits (os.fork, not a pool: a process never waits for
work, so none outlives a catalog-gen that is killed); an exception in a process is raised again
in catalog-gen, and Ctrl-C there ends them all.
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

LEAST_PER_PROCESS = 250
_OK, _FAILED = b"0", b"1"


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def chunked_map(
    work: Callable[[Sequence[Item]], Result],
    items: Sequence[Item],
    jobs: int,
    *,
    shared: Sequence[object] = (),
    least: int | None = None,
    first_share: float = 1.0,
) -> list[Result]:
    """[work(chunk) for each contiguous chunk of items], in order (see the module docstring).
    least: the fewest items worth a process (default LEAST_PER_PROCESS). first_share: the
    first chunk's size (catalog-gen's own) over each other's: above 1 where pickling a
    result costs the other processes enough that they would end last."""
    fewest = LEAST_PER_PROCESS if least is None else least
    processes = min(jobs, len(items) // max(fewest, 1))
    if processes <= 1 or not hasattr(os, "fork"):
        return [work(items)]
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe), not yet collected
    (start, end), *others = _bounds(len(items), processes, first_share)
    try:
        for other_start, other_end in others:
            children.append(_fork(work, items[other_start:other_end], shared))
        # The first chunk is this process's: its result is neither pickled nor unpickled.
        results = [work(items[start:end])]
        while children:
            results.append(_unpack(_collect(children), shared))
    finally:
        _reap(children)
    return results


def _fork(
    work: Callable[[Sequence[Any]], Any], chunk: Sequence[Any], shared: Sequence[object]
) -> tuple[int, int]:
    """A process that runs work(chunk), writes its result (pickled) to a pipe and exits. It
    never waits for anything but the pipe: if catalog-gen dies, it ends with its chunk."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(writer)
        return pid, reader
    os.close(reader)  # pragma: no cover - runs in the forked process (coverage does not follow)
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is catalog-gen's to report
        try:
            payload = _OK + _pack(work(chunk), shared)
        except Exception as error:  # handed to catalog-gen, which raises it
            payload = _FAILED + _pack_error(error)
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)


def _collect(children: list[tuple[int, int]]) -> bytes:
    """What the first child wrote (it is then off the list: its pipe closed, it waited for);
    its exception raised here when its work raised."""
    pid, reader = children[0]
    with os.fdopen(reader, "rb") as pipe:
        children[0] = (pid, -1)
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    del children[0]
    if payload[:1] == _FAILED:
        raise _unpickled_error(payload[1:])
    if payload[:1] != _OK or os.waitstatus_to_exitcode(status) != 0:
        raise JobsProcessError(_ended(status))
    return payload[1:]


class JobsProcessError(RuntimeError):
    """A --jobs process ended without a result (killed, or out of memory): not a file-system
    error (ChildProcessError is an OSError, which the writer reports as one)."""


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"a --jobs process was ended by signal {os.WTERMSIG(status)} before its result"
    code = os.waitstatus_to_exitcode(status)
    return f"a --jobs process ended without a result (exit status {code})"


def _unpickled_error(blob: bytes) -> BaseException:
    """The exception a child raised; its words when it does not unpickle (an exception whose
    constructor takes other arguments than it keeps)."""
    try:
        error = pickle.loads(blob)  # noqa: S301 - written by a process forked here
    except Exception as failure:  # any unpickling error: say what came
        return RuntimeError(f"a --jobs process failed, and its error did not unpickle: {failure}")
    if not isinstance(error, BaseException):
        return RuntimeError(f"a --jobs process failed with {error!r}")
    return error


def _reap(children: Sequence[tuple[int, int]]) -> None:
    """Children not collected (an error or Ctrl-C came first): ended and waited for."""
    for pid, reader in children:
        if reader >= 0:
            os.close(reader)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _bounds(count: int, chunks: int, first_share: float = 1.0) -> list[tuple[int, int]]:
    """chunks contiguous (start, end) ranges covering range(count), none empty; the first
    first_share times as long as each other (as near as whole items allow)."""
    chunks = max(1, min(chunks, count))
    first = min(
        count - (chunks - 1), max(1, round(count * first_share / (first_share + chunks - 1)))
    )
    bounds = [(0, first)]
    size, extra = divmod(count - first, chunks - 1) if chunks > 1 else (0, 0)
    start = first
    for index in range(chunks - 1):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _pack(result: Any, shared: Sequence[object]) -> bytes:
    buffer = io.BytesIO()
    _SharedPickler(buffer, shared).dump(result)
    return buffer.getvalue()


def _pack_error(error: Exception) -> bytes:
    try:
        return pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # one that does not pickle: its words then
        return pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))


def _unpack(blob: bytes, shared: Sequence[object]) -> Any:
    """What _pack wrote, in a process forked by this one: shared objects are these very ones."""
    global _SHARED  # noqa: PLW0603 - read by _shared_object while this load runs
    _SHARED = shared
    try:
        return pickle.loads(blob)  # noqa: S301 - written by a process forked here
    finally:
        _SHARED = ()


class _SharedPickler(pickle.Pickler):
    """Pickles a shared object as its index. By type (a dispatch table, looked up in C), not a
    persistent_id: that would call Python for every object pickled (twice the cost)."""

    def __init__(self, file: io.BytesIO, shared: Sequence[object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        index = {id(obj): position for position, obj in enumerate(shared)}

        def reduce(obj: Any) -> Any:
            position = index.get(id(obj))
            if position is None:
                return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
            return _shared_object, (position,)

        self.dispatch_table = dict(copyreg.dispatch_table)
        self.dispatch_table.update({type(obj): reduce for obj in shared})


# The shared objects of the chunked_map running now, for _shared_object while unpickling.
_SHARED: Sequence[object] = ()


def _shared_object(position: int) -> object:
    return _SHARED[position]
