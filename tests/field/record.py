"""Records what a real `ollama` binary answers to the field-trial steps (tests/field/steps.py).

    python -m tests.field.record --ollama PATH --version V --commit SHA --gguf FILE --out DIR
        [--seed-ollama PATH] [--loaded]

Starts Debian's docker-registry on loopback, creates `{registry}/oil/tiny:1` from the GGUF with
`ollama create` and `ollama push --insecure` (with --seed-ollama, default --ollama, on a store of
its own), then runs every step against a fresh `ollama serve` (HOME, OLLAMA_MODELS in a temporary
folder) and writes DIR/steps.json and DIR/server-log.json. Environment-specific values are
replaced by the placeholders of steps.py at record time. Builds nothing and downloads nothing:
the binary is given by path (docs/field-trial.md says how it was built).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.field.steps import MODEL, Step, all_steps
from tests.lock.local_registry import start_registry
from tests.support.blob_redirect import BlobRedirect
from tests.support.net import free_port

CLI_TIMEOUT = 120


class Env:
    """One server's world: HOME, OLLAMA_MODELS, OLLAMA_HOST, the work folder, the registry."""

    def __init__(self, root: Path, registry: str, down: str, direct: str = "") -> None:
        self.root = root
        self.home = root / "home"
        self.models = root / "models"
        self.dir = root / "work"
        for folder in (self.home, self.models, self.dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.host = f"127.0.0.1:{free_port()}"
        self.registry = registry
        self.down = down
        self.direct = direct or registry
        self.extra: dict[str, str] = {}  # more values to replace: {value: placeholder}

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
        env.update(HOME=str(self.home), OLLAMA_MODELS=str(self.models), OLLAMA_HOST=self.host)
        return env

    def expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.format(
                registry=self.registry, down=self.down, dir=self.dir, direct=self.direct
            )
        if isinstance(value, list):
            return [self.expand(item) for item in value]
        if isinstance(value, dict):
            return {key: self.expand(item) for key, item in value.items()}
        return value

    def placeholders(self, text: str) -> str:
        """Environment-specific values back to their placeholders (longest first)."""
        pairs = [
            (str(self.dir), "{dir}"),
            (str(self.models), "{models}"),
            (str(self.home), "{home}"),
            (self.registry, "{registry}"),
            (self.down, "{down}"),
            (self.direct, "{direct}"),
            (self.host, "{host}"),
            *self.extra.items(),
        ]
        for value, name in sorted(pairs, key=lambda pair: -len(pair[0])):
            text = text.replace(value, name)
        return text


def start_server(binary: str, env: Env, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        server = subprocess.Popen(
            [binary, "serve"],
            env=env.environ,
            stdout=handle,
            stderr=handle,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{env.host}/", timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"ollama serve exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("ollama serve did not answer within 60s")


def stop_server(server: subprocess.Popen[bytes]) -> int:
    server.terminate()
    return server.wait(timeout=60)


def run_cli(binary: str, env: Env, args: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        [binary, *env.expand(args)],
        env=env.environ,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    return {
        "exit_code": result.returncode,
        "stdout": env.placeholders(result.stdout.decode()),
        "stderr": env.placeholders(result.stderr.decode()),
    }


def run_http(env: Env, method: str, path: str, body: Any) -> dict[str, Any]:
    data = None if body is None else json.dumps(env.expand(body)).encode()
    request = urllib.request.Request(f"http://{env.host}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=CLI_TIMEOUT) as answer:
            status, headers, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    return {
        "status": status,
        "content_type": headers.get("Content-Type", ""),
        "body": env.placeholders(raw.decode()),
    }


def run_step(binary: str, env: Env, step: Step) -> dict[str, Any]:
    for name, text in step.get("files", {}).items():
        (env.dir / name).write_text(env.expand(text))
    if "cli" in step:
        return {"id": step["id"], "cli": step["cli"], **run_cli(binary, env, step["cli"])}
    method, path, body = step["http"]
    return {"id": step["id"], "http": step["http"], **run_http(env, method, path, body)}


def seed_registry(binary: str, gguf: Path, root: Path, registry: str) -> None:
    env = Env(root, registry, "unused")
    server = start_server(binary, env, root / "seed-serve.log")
    try:
        modelfile = env.dir / "Modelfile"
        modelfile.write_text(f"FROM {gguf}\n")
        target = MODEL.format(registry=registry)
        for args in (["create", target, "-f", str(modelfile)], ["push", "--insecure", target]):
            result = run_cli(binary, env, args)
            if result["exit_code"] != 0:
                raise RuntimeError(f"seeding: ollama {' '.join(args)} failed: {result['stderr']}")
    finally:
        stop_server(server)


def run_trial(
    binary: str, env: Env, loaded: bool, log: Path
) -> tuple[list[dict[str, Any]], int | None]:
    """Every step in order against `binary`; returns the records and the server's exit status
    after SIGTERM (the clean stop)."""
    records: list[dict[str, Any]] = []
    server = None
    try:
        for phase, step in all_steps(loaded):
            if phase != "no-server" and server is None:
                server = start_server(binary, env, log)
            records.append({"phase": phase, **run_step(binary, env, step)})
    finally:
        stop_status = stop_server(server) if server is not None else None
    return records, stop_status


def record(args: argparse.Namespace, root: Path) -> None:
    (root / "registry").mkdir()
    registry_process, registry = start_registry(root / "registry")
    front = BlobRedirect(registry.port)
    down = f"127.0.0.1:{free_port()}"
    try:
        seed_registry(args.seed_ollama or args.ollama, args.gguf, root / "seed", registry.host)
        env = Env(root / "trial", front.host, down, registry.host)
        env.extra[str(root / "seed")] = "{seed}"
        log = root / "serve.log"
        records, stop_status = run_trial(args.ollama, env, args.loaded, log)
    finally:
        front.close()
        registry_process.terminate()
        registry_process.wait()
    head = {"version": args.version, "commit": args.commit, "binary": args.describe}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "steps.json").write_text(
        json.dumps({**head, "records": records}, indent=1, ensure_ascii=False) + "\n"
    )
    lines = [env.placeholders(line) for line in log.read_text(errors="replace").splitlines()]
    (args.out / "server-log.json").write_text(
        json.dumps(
            {**head, "stop_exit_code": stop_status, "lines": lines}, indent=1, ensure_ascii=False
        )
        + "\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ollama", required=True, help="the ollama binary to record")
    parser.add_argument("--seed-ollama", help="the binary that creates and pushes the model")
    parser.add_argument("--version", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--describe", default="", help="how the binary was built (one line)")
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--loaded", action="store_true", help="also the steps that load models")
    args = parser.parse_args(argv)
    if shutil.which("docker-registry") is None:
        print("docker-registry (Debian) is needed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="oil-field-") as tmp:
        try:
            record(args, Path(tmp))
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
