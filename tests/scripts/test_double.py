"""The Ollama double itself reproduces the CLI and API facts the scripts rely on
(../shared/notes/ollama.md); if it drifted, the script tests would prove nothing."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.ollama_double.endpoint import parse_host, proxy_for
from tests.ollama_double.gotime import DurationError, parse_go_duration
from tests.ollama_double.names import InvalidNameError, parse_name
from tests.scripts.conftest import Pod
from tests.support.go_oracle import build_go_program

PHI = {"size": 20_000}
EMBED = {"size": 20_000, "kind": "embed"}


@pytest.mark.parametrize(
    ("reference", "display", "path"),
    [
        ("phi", "phi:latest", "registry.ollama.ai/library/phi/latest"),
        ("team/phi:q4", "team/phi:q4", "registry.ollama.ai/team/phi/q4"),
        (
            "reg.local:5000/team/phi",
            "reg.local:5000/team/phi:latest",
            "reg.local:5000/team/phi/latest",
        ),
        ("my-reg/phi", "my-reg/phi:latest", "registry.ollama.ai/my-reg/phi/latest"),
        ("_x", "_x:latest", "registry.ollama.ai/library/_x/latest"),
    ],
)
def test_names_follow_ollamas_parser(reference: str, display: str, path: str) -> None:
    name = parse_name(reference)
    assert name.display == display
    assert "/".join(name.path_parts) == path


@pytest.mark.parametrize("reference", ["myreg.io/phi", "a/b/c/d", "-x", "phi:", "ns/m:a:b"])
def test_names_ollama_refuses(reference: str) -> None:
    """`a/b` is namespace `a`, and a namespace takes no '.' (types/model/name.go isValidPart)."""
    with pytest.raises(InvalidNameError):
        parse_name(reference)


def test_go_durations_need_a_unit() -> None:
    assert parse_go_duration("-1m") == -60
    assert parse_go_duration("1h30m") == 5400
    with pytest.raises(DurationError, match='missing unit in duration "-1"'):
        parse_go_duration("-1")


def test_cli_without_server_says_could_not_connect(pod: Pod) -> None:
    result = pod.cli("list")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: could not connect to ollama server, run 'ollama serve' to start it\n"
    )


def test_list_columns_and_id_is_the_manifest_file_digest(pod: Pod) -> None:
    pod.control(registry={"phi": PHI, "team/embed:v1": EMBED})
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    assert pod.cli("pull", "team/embed:v1").returncode == 0

    lines = pod.cli("list").stdout.splitlines()

    assert re.fullmatch(r"NAME +ID +SIZE +MODIFIED +", lines[0])
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"phi:latest", "team/embed:v1"}
    manifest = pod.models_dir / "manifests/registry.ollama.ai/library/phi/latest"
    assert rows["phi:latest"][1] == hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
    assert rows["phi:latest"][2:4] == ["20", "KB"]


def test_pull_errors_stream_with_http_200_and_500_without_streaming(pod: Pod) -> None:
    pod.control(pull_failures={"phi": -1}, pull_error="boom")
    pod.start_server()
    host, port = pod.env["OLLAMA_HOST"].split(":")
    answers = []
    for stream in (True, False):
        connection = http.client.HTTPConnection(host, int(port))
        connection.request("POST", "/api/pull", json.dumps({"model": "phi", "stream": stream}))
        response = connection.getresponse()
        answers.append((response.status, response.read().decode().splitlines()[-1]))
        connection.close()
    assert answers == [(200, '{"error": "boom"}'), (500, '{"error": "boom"}')]
    result = pod.cli("pull", "phi")
    assert result.returncode == 1
    assert result.stderr.endswith("Error: boom\n")
    assert "\x1b[" in result.stderr, "the real CLI draws ANSI progress on stderr"


def test_show_run_and_ps_behave_like_the_cli(pod: Pod) -> None:
    pod.control(registry={"phi": PHI, "all-minilm": EMBED})
    pod.start_server()

    missing = pod.cli("show", "phi")
    assert missing.returncode == 1
    assert missing.stderr == "Error: model 'phi:latest' not found\n"  # ShowHandler: full name
    assert pod.cli("run", "phi", "").returncode == 0, "run pulls a missing model, then loads it"
    assert pod.state()["pull_requests"] == 1
    embed = pod.cli("run", "all-minilm", "")
    assert embed.returncode == 1
    assert "embedding models require input text" in embed.stderr
    assert pod.cli("run", "phi", "", "--keepalive", "-1").stderr == (
        'Error: time: missing unit in duration "-1"\n'
    )
    assert pod.cli("run", "phi", "", "--keepalive=-1m").returncode == 0

    ps = pod.cli("ps").stdout.splitlines()
    assert re.fullmatch(r"NAME +ID +SIZE +PROCESSOR +CONTEXT +UNTIL +", ps[0])
    assert re.fullmatch(r"phi:latest +[0-9a-f]{12} +20 KB +100% CPU +4096 +Forever +", ps[1])
    generate = pod.cli("run", "all-minilm", "hi")
    assert generate.stdout.startswith("[")


def test_rm_deletes_manifest_and_unused_blobs(pod: Pod) -> None:
    pod.control(registry={"phi": PHI})
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    result = pod.cli("rm", "phi")
    assert result.stdout == "deleted 'phi'\n"
    assert not list((pod.models_dir / "blobs").iterdir())
    assert pod.cli("rm", "phi").stderr == "Error: model 'phi' not found\n"


def _until(pod: Pod, name: str) -> str:
    """The UNTIL column of a model in `ollama ps` ("" when not listed)."""
    for row in pod.cli("ps").stdout.splitlines()[1:]:
        if row.startswith(f"{name} "):
            return re.split(r" {2,}", row.strip())[-1]
    return ""


def test_a_request_without_keep_alive_leaves_a_loaded_models_alone(pod: Pod) -> None:
    """sched.go useLoadedRunner changes a runner's keep-alive only when the request has one
    (`ollama run` without --keepalive sends none): an on-demand model stays on demand."""
    pod.control(registry={"phi": PHI})
    pod.start_server()
    assert pod.cli("run", "phi", "", "--keepalive=-1m").returncode == 0
    assert _until(pod, "phi:latest") == "Forever"

    assert pod.cli("run", "phi", "hello").returncode == 0
    assert _until(pod, "phi:latest") == "Forever"
    assert pod.cli("run", "phi", "", "--keepalive=10m").returncode == 0
    assert _until(pod, "phi:latest") not in ("", "Forever")


def test_eviction_takes_the_idle_model_with_the_shortest_keep_alive(pod: Pod) -> None:
    """sched.go findRunnerToUnload (ByDurationAndName), not the oldest: forever sorts last."""
    pod.env["OLLAMA_MAX_LOADED_MODELS"] = "2"
    pod.control(registry={"phi": PHI, "tiny": PHI, "other": PHI})
    pod.start_server()
    assert pod.cli("run", "phi", "", "--keepalive=-1m").returncode == 0
    assert pod.cli("run", "tiny", "", "--keepalive=5m").returncode == 0

    assert pod.cli("run", "other", "", "--keepalive=10m").returncode == 0

    listed = pod.cli("ps").stdout
    assert "phi:latest" in listed, "the oldest, resident model was evicted"
    assert "tiny:latest" not in listed


def test_loads_of_different_models_run_one_at_a_time(pod: Pod) -> None:
    """sched.go processPending loads synchronously: a second model's load waits for the first."""
    pod.control(registry={"phi": PHI, "tiny": PHI}, load_delay_s=1.0)
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    assert pod.cli("pull", "tiny").returncode == 0

    begin = time.monotonic()
    loads = [
        subprocess.Popen(["ollama", "run", name, ""], env=pod.env, stdin=subprocess.DEVNULL)
        for name in ("phi", "tiny")
    ]
    assert [load.wait(timeout=30) for load in loads] == [0, 0]

    # In parallel they would take about 1 s; one after the other, at least 2 s.
    assert time.monotonic() - begin >= 1.9


