"""Work over a list in forked processes, results in the list's order: what `--jobs N` runs.

`chunked_map(work, items, jobs)` cuts items into contiguous chunks, runs `work(chunk)` for each
in up to `jobs` processes forked from this one (they inherit everything already loaded: the
chart contract, the environments, the plans; only the chunk bounds travel to them) and returns
the results in chunk order, so that concatenating them gives exactly what `work(items)` gives
(work must be a pure function of its chunk: problems go into the result, not into shared
state). Results travel back pickled; objects listed in `shared` (the environments) travel as
their index and come back as the very same objects, so plans share them as serial ones do.

Serial (one chunk, in this process) with jobs 1, with too few items to pay for the processes
(fewer than `least` per process), or where the platform cannot fork.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

LEAST_PER_PROCESS = 250
CHUNKS_PER_PROCESS = 4  # smaller chunks even out processes a busy machine slows unequally

# What the forked processes run: set by chunked_map just before it forks them.
_TASK: tuple[Callable[[Sequence[Any]], Any], Sequence[Any], Sequence[object]] | None = None


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
) -> list[Result]:
    """[work(chunk) for each contiguous chunk of items], in order (see the module docstring).
    least: the fewest items worth a process (default LEAST_PER_PROCESS)."""
    fewest = LEAST_PER_PROCESS if least is None else least
    processes = min(jobs, len(items) // max(fewest, 1))
    if processes <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(items)]
    bounds = _bounds(len(items), processes * CHUNKS_PER_PROCESS)
    global _TASK  # noqa: PLW0603 - handed to the forked processes through their memory
    _TASK = (work, items, shared)
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_ignore_interrupts)
    try:
        packed = list(pool.map(_run_chunk, bounds))
    except BaseException:
        # Ctrl-C (or a chunk's error): the chunks not started are dropped, not waited for.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        _TASK = None
    pool.shutdown(wait=True)
    return [_unpack(blob, shared) for blob in packed]


def _ignore_interrupts() -> None:
    """In a forked process: Ctrl-C is the parent's to handle (one line, exit 130, cli.py); the
    process ends after its chunk."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _bounds(count: int, chunks: int) -> list[tuple[int, int]]:
    """chunks contiguous (start, end) ranges covering range(count), none empty."""
    chunks = max(1, min(chunks, count))
    size, extra = divmod(count, chunks)
    bounds: list[tuple[int, int]] = []
    start = 0
    for index in range(chunks):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _run_chunk(bounds: tuple[int, int]) -> bytes:
    """In a forked process: work on one chunk, its result pickled with shared objects named."""
    if _TASK is None:  # pragma: no cover - only a process forked by chunked_map runs this
        raise RuntimeError("chunked_map's task is missing in the worker")
    work, items, shared = _TASK
    start, end = bounds
    result = work(items[start:end])
    buffer = io.BytesIO()
    _SharedPickler(buffer, shared).dump(result)
    return buffer.getvalue()


def _unpack(blob: bytes, shared: Sequence[object]) -> Any:
    return _SharedUnpickler(io.BytesIO(blob), shared).load()


class _SharedPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: Sequence[object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._index = {id(obj): index for index, obj in enumerate(shared)}

    def persistent_id(self, obj: Any) -> Any:
        return self._index.get(id(obj))


class _SharedUnpickler(pickle.Unpickler):
    """Only ever reads what _SharedPickler wrote in a process this one forked."""

    def __init__(self, file: io.BytesIO, shared: Sequence[object]) -> None:
        super().__init__(file)
        self._shared = shared

    def persistent_load(self, pid: Any) -> Any:
        return self._shared[pid]
