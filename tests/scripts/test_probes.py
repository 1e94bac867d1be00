"""probe-ready.sh and probe-live.sh (the server container's probes) against the Ollama double."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.scripts.conftest import Pod, run_with
from tests.support.net import free_port

PHI: dict[str, object] = {"size": 50_000}
EMBED: dict[str, object] = {"size": 30_000, "kind": "embed"}


def ready(pod: Pod, **env: str) -> tuple[bool, str]:
    result = pod.run("probe-ready.sh", timeout=10, **env)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode == 0, result.stdout.strip()


def serve_with(pod: Pod, *models: tuple[str, dict[str, object], str], **faults: object) -> None:
    """Models already pulled by the init container; the main container's server running."""
    pod.control(registry={name: spec for name, spec, _ in models}, **faults)
    pod.models(*[(name, "", False, kind) for name, _, kind in models])
    pod.start_server()
    for name, _, _ in models:
        assert pod.cli("pull", name).returncode == 0


def test_ready_only_once_loaded_then_not_after_eviction_then_ready_after_self_heal(
    pod: Pod,
) -> None:
    serve_with(pod, ("phi", PHI, "generate"), load_delay_s=1.0, evict_after_s=1.5)

    is_ready, said = ready(pod)
    assert not is_ready
    assert "phi:latest: not loaded, load started" in said
    pod.wait_for(lambda: "load_requests" in pod.state())
    loading = pod.run("probe-ready.sh")  # ps answers at once, without the loading model
    assert loading.returncode == 1
    assert "phi:latest: not loaded, loading (pid " in loading.stdout
    assert pod.state()["load_requests"] == {"phi:latest": 1}, "a second load was started"

    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 1}
    pod.control(registry={"phi": PHI}, load_delay_s=1.0)  # later loads are not evicted

    pod.wait_for(lambda: not ready(pod)[0])  # evicted after 1.2 s: not ready, heals itself
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 2}
    assert "loaded: phi:latest" in ready(pod)[1]


def test_one_load_per_model_however_often_the_probe_runs(pod: Pod) -> None:
    serve_with(pod, ("phi", PHI, "generate"), load_delay_s=3)

    for _ in range(4):
        assert pod.run("probe-ready.sh").returncode == 1

    # The detached loader reaches the server when the machine lets it (a loaded CI is slow).
    pod.wait_for(lambda: "load_requests" in pod.state())
    assert pod.state()["load_requests"] == {"phi:latest": 1}
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["load_requests"] == {"phi:latest": 1}


def test_probe_answers_within_the_cli_timeout_when_ps_does_not(pod: Pod) -> None:
    serve_with(pod, ("phi", PHI, "generate"), load_delay_s=4, ps_delay_s=4)
    begin = time.monotonic()
    result = pod.run("probe-ready.sh", OIL_CLI_TIMEOUT_SECONDS="0.5")

    assert result.returncode == 1
    assert "ollama ps did not answer within 0.5s" in result.stdout
    # Well under the 4 s the server takes, so the probe did not wait for it (slack for a loaded
    # machine).
    assert time.monotonic() - begin < 3


def test_liveness_holds_during_a_long_load(pod: Pod) -> None:
    serve_with(pod, ("phi", PHI, "generate"), load_delay_s=4)
    assert not ready(pod)[0]
    pod.wait_for(lambda: "load_requests" in pod.state())

    assert pod.run("probe-live.sh", OIL_CLI_TIMEOUT_SECONDS="1").returncode == 0


def test_a_model_listed_while_this_pods_load_runs_is_not_ready(pod: Pod) -> None:
    """Ollama before 0.30.0 lists a model from the start of its load: listed is not loaded
    while the probe's own load of it runs."""
    serve_with(pod, ("phi", PHI, "generate"), load_delay_s=2, ps_lists_loading=True)
    assert not ready(pod)[0]
    pod.wait_for(lambda: "phi:latest" in pod.cli("ps").stdout)
    assert "loads_completed" not in pod.state()

    is_ready, said = ready(pod)

    assert not is_ready
    assert "phi:latest: listed by ollama ps, but its load had not finished" in said
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 1}


