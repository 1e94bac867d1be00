"""Work over a list in forked processes, results in the list's order: what `--jobs N` runs.

`chunked_map(work, items, jobs)` cuts items into contiguous chunks, many more than processes,
and runs `work(chunk)` for each: here, and in up to jobs - 1 processes forked from this one
(they inherit everything already loaded: the chart contract, the environments, the plans;
nothing travels to them). Each process takes the next chunk number from a pipe when it is done
with a chunk (a number is 4 bytes, and the kernel hands each read to one reader), so a process
the machine slows down, or whose chunks cost more, takes fewer, and all end within about a
chunk of each other; with one fixed chunk each, catalog-gen waited up to a sixth of a second
for the slower one at 10,000 leaves. The results come back in chunk order, so concatenating
them gives exactly what `work(items)` gives (work must be a pure function of its chunk:
problems go into the result, not into shared state).

A process sends each chunk's result as soon as it has it, pickled, on its own pipe, which a
thread here drains while this process works on its own chunks (a pipe holds 64 KiB: the
process would otherwise stop at every chunk until this one read it); they are unpickled here
once this process is done. Objects listed in `shared` (the environments; instances of classes,
not of dict, list or other built-in types, which pickle ignores a dispatch table for) travel as
their index and come back as the very same objects, so plans share them as serial ones do.

`finish`, when given, runs in each process (this one too) after its last chunk, and what it
returns comes back too, one per process that ran a chunk: plan/fresh.py asks helm once per
process for the leaves that process planned, not once per chunk (helm's start costs about
50 ms).

Serial (one chunk, in this process) with jobs 1, with too few items to pay for the processes
(fewer than `least` per process), or where the platform cannot fork. A process never waits for
work (os.fork, not a pool): it ends when no chunk is left, so none outlives a catalog-gen that
is killed; an exception in a process is raised again in catalog-gen, and Ctrl-C there ends
them all.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import io
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

LEAST_PER_PROCESS = 250
# Chunks per process: enough that the processes end within a small chunk of each other, few
# enough that a chunk's own costs (a pickle, a read of the pipe) stay small.
CHUNKS_PER_PROCESS = 32
_TICKET = struct.Struct("=I")  # a chunk number on the tickets pipe
_MOST_CHUNKS = 1024  # their numbers (4 KiB) fit any pipe before a process reads one
_PIPE_BYTES = 1 << 20  # asked for each result pipe (Linux; the kernel may give less)
_CHUNK, _FINISHED, _FAILED, _ENDED = "chunk", "finished", "failed", "ended"


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
    finish: Callable[[], Any] | None = None,
) -> tuple[list[Result], list[Any]]:
    """[work(chunk) for each contiguous chunk of items], in order, and what finish returned in
    each process that ran a chunk (see the module docstring). least: the fewest items worth a
    process (default LEAST_PER_PROCESS)."""
    fewest = LEAST_PER_PROCESS if least is None else least
    processes = min(jobs, len(items) // max(fewest, 1))
    if processes <= 1 or not hasattr(os, "fork"):
        whole = [work(items)]
        return whole, ([] if finish is None else [finish()])
    bounds = _bounds(len(items), min(processes * CHUNKS_PER_PROCESS, _MOST_CHUNKS))
    job = _Job(work, items, bounds, _tickets_pipe(len(bounds)), shared, finish)
    children: list[_Child] = []
    results: dict[int, Any] = {}
    extras: list[Any] = []
    try:
        for _ in range(processes - 1):
            children.append(_fork(job))
        for child in children:  # threads only once every process is forked
            child.start_draining()
        results.update(job.chunks())
        if finish is not None and results:
            extras.append(finish())
        for child in children:
            _collect(child, shared, results, extras)
    finally:
        os.close(job.tickets)
        _reap(children)
    if sorted(results) != list(range(len(bounds))):  # pragma: no cover - a chunk got lost
        raise JobsProcessError("a --jobs process ended without all its results")
    return [results[index] for index in range(len(bounds))], extras


class JobsProcessError(RuntimeError):
    """A --jobs process ended without a result (killed, or out of memory): not a file-system
    error (ChildProcessError is an OSError, which the writer reports as one)."""


class _Child:
    """A forked process: its pid, the read end of its result pipe and what a thread here has
    read of it so far."""

    def __init__(self, pid: int, reader: int) -> None:
        self.pid = pid
        self.reader = reader
        self.received: list[bytes] = []
        self._thread: threading.Thread | None = None

    def start_draining(self) -> None:
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while block := os.read(self.reader, _PIPE_BYTES):
                self.received.append(block)

    def payload(self) -> bytes:
        """Everything it wrote, once it ended (its pipe closed); the pipe then closed here."""
        self.close()
        return b"".join(self.received)

    def close(self) -> None:
        """Once the process has ended (its end of the pipe closed, so the thread stops): the
        thread is waited for before the descriptor is closed, which it reads."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.reader >= 0:
            os.close(self.reader)
            self.reader = -1


