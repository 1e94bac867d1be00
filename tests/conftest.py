"""Fixtures shared by every test folder: repository paths, the pinned helm binaries, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
HELM_VERSIONS = ("3.19.0", "4.3.1")
SHARED_ENV = "OLLAMA_LOAD_SHARED_DIR"


def shared_dir_path() -> Path:
    """The project's shared folder (CRDs, notes): $OLLAMA_LOAD_SHARED_DIR, default ../shared."""
    return Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_dir_path()
    if not (path / "crds").is_dir():
        pytest.skip(
            f"shared folder not found at {path} (set {SHARED_ENV}); "
            "CRD and notes checks need it, .ci/run requires it"
        )
    return path


def helm_binary(version: str) -> Path:
    path = REPO_ROOT / ".tools" / "helm" / version / "helm"
    if not path.is_file():
        pytest.fail(f"helm {version} missing at {path}: run `make test`, which bootstraps it")
    return path


@pytest.fixture(scope="session", params=HELM_VERSIONS, ids=[f"helm{v}" for v in HELM_VERSIONS])
def helm(request: pytest.FixtureRequest) -> Path:
    """Each test using this runs once per pinned helm version (never a helm from PATH)."""
    version: str = request.param
    return helm_binary(version)