def test_the_probe_never_pulls_a_model_removed_from_the_store(pod: Pod) -> None:
    """`ollama run` would pull it again by its tag, bypassing the digest the init container
    verified: the loader refuses, and the probe says why."""
    serve_with(pod, ("phi", PHI, "generate"))
    pod.wait_for(lambda: ready(pod)[0])
    pulls = pod.state()["pull_requests"]
    assert pod.cli("rm", "phi").returncode == 0

    assert not ready(pod)[0]
    pod.wait_for(lambda: "not in the model store any more" in ready(pod)[1])

    assert pod.state()["pull_requests"] == pulls
    assert "phi:latest" not in pod.cli("list").stdout


def _delete_through_the_api(pod: Pod, name: str) -> None:
    request = urllib.request.Request(
        f"http://{pod.env['OLLAMA_HOST']}/api/delete",
        data=json.dumps({"model": name}).encode(),
        method="DELETE",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.parametrize("removal", ["api", "by-hand"])
def test_a_loaded_model_removed_from_the_store_is_not_ready(pod: Pod, removal: str) -> None:
    """Ollama answers a request from the model's manifest in the store, loaded or not: a model
    removed while its runner stays loaded (DELETE /api/delete, which unloads nothing; another
    server on a shared cache; an operator) fails every request, and the pod stayed Ready
    (review)."""
    serve_with(pod, ("phi", PHI, "generate"))
    pod.wait_for(lambda: ready(pod)[0])
    pulls = pod.state()["pull_requests"]
    if removal == "api":
        _delete_through_the_api(pod, "phi")
    else:
        shutil.rmtree(pod.models_dir / "manifests")
    assert "phi:latest" in loaded_models(pod)  # the runner stays, as in Ollama 0.32.0

    is_ready, said = ready(pod)

    assert not is_ready
    assert (
        "phi:latest: loaded, but phi:latest is not in the model store any more (removed?); "
        "every request for it fails: restart the pod to pull or create it again"
    ) in said
    assert pod.state()["pull_requests"] == pulls  # nothing pulled back, unverified


def test_embedding_model_is_loaded_through_embed(pod: Pod) -> None:
    serve_with(pod, ("nomic-embed-text:v1.5", EMBED, "embed"))

    assert not ready(pod)[0]
    pod.wait_for(lambda: ready(pod)[0])

    state = pod.state()
    assert state["embed_requests"] >= 1
    assert state["loads_completed"] == {"nomic-embed-text:v1.5": 1}
    assert "generate_requests" not in state


def test_model_being_unloaded_counts_until_it_is_gone_then_is_loaded_back(pod: Pod) -> None:
    # `Stopping...` cannot tell an unload from a busy model (next test): the probe waits for it
    # to go, then loads it back.
    serve_with(pod, ("phi", PHI, "generate"), unload_delay_s=2)
    ready(pod)
    pod.wait_for(lambda: ready(pod)[0])

    assert pod.cli("stop", "phi").returncode == 0
    assert "Stopping..." in pod.cli("ps").stdout
    assert ready(pod)[0]
    assert pod.state()["load_requests"] == {"phi:latest": 1}

    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod))
    is_ready, said = ready(pod)
    assert not is_ready
    assert "phi:latest: not loaded, load started" in said
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 2}


