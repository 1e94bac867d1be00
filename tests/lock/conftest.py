"""Fixtures for the lock tests: a real docker-registry on the loopback address (session-wide),
a seeder that pushes Ollama-style models into it, and scripted servers for failure cases."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.lock.scripted_server import ScriptedServer
from tests.lock.seeding import RegistrySeeder

REGISTRY_BINARY = "docker-registry"


@dataclass(frozen=True)
class LocalRegistry:
    host: str  # 127.0.0.1:PORT, the registry part of a model reference
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_registry(storage: Path) -> tuple[subprocess.Popen[bytes], LocalRegistry]:
    """docker-registry serving storage on a free loopback port; returns once /v2/ answers."""
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        message = (
            f"{REGISTRY_BINARY} not installed (Debian package docker-registry; "
            "`make bootstrap` installs it when run as root)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    config = storage / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "error", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(storage / "data")},
                    "delete": {"enabled": True},
                },
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    with (storage / "registry.log").open("wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited: {(storage / 'registry.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as answer:
                if answer.status == 200:
                    return process, LocalRegistry(f"127.0.0.1:{port}", port)
        except OSError:
            time.sleep(0.05)
    process.terminate()
    pytest.fail("docker-registry did not answer on /v2/ within 20s")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    process, local = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield local
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def seeder(registry: LocalRegistry) -> Iterator[RegistrySeeder]:
    pusher = RegistrySeeder("127.0.0.1", registry.port)
    yield pusher
    pusher.close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()


@pytest.fixture
def gateway(registry: LocalRegistry) -> Iterator[ScriptedServer]:
    """A token-auth gateway in front of the real registry."""
    server = ScriptedServer(upstream=("127.0.0.1", registry.port)).start()
    yield server
    server.stop()
