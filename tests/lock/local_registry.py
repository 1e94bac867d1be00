"""A real docker-registry (Debian's Docker Distribution) on a free loopback port.

Used by the lock tests' session fixture and by bench/lock.py; plain Python, so each caller decides
what a missing binary or a failed start means (skip, fail, exit).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.blob_redirect import BlobRedirect
from tests.support.net import free_port

REGISTRY_BINARY = "docker-registry"


@dataclass(frozen=True)
class LocalRegistry:
    host: str  # 127.0.0.1:PORT, the registry part of a model reference
    port: int  # the registry's own port: pushes go there


class RegistryNotInstalledError(RuntimeError):
    pass


class RegistryStartError(RuntimeError):
    pass


def start_registry(storage: Path) -> tuple[subprocess.Popen[bytes], LocalRegistry]:
    """docker-registry serving storage on a free loopback port; returns once /v2/ answers."""
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        raise RegistryNotInstalledError(
            f"{REGISTRY_BINARY} not installed (Debian package docker-registry; "
            "`make bootstrap` installs it when run as root)"
        )
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
    log_path = storage / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RegistryStartError(f"docker-registry exited: {log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as answer:
                if answer.status == 200:
                    return process, LocalRegistry(f"127.0.0.1:{port}", port)
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RegistryStartError("docker-registry did not answer on /v2/ within 20s")


def redirecting(local: LocalRegistry) -> tuple[BlobRedirect, LocalRegistry]:
    """A front that redirects blob downloads to the registry (tests/support/blob_redirect.py),
    and the registry as model references name it through the front: Ollama pulls from no
    registry that serves blobs itself, so `catalog-gen lock` pins from none either."""
    front = BlobRedirect(local.port)
    return front, LocalRegistry(front.host, local.port)