@pytest.mark.parametrize("keep_alive", ["1s", "-"])
def test_model_busy_past_its_keep_alive_stays_ready(pod: Pod, keep_alive: str) -> None:
    # Ollama moves a runner's expiry only when its last request ends (sched.go): a generation
    # longer than the keep-alive is listed `Stopping...` while it serves. "-": a client's own
    # keep_alive shortened a resident model's.
    serve_with_keep_alive(pod, ("phi", PHI, keep_alive))
    pod.wait_for(lambda: ready(pod)[0])
    # A quick request sets the expiry (2s from its end); a long one starts before it passes.
    assert pod.cli("run", "--keepalive", "2s", "phi", "hi").returncode == 0
    pod.control(registry={"phi": PHI}, generate_delay_s=5)
    client = subprocess.Popen(
        ["ollama", "run", "--keepalive", "2s", "phi", "a long answer"],
        env=pod.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pod.wait_for(lambda: "Stopping..." in loaded_models(pod), timeout=4)
        is_ready, said = ready(pod)
        assert is_ready, said
        assert "loaded: phi:latest" in said
        assert client.poll() is None, "the generation ended before the probe ran"
    finally:
        client.wait(timeout=15)
    assert pod.state()["loads_completed"] == {"phi:latest": 1}


def test_derived_model_and_its_base_count_as_one_runner(pod: Pod) -> None:
    serve_with(pod, ("phi", PHI, "generate"))
    # num_ctx is a load option: the two names cannot share a loaded runner as they are (a
    # sampling option such as temperature would let them share it; field trial, 0.24.0).
    pod.derived(("terse-phi", "FROM phi\nPARAMETER num_ctx 2048\n"))
    assert pod.cli("create", "terse-phi", "-f", str(pod.config_dir / "modelfile-0")).returncode == 0

    assert not ready(pod)[0]
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["load_requests"] == {"terse-phi:latest": 1}, "the derived model is loaded"

    # A client then calls the base model: Ollama swaps the shared runner, ps shows only phi.
    assert pod.cli("run", "phi", "hello").returncode == 0
    assert pod.cli("ps").stdout.split("\n")[1].startswith("phi:latest ")
    assert ready(pod)[0]


def test_failed_self_heal_is_tried_again_only_after_a_growing_backoff(pod: Pod) -> None:
    serve_with(pod)
    pod.models(("gone:1b", "", False, "generate"))  # configured, but neither on disk nor upstream
    state = pod.root / "tmp" / "ollama-inference-load"

    def loader_ended() -> bool:
        return not list(state.glob("*.pid"))

    def failed_after(seconds_ago: float, count: int) -> None:
        (failed_file,) = state.glob("*.failed")
        ended = int((time.time() - seconds_ago) * 1000)
        failed_file.write_text(f"{count} {ended}\n")

    assert "gone:1b: not loaded, load started" in ready(pod)[1]  # the first load: at once
    pod.wait_for(loader_ended)
    (failed_name,) = [path.name for path in state.glob("*.failed")]
    is_ready, said = ready(pod)
    assert not is_ready
    assert re.search(r"next attempt in (9|10)s, after 1 failed load\(s\) in a row", said), said
    assert "last attempt: error not loading gone:1b: it is not in the model store" in said
    assert loader_ended(), "a load was started within the backoff"

    failed_after(11, 1)  # the backoff is over: loaded again, and its failure doubles the wait
    assert "load started (pid " in ready(pod)[1]
    pod.wait_for(loader_ended)
    (failed_file,) = state.glob("*.failed")
    assert failed_file.read_text().split()[0] == "2"
    assert re.search(r"next attempt in (19|20)s, after 2 failed", ready(pod)[1])

    failed_after(0, 9)  # the wait doubles up to five minutes, no further
    assert "next attempt in 300s, after 9 failed" in ready(pod)[1]
    failed_after(-86400, 2)  # a failure "tomorrow": the clock went back; the wait is over
    assert "load started (pid " in ready(pod)[1]
    pod.wait_for(loader_ended)
    failed_after(0, 9)

    # Once the model can load, the next attempt after the backoff loads it, and the count goes.
    pod.control(registry={"gone:1b": PHI})
    assert pod.cli("pull", "gone:1b").returncode == 0
    failed_after(301, 9)
    pod.wait_for(lambda: ready(pod)[0])
    assert not list(state.glob("*.failed"))
    # Seen loaded, whoever loaded it (a client, within a backoff), the count goes too: a later
    # failure waits as a first one.
    (state / failed_name).write_text(f"3 {int(time.time() * 1000)}\n")
    assert ready(pod)[0]
    assert not list(state.glob("*.failed"))


def test_a_loader_that_ends_before_the_probe_writes_its_lock_leaves_no_lock(pod: Pod) -> None:
    """The probe writes the loader's lock after starting it (so that the next probe starts no
    second load); a loader that fails at once, on a busy node, may end and remove its lock before
    that write lands: the probe's lock then named a dead loader until the next probe. Here the
    probe's own lock write (not the loader's) is held back until the loader has ended."""
    serve_with(pod, ("phi", PHI, "generate"))
    path = pod.wrapped_cli('[ "$1" = show ] && { echo "Error: 404 page not found" >&2; exit 1; }\n')
    state = pod.root / "tmp" / "ollama-inference-load"
    folder = pod.root / "slow-mv"
    folder.mkdir()
    real = shutil.which("mv", path=pod.env["PATH"])
    # The loader runs as `probe-ready.sh --load ...`: only the probe's mv of a lock waits, until
    # the loader has written its outcome and removed its own lock.
    (folder / "mv").write_text(
        "#!/bin/sh\n"
        'case "$*" in *.pid) tr "\\000" " " </proc/$PPID/cmdline | grep -q -- --load || '
        f'until grep -qs "ollama show" "{state}"/*.log && ! ls "{state}"/*.pid >/dev/null 2>&1; '
        "do sleep 0.05; done ;; esac\n"
        f'exec "{real}" "$@"\n'
    )
    (folder / "mv").chmod(0o755)

    assert pod.run("probe-ready.sh", PATH=f"{folder}:{path}").returncode == 1
    (log,) = state.glob("*.log")
    assert "ollama show, which checks it is in the model store, failed" in log.read_text()
    pod.wait_for(lambda: not list(state.glob("*.pid")))


def test_a_404_that_is_not_ollamas_model_not_found_is_not_taken_for_a_removed_model(
    pod: Pod,
) -> None:
    """`ollama show` failing with a proxy's (or a wrong path's) "404 page not found" says
    nothing about the model store: reported as show's failure, not as a removed model."""
    serve_with(pod, ("phi", PHI, "generate"))
    path = pod.wrapped_cli('[ "$1" = show ] && { echo "Error: 404 page not found" >&2; exit 1; }\n')
    state = pod.root / "tmp" / "ollama-inference-load"

    assert pod.run("probe-ready.sh", PATH=path).returncode == 1
    pod.wait_for(lambda: not list(state.glob("*.pid")))
    (log,) = state.glob("*.log")
    outcome = log.read_text()
    assert "ollama show, which checks it is in the model store, failed" in outcome, outcome
    assert "Error: 404 page not found" in outcome
    assert "not in the model store any more" not in outcome


def test_probes_fail_when_the_server_is_down(pod: Pod) -> None:
    pod.models(("phi", "", False, "generate"))

    is_ready, said = ready(pod)
    live = pod.run("probe-live.sh")

    assert not is_ready
    assert "could not connect to ollama server" in said
    assert live.returncode == 1
    assert "could not connect to ollama server" in live.stdout


def test_liveness_passes_when_the_server_answers(pod: Pod) -> None:
    pod.start_server()
    result = pod.run("probe-live.sh")
    assert result.returncode == 0
    assert result.stdout == ""


def serve_with_keep_alive(pod: Pod, *models: tuple[str, dict[str, object], str]) -> None:
    """Like serve_with, with models.tsv's last column (keep-alive) written as the chart does."""
    pod.control(registry={name: spec for name, spec, _ in models})
    pod.models(*[(name, "", False, "generate", keep_alive) for name, _, keep_alive in models])
    pod.start_server()
    for name, _, _ in models:
        assert pod.cli("pull", name).returncode == 0


def loaded_models(pod: Pod) -> str:
    return pod.cli("ps").stdout


def test_model_keep_alive_reaches_the_loader_and_the_model_is_then_on_demand(pod: Pod) -> None:
    serve_with_keep_alive(pod, ("phi", PHI, "1s"), ("tinyllama", PHI, "-"))

    assert not ready(pod)[0]  # first start: both loads are started
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 1, "tinyllama:latest": 1}

    # phi was loaded with its own keep-alive (1s) and expires; tinyllama with OIL_LOAD_KEEPALIVE
    # (-1m, forever) stays. The probe lets phi go instead of loading it back.
    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod), timeout=15)
    assert "tinyllama:latest" in loaded_models(pod)
    is_ready, said = ready(pod)
    assert is_ready, said
    assert "phi:latest(on demand)" in said
    time.sleep(0.5)
    assert pod.state()["loads_completed"] == {"phi:latest": 1, "tinyllama:latest": 1}


