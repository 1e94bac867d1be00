"""Small Go programs the tests use as oracles (Go's own answer to a question the project's
Python code must answer the same way), built once per test module."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def build_go_program(source: Path, directory: Path) -> Path:
    """source (one main.go, standard library only) built into directory; its binary."""
    go = shutil.which("go")
    assert go is not None, "Go 1.26 is a toolchain of every machine (make bootstrap needs it)"
    binary = directory / source.parent.name
    env = {**os.environ, "CGO_ENABLED": "0", "GO111MODULE": "off"}
    subprocess.run(
        [go, "build", "-o", str(binary), str(source)], check=True, env=env, capture_output=True
    )
    return binary
