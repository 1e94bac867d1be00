"""The scripts' guarantees under faults (docs/guarantees-scripts.md): bounded pulls, prompt
signal handling, failing tools never read as success, the loader's own lock."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.scripts.conftest import FILES, Pod, pid_alive
from tests.scripts.test_pull_models import assert_server_gone, lines_with

PHI = {"size": 150_000}


def test_pull_that_stalls_is_ended_and_counts_as_a_failed_attempt(pod: Pod) -> None:
    pod.control(registry={"phi": PHI}, pull_stalls={"phi": 1}, pull_stall_after_bytes=0)
    pod.models(("phi", "", False, "generate"))

    result = pod.run("pull-models.sh", OIL_PULL_STALL_TIMEOUT_SECONDS="0.6")

    assert result.returncode == 0, result.stdout
    state = pod.state()
    assert state["pull_attempts"] == {"phi:latest": 2}
    assert state["pull_stalls_abandoned"] == {"phi:latest": 1}, "the stalled request was not ended"
    (warned,) = lines_with(result.stdout, "failed (attempt 1 of 3)")
    assert "no progress for 0.6s (OIL_PULL_STALL_TIMEOUT_SECONDS)" in warned


def test_pull_that_always_stalls_fails_within_the_bound(pod: Pod) -> None:
    pod.control(registry={"phi": PHI}, pull_stalls={"phi": -1}, pull_stall_after_bytes=40_000)
    pod.models(("phi", "", False, "generate"))

    begin = time.monotonic()
    result = pod.run("pull-models.sh", OIL_PULL_RETRIES="2", OIL_PULL_STALL_TIMEOUT_SECONDS="0.5")

    assert result.returncode == 1
    # Two attempts of 0.5 s without progress, one short backoff, the server's start and stop.
    assert time.monotonic() - begin < 10
    (final,) = lines_with(result.stdout, "failed after 2 attempts")
    assert "no progress for 0.5s" in final
    assert pod.state()["pull_stalls_abandoned"] == {"phi:latest": 2}
    assert_server_gone(pod)


def test_a_long_digest_verification_is_not_a_stall(pod: Pod) -> None:
    """Ollama shows nothing while it verifies what it downloaded; ended there, the blobs stay
    unverified and the next attempt trusts them as cached: the verification must run to its
    end (the attempt timeout still bounds it)."""
    pod.control(registry={"phi": PHI}, verify_delay_s=2.0)
    pod.models(("phi", "", False, "generate"))

    result = pod.run("pull-models.sh", OIL_PULL_STALL_TIMEOUT_SECONDS="0.5")

    assert result.returncode == 0, result.stdout
    assert pod.state()["pull_attempts"] == {"phi:latest": 1}
    assert not lines_with(result.stdout, "no progress for")


def test_slow_pull_is_ended_by_the_attempt_timeout(pod: Pod) -> None:
    # Progress all the time, but far too slowly for the per-attempt bound.
    pod.control(registry={"phi": {"size": 2_000_000}}, bandwidth_bytes_per_s=100_000)
    pod.models(("phi", "", False, "generate"))

    result = pod.run(
        "pull-models.sh",
        OIL_PULL_RETRIES="1",
        OIL_PULL_STALL_TIMEOUT_SECONDS="30",
        OIL_PULL_ATTEMPT_TIMEOUT_SECONDS="1",
    )

    assert result.returncode == 1
    (final,) = lines_with(result.stdout, "failed after 1 attempts")
    assert "not finished within OIL_PULL_ATTEMPT_TIMEOUT_SECONDS=1s" in final
    assert pod.state()["bytes_downloaded"] < 2_000_000
    assert_server_gone(pod)


def test_sigterm_during_the_backoff_sleep_exits_at_once(pod: Pod) -> None:
    pod.control(registry={"phi": PHI}, pull_failures={"phi": -1})
    pod.models(("phi", "", False, "generate"))
    script = subprocess.Popen(
        ["sh", str(FILES / "pull-models.sh")],
        env={**pod.env, "OIL_PULL_BACKOFF_SECONDS": "120", "OIL_PULL_BACKOFF_MAX_SECONDS": "120"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert script.stdout is not None
    output = []
    for line in script.stdout:
        output.append(line)
        if "retrying in 120.000s" in line:
            break
    sent = time.monotonic()
    script.send_signal(signal.SIGTERM)
    rest, _ = script.communicate(timeout=30)
    took = time.monotonic() - sent

    assert script.returncode == 143, "".join(output) + rest
    # Well inside terminationGracePeriodSeconds: the trap runs at once, then the server stops.
    assert took < 5, f"exited {took:.1f}s after SIGTERM"
    # Said first: a log that ends without a reason reads as a hang or a crash at 3 a.m.
    assert lines_with(rest, "received SIGTERM (the pod is being stopped): stopping")
    assert lines_with(rest, "stopping ollama serve")
    assert_server_gone(pod)
    assert not list(Path(pod.env["TMPDIR"]).iterdir()), "temporary files left behind"


def test_sigterm_while_a_blob_is_hashed_exits_at_once(pod: Pod) -> None:
    """lifecycle.verifyBlobs hashes every blob at each start (minutes for a large model on a slow
    volume): the hash ran in the foreground, which defers the trap, so SIGTERM waited for it
    (review: 17 s for a 20 s hash; a real one outlasts the grace period and the kubelet kills)."""
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate"))
    assert pod.run("pull-models.sh").returncode == 0  # cached: the next start only checks it
    real = subprocess.run(
        ["sh", "-c", "command -v sha256sum"], capture_output=True, text=True, check=True
    ).stdout.strip()
    marker = pod.root / "hashing"
    folder = pod.root / "slow-hash"
    folder.mkdir()
    (folder / "sha256sum").write_text(
        "#!/bin/sh\ncase $(readlink /proc/$$/fd/0) in */blobs/*)\n"
        f'  touch "{marker}"; sleep 20 ;;\nesac\nexec "{real}" "$@"\n'
    )
    (folder / "sha256sum").chmod(0o755)
    env = {**pod.env, "OIL_VERIFY_BLOBS": "true", "PATH": f"{folder}:{pod.env['PATH']}"}
    script = subprocess.Popen(
        ["sh", str(FILES / "pull-models.sh")], env=env, stdout=subprocess.PIPE, text=True
    )
    pod.wait_for(marker.exists, timeout=20)
    sent = time.monotonic()
    script.send_signal(signal.SIGTERM)
    rest, _ = script.communicate(timeout=30)
    took = time.monotonic() - sent

    assert script.returncode == 143, rest
    assert took < 5, f"exited {took:.1f}s after SIGTERM"
    assert lines_with(rest, "received SIGTERM (the pod is being stopped): stopping"), rest
    assert_server_gone(pod)


def test_sigterm_during_a_helm_test_answer_exits_at_once(pod: Pod) -> None:
    pod.control(registry={"phi": {"size": 40_000}}, load_delay_s=60)
    pod.models(("phi", "", False, "generate"))
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    script = subprocess.Popen(
        ["sh", str(FILES / "test-models.sh")],
        env={**pod.env, "OIL_TEST_TIMEOUT_SECONDS": "120"},
        stdout=subprocess.PIPE,
        text=True,
    )
    pod.wait_for(lambda: "load_requests" in pod.state())
    sent = time.monotonic()
    script.send_signal(signal.SIGTERM)
    script.communicate(timeout=30)

    assert script.returncode == 143
    assert time.monotonic() - sent < 5
    pod.wait_for(lambda: pod.state().get("loads_aborted", 0) >= 1, timeout=10)


FAILING_AWK = '#!/bin/sh\necho "awk: out of memory" >&2\nexit 2\n'
# Fails only for the program that reads `ollama ps` (it alone looks for "Stopping...").
AWK_FAILING_ON_PS = (
    "#!/bin/sh\n"
    'case "$*" in *Stopping...*) echo "awk: out of memory" >&2; exit 2 ;; esac\n'
    'exec /usr/bin/awk "$@"\n'
)


def with_awk(pod: Pod, program: str) -> str:
    """PATH with this awk first (then the double's ollama, then the system)."""
    folder = pod.root / "awk-bin"
    folder.mkdir(exist_ok=True)
    (folder / "awk").write_text(program)
    (folder / "awk").chmod(0o755)
    return f"{folder}:{pod.env['PATH']}"


def test_failing_awk_makes_the_init_container_fail_before_it_starts(pod: Pod) -> None:
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate"))

    result = pod.run("pull-models.sh", PATH=with_awk(pod, FAILING_AWK))

    assert result.returncode == 2
    assert "reading the model lists" in result.stdout
    assert "server_pid" not in pod.state()


@pytest.mark.parametrize("script", ["probe-ready.sh", "test-models.sh"])
def test_failing_awk_is_never_ready_nor_a_pass(pod: Pod, script: str) -> None:
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate"))
    pod.start_server()

    result = pod.run(script, PATH=with_awk(pod, FAILING_AWK))

    assert result.returncode == 2, result.stdout
    assert "no models configured" not in result.stdout
    assert "awk exited non-zero" in result.stdout


def test_failing_awk_on_the_ps_table_is_not_ready(pod: Pod) -> None:
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate"))
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    assert pod.cli("run", "phi", "").returncode == 0  # loaded: the probe would say ready
    assert pod.run("probe-ready.sh").returncode == 0

    result = pod.run("probe-ready.sh", PATH=with_awk(pod, AWK_FAILING_ON_PS))

    assert result.returncode == 2
    assert "reading the output of ollama ps failed" in result.stdout


def test_loader_records_its_own_pid_and_start_time(pod: Pod) -> None:
    pod.control(registry={"phi": PHI}, load_delay_s=30)
    pod.models(("phi", "", False, "generate"))
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    state_dir = Path(pod.env["OIL_STATE_DIR"])

    loader = subprocess.Popen(
        ["sh", str(FILES / "probe-ready.sh"), "--load", "phi:latest", "generate", "false"],
        env=pod.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pod.wait_for(lambda: len(list(state_dir.glob("load-*.pid"))) == 1)
    (lock,) = state_dir.glob("load-*.pid")
    pid, started = lock.read_text().split()
    own_start = Path(f"/proc/{loader.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]

    assert int(pid) == loader.pid
    assert started == own_start
    loader.send_signal(signal.SIGTERM)
    _, errors = loader.communicate(timeout=10)
    assert loader.returncode == 143
    assert errors == "", "an error of the loader went unseen"
    assert not lock.exists(), "the loader left its lock behind"
    (log,) = state_dir.glob("load-*.log")
    assert "interrupted by a signal" in log.read_text()
    assert not pid_alive(int(pid))


def test_a_loader_whose_store_check_fails_says_so_not_that_the_load_failed(pod: Pod) -> None:
    """The loader asks `ollama show` before it loads (it never pulls); when that check cannot
    answer (here no server), its outcome names the check, not a load that never ran."""
    pod.models(("phi", "", False, "generate"))
    state_dir = Path(pod.env["OIL_STATE_DIR"])

    loader = subprocess.run(
        ["sh", str(FILES / "probe-ready.sh"), "--load", "phi:latest", "generate", "false"],
        env=pod.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert loader.returncode == 0, loader.stderr
    (log,) = state_dir.glob("load-*.log")
    outcome = log.read_text()
    assert "error not loading phi:latest: ollama show, which checks it is in the model store" in (
        outcome
    )
    assert "could not connect to ollama server" in outcome
    assert "loading phi:latest failed" not in outcome


def test_a_pull_killed_by_a_signal_is_told_by_its_status_not_by_its_progress_bar(
    pod: Pod,
) -> None:
    """A CLI that dies without an `Error:` line (killed, a Go panic) leaves a progress frame as
    its last line: the log said the pull failed with "pulling ab3b...: 38% ..." (review)."""
    pod.control(registry={"phi": PHI})
    pod.models(("phi", "", False, "generate"))
    killed_once = pod.root / "killed-once"
    frame = "pulling 0123456789ab: 38% |#### | 57 KB/150 KB"
    path = pod.wrapped_cli(
        f'if [ "$1" = pull ] && [ ! -e "{killed_once}" ]; then : >"{killed_once}";'
        f" printf '\\r%s' '{frame}' >&2; kill -9 $$; fi\n"
    )

    result = pod.run("pull-models.sh", PATH=path)

    assert result.returncode == 0, result.stdout
    (warned,) = lines_with(result.stdout, "failed (attempt 1 of 3)")
    assert f'exited with status 137 (killed by signal 9) at "{frame}"' in warned


def test_a_retried_pull_resumes_what_the_last_attempt_downloaded(pod: Pod) -> None:
    """As 0.32.0 does (a review recorded 25%, 50%, 75% over stalled attempts): attempts that
    each stall part way still add up to the whole model, every byte downloaded once."""
    pod.control(registry={"phi": PHI}, pull_stalls={"phi": -1}, pull_stall_after_bytes=60_000)
    pod.models(("phi", "", False, "generate"))

    result = pod.run("pull-models.sh", OIL_PULL_RETRIES="3", OIL_PULL_STALL_TIMEOUT_SECONDS="0.5")

    assert result.returncode == 0, result.stdout
    assert len(lines_with(result.stdout, "no progress for 0.5s")) == 2
    assert lines_with(result.stdout, "pulled phi in")
    state = pod.state()
    assert state["pull_attempts"] == {"phi:latest": 3}
    weights = PHI["size"]
    assert weights <= state["bytes_downloaded"] < weights + 10_000  # the small layers aside