def test_model_on_demand_removed_from_the_store_is_not_ready(pod: Pod) -> None:
    # A model on demand is ready unloaded only while it is stored: removed (a client of the
    # open administration API, `ollama rm`, another pod on a shared cache), its next request
    # gets Ollama's 404, so the pod must not take traffic for it.
    serve_with_keep_alive(pod, ("phi", PHI, "1s"))
    pod.wait_for(lambda: ready(pod)[0])
    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod), timeout=15)
    assert "phi:latest(on demand)" in ready(pod)[1]
    assert pod.cli("rm", "phi").returncode == 0
    is_ready, said = ready(pod)
    assert not is_ready
    assert (
        "phi:latest: on demand, but phi:latest is not in the model store any more (removed?); "
        "a request for it would fail: restart the pod to pull or create it again"
    ) in said
    assert pod.state()["loads_completed"] == {"phi:latest": 1}  # not loaded (pulled) back


def test_model_on_demand_is_not_ready_when_the_store_cannot_be_listed(pod: Pod) -> None:
    serve_with_keep_alive(pod, ("phi", PHI, "1s"))
    pod.wait_for(lambda: ready(pod)[0])
    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod), timeout=15)
    path = pod.wrapped_cli(
        '[ "$1" = list ] && { echo "Error: something went wrong" >&2; exit 1; }\n'
    )
    result = pod.run("probe-ready.sh", PATH=path)
    assert result.returncode == 1
    assert (
        "phi:latest: on demand, but whether it is still stored is unknown: ollama list failed: "
        "Error: something went wrong"
    ) in result.stdout


