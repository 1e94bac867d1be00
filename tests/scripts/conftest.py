"""A simulated pod for the lifecycle scripts: the very files the chart ships, run under `sh`
(dash, as in the ollama/ollama image) with the Ollama double first on PATH, the environment the
chart renders (paths and timings shortened for the double) and the model lists and load groups of
the chart's own ConfigMap."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ollama_double import install
from tests.support.chart_env import CHART, chart_config, chart_settings
from tests.support.net import free_port

FILES = CHART / "files"
SCRIPTS = ("pull-models.sh", "probe-ready.sh", "probe-live.sh", "test-models.sh", "lib.sh")
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<script>[a-z-]+) (?P<level>\S+) "
)


def run_with(pod: Pod, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A lifecycle script with these variables over the pod's (Pod.run takes them as keywords,
    which cannot hold names decided at run time)."""
    return subprocess.run(
        ["sh", str(FILES / script)],
        env={**pod.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def log_time(line: str) -> float:
    stamp = line.split(" ", 1)[0]
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:23])


@dataclass
class Pod:
    root: Path
    env: dict[str, str]
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    model_rows: tuple[tuple[str, str, bool, str] | tuple[str, str, bool, str, str], ...] = ()
    derived_rows: tuple[tuple[str, str], ...] = ()

    @property
    def config_dir(self) -> Path:
        return Path(self.env["OIL_CONFIG_DIR"])

    @property
    def models_dir(self) -> Path:
        return Path(self.env["OLLAMA_MODELS"])

    def control(self, **faults: Any) -> None:
        """Writes the double's control file (re-read by the server on every request)."""
        Path(self.env["OLLAMA_DOUBLE_CONTROL"]).write_text(json.dumps(faults))

    def state(self) -> dict[str, Any]:
        path = Path(self.env["OLLAMA_DOUBLE_STATE"])
        data: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        return data

    def models(self, *rows: tuple[str, str, bool, str] | tuple[str, str, bool, str, str]) -> None:
        """Configures these models (name, digest or "", insecure, generate|embed[, keep-alive or
        "-" for none]), as the chart."""
        self.model_rows = rows
        self.write_config()

    def derived(self, *rows: tuple[str, str]) -> None:
        """Configures these derived models (name, Modelfile text) as the chart does."""
        self.derived_rows = rows
        self.write_config()

    def write_config(self) -> None:
        """models.tsv, derived.tsv, groups.tsv and the Modelfiles, as the chart renders them."""
        values = {
            "models": [_model_values(*row) for row in self.model_rows],
            "derivedModels": [{"name": n, "modelfile": m} for n, m in self.derived_rows],
        }
        for stale in self.config_dir.glob("modelfile-*"):
            stale.unlink()
        for name, text in chart_config(values).items():
            (self.config_dir / name).write_text(text)

    def run(
        self, script: str, *args: str, timeout: float = 30, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(FILES / script), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ollama", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def wrapped_cli(self, before: str) -> str:
        """A PATH whose `ollama` runs the shell text before first, then the double's CLI (a
        test's stand-in for what the real CLI or a server does that the double does not)."""
        real = shutil.which("ollama", path=self.env["PATH"])
        folder = self.root / "wrapped-bin"
        folder.mkdir(exist_ok=True)
        (folder / "ollama").write_text(f'#!/bin/sh\n{before}exec "{real}" "$@"\n')
        (folder / "ollama").chmod(0o755)
        return f"{folder}:{self.env['PATH']}"

    def start_server(self) -> subprocess.Popen[bytes]:
        """`ollama serve` as the main container runs it; waits until it answers."""
        with (self.root / "serve.log").open("ab") as log:
            server = subprocess.Popen(
                ["ollama", "serve"], env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        self.servers.append(server)
        # The probe's "PID 1 of the container" (probe-ready.sh): this server.
        self.env["OIL_SERVER_PID"] = str(server.pid)
        deadline = time.monotonic() + 10
        while self.cli("list").returncode != 0:
            assert server.poll() is None, (self.root / "serve.log").read_text()
            assert time.monotonic() < deadline, "the double did not start"
            time.sleep(0.05)
        return server

    def stop_servers(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)  # a loaded machine (pytest -n) is slow to stop it
        self.servers.clear()

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10, interval: float = 0.05
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(interval)


def remote_digest(reference: str, spec: dict[str, Any], revision: int = 0) -> str:
    """The manifest digest the double's registry serves for a tag (what a lock file pins)."""
    from tests.ollama_double.store import remote_model

    return remote_model(reference, spec, revision).digest


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    bin_dir = tmp_path / "bin"
    install(bin_dir)
    for folder in ("config", "models", "home", "tmp"):
        (tmp_path / folder).mkdir()
    env = chart_settings() | {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "LANG": "C.UTF-8",
        "OLLAMA_HOST": f"127.0.0.1:{free_port()}",
        "OLLAMA_MODELS": str(tmp_path / "models"),
        "OLLAMA_DOUBLE_CONTROL": str(tmp_path / "control.json"),
        "OLLAMA_DOUBLE_STATE": str(tmp_path / "state.json"),
        "OIL_CONFIG_DIR": str(tmp_path / "config"),
        "OIL_STATE_DIR": str(tmp_path / "tmp" / "ollama-inference-load"),
        # PID 1 until a server starts (start_server names it): the probe's server identity.
        "OIL_SERVER_PID": "1",
        # Fault timings are fractions of a second so the folder stays fast; the other settings
        # are the chart's defaults.
        "OIL_POLL_INTERVAL_SECONDS": "0.1",
        "OIL_SERVER_START_TIMEOUT_SECONDS": "5",
        "OIL_SERVER_STOP_TIMEOUT_SECONDS": "5",
        "OIL_PULL_RETRIES": "3",
        "OIL_PULL_BACKOFF_SECONDS": "0.05",
        "OIL_PULL_BACKOFF_MAX_SECONDS": "0.08",
        "OIL_CLI_TIMEOUT_SECONDS": "2",
        "OIL_LOAD_TIMEOUT_SECONDS": "30",
        "OIL_TEST_TIMEOUT_SECONDS": "10",
    }
    created = Pod(tmp_path, env)
    created.control()
    created.models()
    yield created
    created.stop_servers()
    _stop_loaders(Path(env["OIL_STATE_DIR"]))


def _stop_loaders(state_dir: Path) -> None:
    """Detached self-heal loaders outlive the probe by design; end the ones this test started."""
    for lock in state_dir.glob("load-*.pid"):
        pid = lock.read_text().split(" ")[0].strip()  # "pid start-time"
        if pid.isdigit() and pid_alive(int(pid)):
            os.kill(int(pid), signal.SIGTERM)


def _model_values(
    name: str, digest: str, insecure: bool, kind: str, keep_alive: str = "-"
) -> dict[str, Any]:
    """One entry of the chart's models value."""
    values: dict[str, Any] = {
        "name": name,
        "digest": digest,
        "insecure": insecure,
        "embedding": kind == "embed",
    }
    if keep_alive != "-":
        values["keepAlive"] = keep_alive
    return values
