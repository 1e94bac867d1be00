"""Argo CD in the tests: the Applications its ApplicationSet controller creates.

``tools/argocd-render`` (Go; built by ``make bootstrap``) renders ApplicationSets the way Argo CD
v3.5 does: Go text/template with sprig v3.3.0's generic functions minus env/expandenv/
getHostByName plus normalize/slugify/toYaml/fromYaml/fromYamlArray, goTemplateOptions, every
string field (and map key) of the Application template rendered on its own, the git files
generator's parameters (file keys plus ``.path``), files matched by ``git ls-files`` in a real git
repository, the resources finalizer and the ApplicationSet's namespace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tools.bootstrap_system import ARGOCD_RENDER

RENDERER = ARGOCD_RENDER.binary
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"


def renderer() -> Path:
    if not RENDERER.is_file():
        pytest.fail(
            f"{RENDERER} missing: run `make bootstrap` (needs Go 1.26 and the Go module proxy)"
        )
    if not ARGOCD_RENDER.is_current():
        pytest.fail(f"{RENDERER} is older than its sources: run `make bootstrap`")
    return RENDERER


@dataclass(frozen=True)
class Rendered:
    applications: dict[str, dict[str, Any]]  # file the parameters came from: Application
    in_order: list[tuple[str, dict[str, Any]]]  # (file, Application); a file may give several
    errors: list[dict[str, str]]
    exit_code: int


def git_repository(root: Path, files: Mapping[PurePosixPath, bytes]) -> Path:
    """A git repository holding files (paths relative to its root), added to the index."""
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is needed for the Argo CD git files generator; install git")
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    subprocess.run([git, "init", "-q", str(root)], check=True)
    subprocess.run([git, "-C", str(root), "add", "-A"], check=True)
    return root


def render_applications(repository: Path, application_sets: list[Path], crd_dir: Path) -> Rendered:
    """The Applications the ApplicationSets create from the files of repository."""
    result = subprocess.run(
        [
            str(renderer()),
            "--repo",
            str(repository),
            "--crd",
            str(crd_dir / "argo-cd" / "applicationset.yaml"),
            *map(str, application_sets),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode not in (0, 1):
        pytest.fail(f"argocd-render failed ({result.returncode}):\n{result.stderr}")
    output = json.loads(result.stdout)
    applications = {item["file"]: item["application"] for item in output["applications"]}
    in_order = [(item["file"], item["application"]) for item in output["applications"]]
    return Rendered(applications, in_order, output["errors"], result.returncode)