@pytest.mark.parametrize(
    ("load_delay_s", "probes", "most"),
    # Real loads take longer than the probe period: the eviction is seen while the evicting
    # load still runs (Ollama evicts as a load starts), before it has ended.
    [(0.3, 12, 6), (2.0, 16, 7)],
    ids=["fast-loads", "loads-slower-than-the-probe-period"],
)
def test_models_that_evict_each_other_are_not_reloaded_every_probe(
    pod: Pod, load_delay_s: float, probes: int, most: int
) -> None:
    # Two groups whose runners do not fit together (OLLAMA_MAX_LOADED_MODELS=1 stands in for
    # GPU memory: Ollama 0.32.0 evicts an idle runner to fit a new one, whatever its
    # keep-alive). Each load succeeds and pushes the other out; the probe says so, and from the
    # second such load in a row waits as after a failed load, instead of a multi-GB reload (and
    # eviction of the other) every probe period.
    pod.env["OLLAMA_MAX_LOADED_MODELS"] = "1"
    serve_with(
        pod, ("phi", PHI, "generate"), ("tinyllama", {"size": 40_000}, "generate"),
        load_delay_s=load_delay_s,
    )  # fmt: skip
    said = []
    for _ in range(probes):
        said.append(ready(pod)[1])
        time.sleep(1)
    loads = sum(pod.state()["load_requests"].values())
    assert loads <= most, (loads, said)  # about one per probe without the backoff
    gone = (
        "went unlisted by ollama ps within 300s, each once another load of this pod ran: "
        "evicted by a model it does not fit beside"
    )
    assert any(gone in line for line in said), said
    assert any("next attempt in " in line and gone in line for line in said), said


