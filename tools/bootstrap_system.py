#!/usr/bin/env python3
"""Install the test tools that do not come from uv.lock, each pinned and each idempotent.

- checkov (large, with pins of its own that clash with ours) in its own venv, .tools/checkov,
  from tools/checkov-requirements.txt (hash-pinned).
- Backstage's own code (npm) in tools/backstage/node_modules, from its package-lock: the entity
  validators, the scaffolder's fetch:template action, nunjucks, react-jsonschema-form, esbuild and
  playwright-core.
- tools/argocd-render and tools/apiserver-validate (Go, modules pinned by their go.sum, from the
  Go module proxy), each built into its bin/ with a stamp of its sources' sha256 that the tests
  check.
- Debian's chromium for the Backstage form tests, through apt-get when root (elsewhere the tests
  fail with the install command).
- Debian's docker-registry (a real OCI distribution server for the lock tests), through apt-get,
  only when running as root on a Debian-like machine; elsewhere the tests that need it skip with
  a reason, and under CI=true they fail instead.

A step whose inputs have not changed since its last success is skipped: each writes a stamp
holding the sha256 of the file it installed from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / ".tools"
UV = TOOLS / "uv" / "bin" / "uv"


def fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stamped(
    name: str, inputs: tuple[Path, ...], step: Callable[[], None], product: Path | None = None
) -> None:
    """step() unless its stamp matches inputs and its product (if named) is still there: .tools
    may be shared by several work trees, whose products are their own."""
    stamp = TOOLS / "stamps" / name
    wanted = fingerprint(*inputs)
    if stamp.is_file() and stamp.read_text() == wanted and (product is None or product.exists()):
        return
    print(f"bootstrap: installing {name}", flush=True)
    step()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(wanted)


def run(command: list[str], **kwargs: object) -> None:
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def install_checkov() -> None:
    venv = TOOLS / "checkov"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    run(
        [str(UV), "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)],
        env=env,
    )
    run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(REPO_ROOT / "tools" / "checkov-requirements.txt"),
        ],
        env=env,
    )


def install_backstage_validators() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("bootstrap: npm is needed for Backstage's validators; install Node.js 20+")
    run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--silent"],
        cwd=REPO_ROOT / "tools" / "backstage",
    )


class GoTool:
    """A Go program under tools/<name>/ (modules pinned by its go.sum, from the Go module proxy),
    built into tools/<name>/bin/<name> with a stamp of its sources' sha256 that the tests check;
    why: what needs it, for the message when Go is missing."""

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why
        self.directory = REPO_ROOT / "tools" / name
        self.binary = self.directory / "bin" / name
        self.stamp = self.binary.with_name(f"{name}.sha256")

    def digest(self) -> str:
        """sha256 over the tool's go.mod, go.sum and Go files."""
        digest = hashlib.sha256()
        sources = [*self.directory.glob("*.go"), self.directory / "go.mod"]
        for path in sorted([*sources, self.directory / "go.sum"]):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def is_current(self) -> bool:
        """Built, from the sources as they are now."""
        stamp = self.stamp
        return (
            self.binary.is_file() and stamp.is_file() and stamp.read_text().strip() == self.digest()
        )

    def build(self) -> None:
        if self.is_current():
            return
        go = shutil.which("go")
        if go is None:
            print(
                f"bootstrap: go not found; install Go 1.26 (https://go.dev/dl/) to build "
                f"tools/{self.name}, which {self.why}",
                file=sys.stderr,
            )
            return
        print(f"bootstrap: building tools/{self.name}", flush=True)
        env = {**os.environ, "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
        run([go, "mod", "download"], cwd=self.directory, env=env)
        run([go, "build", "-trimpath", "-o", str(self.binary), "."], cwd=self.directory, env=env)
        self.stamp.write_text(self.digest() + "\n")


ARGOCD_RENDER = GoTool("argocd-render", "the Argo CD tests need")
APISERVER_VALIDATE = GoTool("apiserver-validate", "the API server validation tests need")


def install_chromium() -> None:
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "bootstrap: chromium not installed (needs root and apt-get): "
            "sudo apt-get install -y chromium; the Backstage form tests fail without it",
            file=sys.stderr,
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)


def install_docker_registry() -> None:
    if shutil.which("docker-registry"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "bootstrap: docker-registry not installed (needs root and apt-get); "
            "the registry tests will skip with a reason",
            file=sys.stderr,
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    # The package's post-install would start a system service; we only want the binary.
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-registry"], env=env)
    if shutil.which("systemctl") is None and shutil.which("service") is not None:
        subprocess.run(["service", "docker-registry", "stop"], check=False, capture_output=True)


def main() -> int:
    stamped("checkov", (REPO_ROOT / "tools" / "checkov-requirements.txt",), install_checkov)
    stamped(
        "backstage-validators",
        (REPO_ROOT / "tools" / "backstage" / "package-lock.json",),
        install_backstage_validators,
        product=REPO_ROOT / "tools" / "backstage" / "node_modules",
    )
    ARGOCD_RENDER.build()
    APISERVER_VALIDATE.build()
    install_docker_registry()
    install_chromium()
    return 0


if __name__ == "__main__":
    sys.exit(main())