def test_create_keeps_the_from_models_parameters_the_modelfile_does_not_set(pod: Pod) -> None:
    """create.go setParameters: the request's parameters over the base's, written by Go's
    json.Encoder (compact, keys sorted, `<` escaped, a newline)."""
    pod.control(registry={"phi": PHI})
    pod.start_server()
    modelfile = pod.root / "Modelfile"
    modelfile.write_text("FROM phi\nPARAMETER temperature 0.5\n")
    assert pod.cli("create", "warm-phi", "-f", str(modelfile)).returncode == 0

    manifest = json.loads(
        (pod.models_dir / "manifests/registry.ollama.ai/library/warm-phi/latest").read_text()
    )
    (params,) = [layer for layer in manifest["layers"] if layer["mediaType"].endswith(".params")]
    blob = (pod.models_dir / "blobs" / params["digest"].replace(":", "-")).read_bytes()
    assert blob == b'{"stop":["\\u003c|end|\\u003e"],"temperature":0.5}\n'


def test_create_finds_its_from_model_by_exact_spelling_and_pulls_another_spelling(
    pod: Pod,
) -> None:
    """model.go parseFromModel opens the FROM model's manifest file (case-sensitive on Linux)
    and pulls it when absent, under that spelling; show ignores case (recorded with 0.32.0's
    binary by the sixteenth round's review: `create` FROM R/oil/Base:1 after pulling
    R/oil/base:1 pulled again)."""
    pod.control(registry={"phi": PHI})
    pod.start_server()
    assert pod.cli("pull", "phi").returncode == 0
    modelfile = pod.root / "Modelfile"
    modelfile.write_text("FROM Phi\nSYSTEM hi\n")
    before = pod.state()["manifest_requests"]
    assert pod.cli("create", "terse", "-f", str(modelfile)).returncode == 0
    assert pod.state()["manifest_requests"] == before + 1
    manifests = pod.models_dir / "manifests/registry.ollama.ai/library"
    assert sorted(path.name for path in manifests.iterdir()) == ["Phi", "phi", "terse"]
    modelfile.write_text("FROM phi\nSYSTEM hi\n")
    assert pod.cli("create", "terse2", "-f", str(modelfile)).returncode == 0
    assert pod.state()["manifest_requests"] == before + 1