def test_a_model_its_keep_alive_unloads_is_loaded_back_at_once_every_time(pod: Pod) -> None:
    # A finite keep-alive for every load (OIL_LOAD_KEEPALIVE, from ollama.keepAlive): the model
    # goes within the 5 minutes, but no load of this pod pushed it out, so it is no churn: loaded
    # again at once each time, and said so.
    serve_with(pod, ("phi", PHI, "generate"))
    said = []
    for _ in range(3):
        pod.wait_for(lambda: ready(pod, OIL_LOAD_KEEPALIVE="1s")[0])
        pod.wait_for(lambda: "phi:latest" not in loaded_models(pod), timeout=15)
        said.append(ready(pod, OIL_LOAD_KEEPALIVE="1s")[1])
    assert all("load started" in line for line in said), said
    assert not any("next attempt in" in line for line in said), said
    assert "no load ended since: unloaded by its keep-alive, a client or an operator" in said[-1]
    assert pod.state()["loads_completed"] == {"phi:latest": 3}


def test_the_probes_cli_calls_share_one_cli_timeout(pod: Pod) -> None:
    # ollama ps, then ollama list (a model on demand is unloaded), each slowed: together they
    # stay within OIL_CLI_TIMEOUT_SECONDS, which the probe's own timeout is checked against.
    serve_with_keep_alive(pod, ("phi", PHI, "1s"))
    pod.wait_for(lambda: ready(pod)[0])
    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod), timeout=15)
    path = pod.wrapped_cli("case $1 in ps | list) sleep 1.5 ;; esac\n")
    begin = time.monotonic()
    result = pod.run("probe-ready.sh", PATH=path, OIL_CLI_TIMEOUT_SECONDS="2")
    elapsed = time.monotonic() - begin
    assert result.returncode == 1
    assert "whether it is still stored is unknown: ollama list did not answer within the " in (
        result.stdout
    )
    assert "s ollama ps left of OIL_CLI_TIMEOUT_SECONDS=2s" in result.stdout
    assert elapsed < 2 + 1.5, elapsed  # 3 s and more when each call had the whole timeout


def test_a_loaded_model_stays_ready_when_the_store_cannot_be_listed_in_time(pod: Pod) -> None:
    # `ollama ps` says it is loaded; a list that does not answer within what ps left of the CLI
    # timeout proves no removal, and an overloaded server must not lose its traffic for it.
    serve_with(pod, ("phi", PHI, "generate"))
    pod.wait_for(lambda: ready(pod)[0])
    path = pod.wrapped_cli('[ "$1" = list ] && sleep 3\n')
    is_ready, said = ready(pod, PATH=path, OIL_CLI_TIMEOUT_SECONDS="1")
    assert is_ready, said


@pytest.mark.parametrize("keep_alive", ["-", "-1", "-5m"])
def test_model_without_own_keep_alive_is_loaded_back(pod: Pod, keep_alive: str) -> None:
    # "-" (the chart's value when models[].keepAlive is empty), or a negative keep-alive (kept
    # forever, as the chart counts it among the models always loaded): evicted, it is loaded
    # again, never left "on demand".
    serve_with_keep_alive(pod, ("phi", PHI, keep_alive))
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.cli("stop", "phi").returncode == 0
    pod.wait_for(lambda: "phi:latest" not in loaded_models(pod))
    is_ready, said = ready(pod)
    assert not is_ready
    assert "phi:latest: not loaded" in said
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 2}


