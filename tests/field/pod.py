"""A pod for the chart's scripts around a REAL `ollama` binary given by path: the chart rendered
by helm, the init container's and the server container's command and environment taken from the
rendered manifest, the scripts and tables from the rendered ConfigMap, and every process run as
the pod runs it: uid/gid 10001 (setpriv), a read-only root (bubblewrap: a tmpfs root with /usr
and /etc bound read-only, remounted read-only), `/bin/ollama` the binary, `/bin/sh` dash, and the
emptyDir-like volumes (/models, /home/ollama, /tmp) as writable folders owned by 10001.

Processes share the host's network (the registry is on loopback) and pid namespace (a probe's
detached loader outlives the probe, as it does in the container).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

POD_UID = 10001
CONFIG_MOUNT = "/opt/ollama-inference-load"
VOLUMES = {"models": "/models", "home": "/home/ollama", "tmp": "/tmp"}


def render(helm: Path, chart: Path, values: dict[str, Any], workdir: Path) -> list[dict[str, Any]]:
    values_file = workdir / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    out = subprocess.run(
        [str(helm), "template", "field", str(chart), "-f", str(values_file)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {
        item["name"]: str(item["value"]) for item in container.get("env", []) if "value" in item
    }


@dataclass
class Pod:
    root: Path
    ollama: Path
    init_env: dict[str, str]
    server_env: dict[str, str]
    init_command: list[str]
    server_command: list[str]
    probes: dict[str, list[str]]
    test_env: dict[str, str]
    test_command: list[str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def from_manifests(cls, docs: list[dict[str, Any]], root: Path, ollama: Path) -> Pod:
        workload = next(d for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
        spec = workload["spec"]["template"]["spec"]
        init = spec["initContainers"][0]
        server = spec["containers"][0]
        test = next(d for d in docs if d["kind"] == "Pod")["spec"]["containers"][0]
        config = next(d for d in docs if d["kind"] == "ConfigMap")
        (root / "config").mkdir(parents=True)
        for name, text in config["data"].items():
            (root / "config" / name).write_text(text)
        for name in VOLUMES:
            (root / name).mkdir()
            os.chown(root / name, POD_UID, POD_UID)
        probes = {
            kind: server[kind]["exec"]["command"]
            for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        }
        return cls(
            root,
            ollama,
            _env(init),
            _env(server),
            init["command"] + init.get("args", []),
            server["command"] + server.get("args", []),
            probes,
            _env(test),
            test["command"] + test.get("args", []),
        )

    def sandbox(self, command: list[str], env: dict[str, str]) -> list[str]:
        argv = [
            "setpriv",
            f"--reuid={POD_UID}",
            f"--regid={POD_UID}",
            "--clear-groups",
            "bwrap",
            "--tmpfs",
            "/",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--ro-bind",
            "/etc",
            "/etc",
            "--dir",
            "/bin",
            "--ro-bind",
            "/usr/bin/dash",
            "/bin/sh",
            "--ro-bind",
            str(self.ollama),
            "/bin/ollama",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--ro-bind",
            str(self.root / "config"),
            CONFIG_MOUNT,
        ]
        for name, mount in VOLUMES.items():
            argv += ["--bind", str(self.root / name), mount]
        argv += ["--remount-ro", "/", "--clearenv"]
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for key, value in {"PATH": path, **env}.items():
            argv += ["--setenv", key, value]
        return argv + command

    def run(
        self, command: list[str], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.sandbox(command, env),
            capture_output=True,
            text=True,
            errors="replace",  # a script may cut a model's UTF-8 answer mid-character
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def init(self, timeout: float = 300, **overrides: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.init_command, {**self.init_env, **overrides}, timeout)

    def start_server(self, **overrides: str) -> subprocess.Popen[bytes]:
        with (self.root / "serve.log").open("ab") as log:
            process = subprocess.Popen(
                self.sandbox(self.server_command, {**self.server_env, **overrides}),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while self.probe("livenessProbe").returncode != 0:
            assert process.poll() is None, (self.root / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ollama serve did not answer in 60s"
            time.sleep(0.2)
        return process

    def probe(self, kind: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.probes[kind], {**self.server_env, **overrides}, timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(["/bin/ollama", *args], self.server_env, timeout=120)

    def helm_test(self, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {
            **self.test_env,
            "OLLAMA_HOST": self.server_env["OLLAMA_HOST"].replace("0.0.0.0", "127.0.0.1"),
        }
        return self.run(self.test_command, env, timeout)

    def stop(self) -> list[int]:
        """SIGTERM to `ollama serve` itself, as the kubelet sends it to the container's PID 1
        (bwrap, the sandbox's parent, does not forward signals); bwrap then exits with the
        server's status."""
        codes = []
        for process in self.processes:
            if process.poll() is None:
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
                for child in children.split():
                    os.kill(int(child), signal.SIGTERM)
                codes.append(process.wait(timeout=60))
        self.processes.clear()
        return codes


def tools_missing() -> list[str]:
    return [tool for tool in ("bwrap", "setpriv", "docker-registry") if shutil.which(tool) is None]