def _tickets_pipe(count: int) -> int:
    """The read end of a pipe holding every chunk number, its write end closed (a read past
    the last number gives nothing)."""
    reader, writer = os.pipe()
    try:
        os.write(writer, b"".join(_TICKET.pack(index) for index in range(count)))
    finally:
        os.close(writer)
    return reader


def _taken(tickets: int) -> Iterator[int]:
    """The chunk numbers this process takes, until none is left."""
    while len(ticket := os.read(tickets, _TICKET.size)) == _TICKET.size:
        yield _TICKET.unpack(ticket)[0]


@dataclass(frozen=True)
class _Job:
    """One chunked_map, as every process runs it."""

    work: Callable[[Sequence[Any]], Any]
    items: Sequence[Any]
    bounds: Sequence[tuple[int, int]]
    tickets: int  # the read end of the pipe of chunk numbers
    shared: Sequence[object]
    finish: Callable[[], Any] | None

    def chunks(self) -> Iterator[tuple[int, Any]]:
        """(number, result) of each chunk this process takes, until none is left."""
        for index in _taken(self.tickets):
            start, end = self.bounds[index]
            yield index, self.work(self.items[start:end])


def _fork(job: _Job) -> _Child:
    """A process that runs the chunks it takes, writes each result (pickled) to its pipe, then
    what finish gives, and exits. It never waits for anything but the pipe: if catalog-gen
    dies, it ends with its chunk."""
    reader, writer = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: fewer, larger reads for the thread here
        with contextlib.suppress(OSError):
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    pid = os.fork()
    if pid != 0:
        os.close(writer)
        return _Child(pid, reader)
    os.close(reader)  # pragma: no cover - runs in the forked process (coverage does not follow)
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is catalog-gen's to report
        with os.fdopen(writer, "wb") as pipe:
            _serve(pipe, job)
        status = 0
    finally:
        os._exit(status)


def _serve(pipe: io.BufferedWriter, job: _Job) -> None:  # pragma: no cover - forked process
    ran = False
    try:
        for index, result in job.chunks():
            pipe.write(_pack((_CHUNK, index, result), job.shared))
            ran = True
        if job.finish is not None and ran:
            pipe.write(_pack((_FINISHED, job.finish()), job.shared))
    except Exception as error:  # handed to catalog-gen, which raises it
        pipe.write(_pack((_FAILED, _pack_error(error)), ()))
    pipe.write(_pack((_ENDED,), ()))


def _collect(
    child: _Child, shared: Sequence[object], results: dict[int, Any], extras: list[Any]
) -> None:
    """What the child wrote, once it ended (then waited for); its exception raised here when its
    work raised."""
    payload = child.payload()
    _, status = os.waitpid(child.pid, 0)
    child.pid = -1
    frames = _unpack_all(payload, shared)
    for frame in frames:
        if frame[0] == _FAILED:
            raise _unpickled_error(frame[1])
    if not frames or frames[-1] != (_ENDED,) or os.waitstatus_to_exitcode(status) != 0:
        raise JobsProcessError(_ended(status))
    for frame in frames:
        if frame[0] == _CHUNK:
            results[frame[1]] = frame[2]
        elif frame[0] == _FINISHED:
            extras.append(frame[1])


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


def _reap(children: Sequence[_Child]) -> None:
    """Children not collected (an error or Ctrl-C came first): ended and waited for."""
    for child in children:
        if child.pid > 0:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
        child.close()


def _bounds(count: int, chunks: int) -> list[tuple[int, int]]:
    """chunks contiguous (start, end) ranges covering range(count), none empty, their sizes
    within one of each other."""
    chunks = max(1, min(chunks, count))
    size, extra = divmod(count, chunks)
    bounds = []
    start = 0
    for index in range(chunks):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _pack(frame: Any, shared: Sequence[object]) -> bytes:
    buffer = io.BytesIO()
    _SharedPickler(buffer, shared).dump(frame)
    return buffer.getvalue()


def _pack_error(error: Exception) -> bytes:
    try:
        return pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # one that does not pickle: its words then
        return pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}"))


def _unpack_all(payload: bytes, shared: Sequence[object]) -> list[Any]:
    """Every frame _pack wrote, in a process forked by this one: shared objects are these very
    ones. A frame cut short (the process was killed while writing it) ends the list."""
    global _SHARED  # noqa: PLW0603 - read by _shared_object while this load runs
    _SHARED = shared
    frames: list[Any] = []
    stream = io.BytesIO(payload)
    try:
        while stream.tell() < len(payload):
            try:
                frames.append(pickle.load(stream))  # noqa: S301 - written by a process forked here
            except Exception:  # cut short: what came before it is what the process sent
                break
    finally:
        _SHARED = ()
    return frames


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