def test_finite_keep_alive_model_is_not_on_demand_before_its_first_load(pod: Pod) -> None:
    serve_with_keep_alive(pod, ("phi", PHI, "10m"))
    is_ready, said = ready(pod)
    assert not is_ready
    assert "phi:latest: not loaded, load started" in said
    pod.wait_for(lambda: ready(pod)[0])
    assert "Forever" not in loaded_models(pod), loaded_models(pod)  # not OIL_LOAD_KEEPALIVE


def test_bad_keep_alive_column_is_a_configuration_error(pod: Pod) -> None:
    (pod.config_dir / "models.tsv").write_text("phi\t-\tfalse\tgenerate\t10\n")
    pod.control(registry={"phi": PHI})
    pod.start_server()
    result = pod.run("probe-ready.sh", timeout=10)
    assert result.returncode == 2
    assert 'keep-alive "10" is neither "-" nor a Go duration with a unit' in result.stdout


def test_the_probes_reach_the_server_when_an_http_proxy_is_set(pod: Pod) -> None:
    # The server container's OLLAMA_HOST is its bind address; with HTTP_PROXY from extraEnv the
    # CLI (like Go's, which bypasses loopback only) would ask the proxy: the probes dial loopback.
    serve_with(pod, ("phi", PHI, "generate"))
    pod.wait_for(lambda: ready(pod)[0])
    port = pod.env["OLLAMA_HOST"].rsplit(":", 1)[1]
    container = {
        "OLLAMA_HOST": f"0.0.0.0:{port}",
        "HTTP_PROXY": f"http://127.0.0.1:{free_port()}",  # nothing listens: a refused proxy
        "NO_PROXY": "localhost,127.0.0.1,.svc,.cluster.local",
    }
    assert pod.cli("ps", **container).returncode == 1, "the double ignored the proxy"

    for script in ("probe-ready.sh", "probe-live.sh"):
        result = run_with(pod, script, container)
        assert result.returncode == 0, result.stdout + result.stderr


def _ready_after_a_restart(pod: Pod) -> list[str]:
    """The server's container restarted (the pod's /tmp, and this probe's state, survive it):
    what the probe said until ready."""
    pod.stop_servers()
    pod.start_server()
    said: list[str] = []

    def answered() -> bool:
        is_ready, text = ready(pod)
        said.append(text)
        return is_ready

    pod.wait_for(answered, timeout=30, interval=0.2)
    return said


def test_a_restarted_server_is_not_taken_for_evictions_and_loads_its_models_again(
    pod: Pod,
) -> None:
    """State the probe kept of the server before a restart of its container described evictions
    that never happened ("evicted by a model it does not fit beside"), held a reload back by a
    growing backoff after a second restart, and took a model on demand as loaded without a load
    (review). It now belongs to one server (its start time): a new server starts afresh."""
    serve_with(pod, ("phi", PHI, "generate"), ("tinyllama", {"size": 40_000}, "generate"))
    pod.wait_for(lambda: ready(pod)[0])
    for _ in range(2):
        said = _ready_after_a_restart(pod)
        assert not any("evicted" in text or "unloaded by" in text for text in said), said
        assert not any("next attempt" in text for text in said), said
        assert "load started" in said[0], said


def test_a_model_on_demand_loads_again_after_a_restart(pod: Pod) -> None:
    serve_with_keep_alive(pod, ("phi", PHI, "1s"))
    pod.wait_for(lambda: ready(pod)[0])
    assert pod.state()["loads_completed"] == {"phi:latest": 1}
    said = _ready_after_a_restart(pod)
    assert "(on demand)" not in said[0], said
    assert pod.state()["loads_completed"] == {"phi:latest": 2}  # loaded on the new server too