def test_a_path_no_route_takes_gets_gins_plain_404(pod: Pod) -> None:
    """Ollama sets no NoRoute handler: gin answers a text 404, not a JSON error."""
    pod.start_server()
    host, port = pod.env["OLLAMA_HOST"].split(":")
    answers = []
    for method, path in (("GET", "/api/nothing"), ("POST", "/api/nothing"), ("DELETE", "/x")):
        connection = http.client.HTTPConnection(host, int(port))
        connection.request(method, path, "{}")
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Content-Type"), response.read()))
        connection.close()
    assert answers == [(404, "text/plain", b"404 page not found")] * 3


def test_a_pull_whose_client_leaves_during_the_digest_check_finishes_it_but_no_manifest(
    pod: Pod,
) -> None:
    """images.go PullModel's verify loop does not watch the request: the blobs are checked to
    the end (one that fails is removed), but the pull then blocks on its progress channel and
    writes no manifest."""
    pod.control(registry={"phi": PHI}, verify_delay_s=1.5)
    pod.start_server()
    puller = subprocess.Popen(
        ["ollama", "pull", "phi"], env=pod.env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    pod.wait_for(lambda: pod.state().get("bytes_downloaded", 0) >= PHI["size"])
    weights = max((pod.models_dir / "blobs").iterdir(), key=lambda blob: blob.stat().st_size)
    time.sleep(0.3)  # inside the 1.5 s check
    puller.kill()
    puller.communicate(timeout=10)
    weights.write_bytes(b"x" * weights.stat().st_size)  # damaged before the check reaches it

    pod.wait_for(lambda: not weights.exists(), timeout=10)
    assert "phi" not in pod.cli("list").stdout, "a manifest was written for a gone client"
    assert pod.cli("pull", "phi").returncode == 0
    assert pod.state()["bytes_downloaded"] >= 2 * PHI["size"], "the weights were not fetched again"


GO_PROXY = REPO_ROOT / "tests" / "ollama_double" / "goproxy" / "main.go"
PROXY_TARGETS = [
    "http://0.0.0.0:11434",
    "http://127.0.0.1:11434",
    "http://localhost:11434",
    "http://[::]:11434",
    "http://[::1]:11434",
    "http://ollama.ml.svc:11434",
    "http://ollama:11434",
    "http://a.b.example.com:80",
    "http://10.1.2.3:11434",
]


@pytest.fixture(scope="module")
def go_proxy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's own proxy choice (goproxy/main.go), built once."""
    return build_go_program(GO_PROXY, tmp_path_factory.mktemp("goproxy"))


@pytest.mark.parametrize(
    "environ",
    [
        {"HTTP_PROXY": "http://proxy.corp:3128"},
        {"http_proxy": "proxy.corp:3128"},
        {"HTTP_PROXY": "http://user:secret@proxy.corp"},
        {"HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "0.0.0.0"},
        {"HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "0.0.0.0:1,ollama:11434"},
        {"HTTP_PROXY": "http://proxy.corp:3128", "no_proxy": ".svc, example.com"},
        {"HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "*.example.com,10.0.0.0/8"},
        {"HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "*"},
        {"HTTP_PROXY": "http://[fd00::1]:3128", "NO_PROXY": "::/0"},
        {"NO_PROXY": "localhost"},
    ],
)
def test_the_double_picks_the_proxy_go_picks(go_proxy: Path, environ: dict[str, str]) -> None:
    clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    go = subprocess.run(
        [str(go_proxy), *PROXY_TARGETS],
        env={**clean, **environ},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for target, expected in zip(PROXY_TARGETS, go, strict=True):
        found = proxy_for(*parse_host(target), environ)
        if expected == "direct":
            assert found is None, target
            continue
        wanted = urllib.parse.urlsplit("//" + expected)
        assert found == (wanted.hostname, wanted.port or 80), target
