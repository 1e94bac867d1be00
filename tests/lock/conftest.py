"""Fixtures for the lock tests: a real docker-registry on the loopback address (session-wide)
behind a front that redirects blob downloads as Ollama's pull needs, a seeder that pushes
Ollama-style models into it, and scripted servers for failure cases."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.lock.local_registry import (
    LocalRegistry,
    RegistryNotInstalledError,
    RegistryStartError,
    redirecting,
    start_registry,
)
from tests.lock.scripted_server import ScriptedServer
from tests.lock.seeding import RegistrySeeder


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    try:
        process, local = start_registry(tmp_path_factory.mktemp("registry"))
    except RegistryNotInstalledError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(str(error))
        pytest.skip(str(error))
    except RegistryStartError as error:
        pytest.fail(str(error))
    front, through_front = redirecting(local)
    try:
        yield through_front
    finally:
        front.close()
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
