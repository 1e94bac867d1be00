"""--jobs: planning and emitting in forked processes gives what one process gives, in order."""

from __future__ import annotations

import itertools
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog_gen import cache
from catalog_gen.plan import parallel
from catalog_gen.plan.parallel import JobsProcessError, chunked_map, default_jobs
from catalog_gen.write.writer import read_tree
from tests.conftest import REPO_ROOT
from tests.unit.helpers import FIXTURES, make_catalog, run_cli, written_aside


@dataclass
class Named:
    name: str


def doubled(chunk: Sequence[int]) -> list[int]:
    return [2 * item for item in chunk]


def meet(folder: Path, count: int) -> None:
    """Each process's first call waits (10 s at most) until count processes have called it:
    every process then holds a chunk, however busy the machine."""
    mark = folder / str(os.getpid())
    if mark.exists():
        return
    mark.touch()
    deadline = time.monotonic() + 10
    while len(list(folder.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.parametrize("count", [0, 1, 5, 17, 100, 1000])
@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_chunks_concatenate_to_the_serial_result(count: int, jobs: int) -> None:
    items = list(range(count))
    mapped = chunked_map(doubled, items, jobs, least=1)
    results = mapped[0]
    assert [item for chunk in results for item in chunk] == doubled(items)
    assert all(results) or count == 0  # no chunk is empty
    assert not mapped[1]  # nothing finished: no finish given
    if min(jobs, count) > 1:  # many more chunks than processes: they end close together
        assert len(results) == min(count, jobs * parallel.CHUNKS_PER_PROCESS)
    else:
        assert results == [doubled(items)]


def test_chunks_run_in_every_process_and_shared_objects_come_back(tmp_path: Path) -> None:
    shared = [Named("dev"), Named("prod")]

    def work(chunk: Sequence[int]) -> list[tuple[int, object, object]]:
        meet(tmp_path, 3)
        return [(os.getpid(), shared[0], shared[1]) for _ in chunk]

    results, _ = chunked_map(work, list(range(300)), 3, shared=shared, least=1)
    rows = [row for chunk in results for row in chunk]
    assert len(rows) == 300
    pids = {pid for pid, _, _ in rows}
    assert os.getpid() in pids
    assert len(pids) == 3
    assert all(first is shared[0] and second is shared[1] for _, first, second in rows)
    # Equal to a shared object is not enough: only the very objects travel as their index.
    copies, _ = chunked_map(
        lambda chunk: [Named("dev") for _ in chunk], list(range(4)), 2, shared=shared, least=1
    )
    assert all(copy == shared[0] and copy is not shared[0] for chunk in copies for copy in chunk)


def test_a_slow_process_takes_fewer_chunks() -> None:
    """The chunks go to whichever process is free: one that is slowed down (a busy machine)
    does not hold the others up with a fixed share."""
    here = os.getpid()

    def work(chunk: Sequence[int]) -> list[int]:
        time.sleep(0.002 if os.getpid() == here else 0.02)
        return [os.getpid() for _ in chunk]

    results, _ = chunked_map(work, list(range(64)), 2, least=1)
    pids = [chunk[0] for chunk in results]
    assert pids.count(here) > 2 * (len(pids) - pids.count(here))


def test_finish_runs_once_in_each_process_that_ran_a_chunk(tmp_path: Path) -> None:
    seen: list[int] = []  # each process's own copy

    def work(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path, 3)
        seen.extend(chunk)
        return list(chunk)

    def finish() -> tuple[int, list[int]]:
        return os.getpid(), list(seen)

    results, finished = chunked_map(work, list(range(200)), 3, least=1, finish=finish)
    assert [item for chunk in results for item in chunk] == list(range(200))
    assert len({pid for pid, _ in finished}) == len(finished) == 3
    assert sorted(item for _, items in finished for item in items) == list(range(200))
    seen.clear()
    serial, finished_here = chunked_map(work, list(range(5)), 1, finish=finish)
    assert serial == [[0, 1, 2, 3, 4]]
    assert finished_here == [(os.getpid(), [0, 1, 2, 3, 4])]


def test_an_exception_in_a_process_is_raised_again_here_and_no_process_is_left(
    tmp_path: Path,
) -> None:
    here = os.getpid()

    def failing(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path, 3)
        if os.getpid() != here:
            raise KeyError("elsewhere")
        return list(chunk)

    with pytest.raises(KeyError, match="elsewhere"):
        chunked_map(failing, list(range(60)), 3, least=1)
    pids = [int(path.name) for path in tmp_path.iterdir()]
    assert len(pids) == 3
    for pid in pids:  # each waited for already: none is left running or unreaped
        if pid != here:
            with pytest.raises(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize("attempt", range(3))
def test_the_first_failing_chunk_is_raised_as_one_process_raises_it(
    tmp_path: Path, attempt: int
) -> None:
    """Every chunk fails: whichever process fails first, the error raised is the first
    chunk's, as in one process."""

    def failing(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path, 3)  # chunks 0, 1 and 2 are held, one by each process
        raise KeyError(chunk[0])

    def failing_alone(chunk: Sequence[int]) -> list[int]:
        raise KeyError(chunk[0])

    with pytest.raises(KeyError) as one:
        chunked_map(failing_alone, list(range(90)), 1, least=1)
    with pytest.raises(KeyError) as three:
        chunked_map(failing, list(range(90)), 3, least=1)
    assert one.value.args == three.value.args == (0,)


def test_too_few_items_or_one_job_stay_in_this_process() -> None:
    def work(chunk: Sequence[int]) -> list[int]:
        return [os.getpid() for _ in chunk]

    assert chunked_map(work, list(range(15)), 4, least=10)[0] == [[os.getpid()] * 15]
    assert chunked_map(work, list(range(50)), 1, least=1)[0] == [[os.getpid()] * 50]
    assert default_jobs() >= 1


def outcome(tmp_path: Path, case: Path, command: str, jobs: str, *flags: str) -> tuple[object, ...]:
    """command run with --jobs jobs (and flags) on a copy of case made once per jobs and flags
    (run again, it finds what the run before left: its cache, its outputs)."""
    root = tmp_path / "-".join((command, jobs, *flags))
    if not root.exists():
        make_catalog(root, overlay=case / "catalog")
    extra = ["--out", "generated"] if command == "render" else []
    result = run_cli(root, command, "--catalog", "catalog", "--jobs", jobs, *flags, *extra)
    tree = read_tree(root / "generated") if (root / "generated").is_dir() else {}
    deploy = read_tree(root / "deploy") if (root / "deploy").is_dir() else {}
    return result.code, result.stdout, written_aside(result.stderr), tree, deploy


CASES = [
    FIXTURES / "valid" / "proof-of-concept",
    FIXTURES / "valid" / "mirror-registry-and-derived-models",
    FIXTURES / "invalid" / "several-mistakes-one-pass",
    FIXTURES / "invalid" / "cross-leaf-duplicate-host",
    FIXTURES / "invalid" / "cross-leaf-with-invalid-leaf",
    FIXTURES / "invalid" / "environment-invalid-with-leaves",
    # helm's template rules answer in the forked process; catalog-gen places the message at
    # the leaf line with the plan it plans again from the same bytes (plan/fresh.py)
    FIXTURES / "invalid" / "max-loaded-models-too-low",
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.parametrize("command", ["validate", "render"])
def test_jobs_give_the_same_output_and_problems_in_the_same_order(
    case: Path, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "LEAST_PER_PROCESS", 1)  # fork even for a few leaves
    serial = outcome(tmp_path, case, command, "1", "--no-cache")
    forked = outcome(tmp_path, case, command, "3", "--no-cache")
    assert forked == serial
    assert serial[0] in (0, 1)
    # A cold cache: every leaf planned afresh in the processes, then kept (the packs written by
    # the processes too); the warm run after it takes every leaf from the cache.
    monkeypatch.setattr(cache, "_LEAST_CHANGES_SHARED", 1)
    assert outcome(tmp_path, case, command, "3") == serial
    packs = sorted(tmp_path.glob(f"*/{cache.CACHE_DIR}/{cache.PACK_PREFIX}*"))
    assert packs
    assert outcome(tmp_path, case, command, "3") == serial


@pytest.mark.parametrize("jobs", ["0", "-2", "many"])
def test_jobs_must_be_a_positive_number(
    jobs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_catalog(tmp_path)
    result = run_cli(tmp_path, "validate", "--catalog", "catalog", "--jobs", jobs)
    assert result.code == 2
    assert "argument --jobs: expected a whole number of processes >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_a_catalog_an_emitter_cannot_write_is_reported_not_an_internal_error(
    jobs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emitting where each leaf is planned (plan/fresh.py) meets catalogs the later rules will
    refuse: an Argo CD chart without repoURL breaks the app.json emitter, but render must
    report the problems validate reports (exit 1), as it does with the cache."""
    monkeypatch.setattr(parallel, "LEAST_PER_PROCESS", 1)
    shipped = REPO_ROOT / "catalog"
    make_catalog(tmp_path, environments=shipped / "environments", overlay=shipped)
    dev = tmp_path / "catalog" / "environments" / "dev.yaml"
    dev.write_text(
        dev.read_text().replace("    path: charts/ollama-inference-load", "    chart: oil"),
        encoding="utf-8",
    )
    validate = run_cli(tmp_path, "validate", "--no-cache", "--jobs", jobs)
    render = run_cli(tmp_path, "render", "--no-cache", "--jobs", jobs)
    cached = run_cli(tmp_path, "render")
    assert validate.code == render.code == cached.code == 1
    assert "argocd.chart" in render.stdout
    assert render.stdout == validate.stdout == cached.stdout
    assert not (tmp_path / "generated").exists()


class TwoPartError(Exception):
    """Pickles (its message), but does not unpickle: its constructor wants two arguments."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} {second}")


def test_an_error_that_does_not_unpickle_is_reported_in_words(tmp_path: Path) -> None:
    here = os.getpid()

    def raises_two_part_error(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path, 2)
        if os.getpid() == here:  # nothing is pickled here
            return list(chunk)
        raise TwoPartError("chunk", str(len(chunk)))

    with pytest.raises(RuntimeError, match="its error did not unpickle"):
        chunked_map(raises_two_part_error, list(range(60)), 2, least=1)


def test_a_result_that_does_not_unpickle_is_an_error_not_a_lost_process() -> None:
    blob = parallel._pack((parallel._CHUNK, 0, TwoPartError("a", "b")), ())
    received = parallel._Frames(())
    received.take(parallel._LENGTH.pack(len(blob)) + blob)
    assert received.frames == []
    assert received.error is not None
    assert "result did not unpickle: TypeError" in str(received.error)


class WordlessError(Exception):
    def __str__(self) -> str:
        raise ValueError("no words")


def raise_wordless_error() -> None:
    raise WordlessError


class UnpicklesIntoAnError:
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return raise_wordless_error, ()


def test_a_frame_whose_error_has_no_words_is_still_an_error_and_the_rest_is_dropped() -> None:
    """What a frame raises while it unpickles is kept as the error, whatever it is; what comes
    after it is read and dropped (the process must be able to end)."""
    blob = parallel._pack((parallel._CHUNK, 0, UnpicklesIntoAnError()), ())
    received = parallel._Frames(())
    received.take(parallel._LENGTH.pack(len(blob)) + blob)
    received.take(b"x" * 1000)
    assert received.frames == []
    assert received.unread == bytearray()
    assert received.error is not None
    assert "did not unpickle: WordlessError: <" in str(received.error)


def _received(payload: bytes, cuts: Sequence[int]) -> parallel._Frames:
    """payload taken in the blocks the cuts make (as reads of a pipe may give it)."""
    received = parallel._Frames(())
    for start, end in itertools.pairwise([0, *sorted(cuts), len(payload)]):
        received.take(payload[start:end])
    return received


@pytest.mark.parametrize("seed", range(20))
def test_frames_are_the_same_however_the_pipe_cuts_them(seed: int) -> None:
    frames = [(parallel._CHUNK, 0, b"x" * 100_000), (parallel._CHUNK, 1, [1]), (parallel._ENDED,)]
    blobs = [parallel._pack(frame, ()) for frame in frames]
    payload = b"".join(parallel._LENGTH.pack(len(blob)) + blob for blob in blobs)
    chosen = random.Random(seed)
    cuts = chosen.sample(range(1, len(payload)), chosen.randrange(0, 12))
    received = _received(payload, cuts)
    assert (received.frames, received.whole, received.error) == (frames, True, None)


def test_a_frame_cut_short_ends_what_came_whole() -> None:
    frames = [(parallel._CHUNK, 0, b"x" * 100_000), (parallel._ENDED,)]
    blobs = [parallel._pack(frame, ()) for frame in frames]
    payload = b"".join(parallel._LENGTH.pack(len(blob)) + blob for blob in blobs)
    for cut, whole in ((payload[:-3], frames[:1]), (payload[:50_000], [])):
        received = _received(cut, [len(cut) // 3])
        assert (received.frames, received.whole) == (whole, False)


def test_a_shared_object_comes_back_as_the_very_one() -> None:
    shared = [Named("a"), Named("b")]
    blob = parallel._pack((parallel._CHUNK, 0, [shared[1], shared[0], shared[1]]), shared)
    received = parallel._Frames(shared)
    received.take(parallel._LENGTH.pack(len(blob)) + blob)
    found = received.frames[0][2]
    assert [id(item) for item in found] == [id(shared[1]), id(shared[0]), id(shared[1])]
    with pytest.raises(RuntimeError, match="without its chunked_map"):  # only with the objects
        pickle.loads(blob)


def test_a_process_killed_before_its_result_is_no_file_system_error() -> None:
    """Not a ChildProcessError (an OSError: the writer would report it as the disk's fault)."""
    here = os.getpid()
    folder = Path(tempfile.mkdtemp())

    def killed_unless_here(chunk: Sequence[int]) -> list[int]:
        meet(folder, 2)
        if os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)
        return list(chunk)

    with pytest.raises(JobsProcessError, match="ended by signal 9") as raised:
        chunked_map(killed_unless_here, list(range(60)), 2, least=1)
    assert not isinstance(raised.value, OSError)


def test_an_exception_here_ends_the_other_processes(tmp_path: Path) -> None:
    here = os.getpid()

    def failing_here(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path, 3)
        if os.getpid() == here:
            raise KeyError("here")
        time.sleep(0.01)
        return list(chunk)

    with pytest.raises(KeyError, match="here"):
        chunked_map(failing_here, list(range(60)), 3, least=1)
    for path in tmp_path.iterdir():  # each ended and waited for: none left running or unreaped
        if int(path.name) != os.getpid():
            with pytest.raises(ChildProcessError):
                os.waitpid(int(path.name), os.WNOHANG)


ORPHANS = """
import os, sys, time
from catalog_gen.plan.parallel import chunked_map

def work(chunk):
    with open(os.path.join(sys.argv[1], str(os.getpid())), "a") as mark:
        mark.write("x")
    time.sleep(0.05)
    return list(chunk)

chunked_map(work, list(range(96)), 3, least=1)
"""


def test_the_processes_stop_when_catalog_gen_is_killed(tmp_path: Path) -> None:
    """A killed catalog-gen (SIGKILL, out of memory) leaves no process working on: each ends
    with its chunk, instead of running the rest (and holding the writers' lock meanwhile)."""
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS)
    marks = tmp_path / "marks"
    marks.mkdir()
    main = subprocess.Popen([sys.executable, str(script), str(marks)])
    deadline = time.monotonic() + 10
    while len(list(marks.iterdir())) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    main.kill()
    main.wait()
    workers = [int(path.name) for path in marks.iterdir() if int(path.name) != main.pid]
    assert len(workers) == 2
    time.sleep(0.5)  # a chunk takes 0.05 s; the 90-odd left would take 2 s more
    done = {path.name: path.read_text() for path in marks.iterdir()}
    time.sleep(0.3)
    assert {path.name: path.read_text() for path in marks.iterdir()} == done
    for pid in workers:
        state = Path(f"/proc/{pid}/stat")
        assert not state.exists() or state.read_text().split(")")[-1].split()[0] in {"Z", "X"}


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def children() -> set[int]:
    """This process's children, running or not waited for (other tests may leave some)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            if int(fields[1]) == os.getpid():
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_no_descriptor_thread_or_process_is_left_whatever_happens(tmp_path: Path) -> None:
    here = os.getpid()
    descriptors, threads, processes = open_descriptors(), threading.active_count(), children()

    def fine(chunk: Sequence[int]) -> list[int]:
        return list(chunk)

    def failing_elsewhere(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path / "elsewhere", 3)
        if os.getpid() != here:
            raise KeyError("elsewhere")
        return list(chunk)

    def failing_here(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path / "here", 3)
        if os.getpid() == here:
            raise KeyError("here")
        return list(chunk)

    def killed_elsewhere(chunk: Sequence[int]) -> list[int]:
        meet(tmp_path / "killed", 3)
        if os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)
        return list(chunk)

    for folder in ("elsewhere", "here", "killed"):
        (tmp_path / folder).mkdir()
    chunked_map(fine, list(range(200)), 3, least=1)
    with pytest.raises(KeyError):
        chunked_map(failing_elsewhere, list(range(200)), 3, least=1)
    with pytest.raises(KeyError):
        chunked_map(failing_here, list(range(200)), 3, least=1)
    with pytest.raises(JobsProcessError):
        chunked_map(killed_elsewhere, list(range(200)), 3, least=1)
    # None more than before (what other tests left may end meanwhile): every process forked
    # here was waited for, running or not.
    assert open_descriptors() <= descriptors
    assert threading.active_count() <= threads
    assert children() <= processes


def test_background_work_comes_back_or_raises_here() -> None:
    assert parallel.Background(lambda: ("walked", os.getpid())).result()[0] == "walked"
    assert parallel.Background(os.getpid).result() != os.getpid()

    def failing() -> None:
        raise KeyError("in the background")

    with pytest.raises(KeyError, match="in the background"):
        parallel.Background(failing).result()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_background_process_stopped_or_killed_leaves_nothing(tmp_path: Path) -> None:
    descriptors, processes = open_descriptors(), children()
    started = tmp_path / "started"

    def forever() -> None:
        started.touch()
        time.sleep(60)

    running = parallel.Background(forever)
    while not started.exists():
        time.sleep(0.01)
    running.stop()
    running.stop()  # once is enough; twice does nothing
    with pytest.raises(JobsProcessError):
        running.result()
    killed = parallel.Background(lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(JobsProcessError, match="signal 9"):
        killed.result()
    assert open_descriptors() <= descriptors
    assert children() <= processes
