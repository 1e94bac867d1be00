"""Helpers for the tests of render's guarantees: a small catalog, a snapshot of every output,
and catalog-gen run in a child process that a signal interrupts at a chosen step of the swap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from catalog_gen.cache import CACHE_DIR
from tests.unit.helpers import CHART, default_sigint, leaf, make_catalog

# The child counts every rename and removal the swap makes and sends itself KILL_SIGNAL at the
# KILL_AT-th one: deterministic, no sleeps, the real signal machinery.
DRIVER = """
import os, sys
from catalog_gen.write import swap
from catalog_gen.cli import main
kill_at, signal_number = int(os.environ["KILL_AT"]), int(os.environ["KILL_SIGNAL"])
count = 0
def counted(real):
    def step(*args):
        global count
        count += 1
        if count == kill_at:
            os.kill(os.getpid(), signal_number)
        return real(*args)
    return step
swap.rename, swap.remove = counted(swap.rename), counted(swap.remove)
if os.environ.get("KILL_ON_LOAD"):  # while planning: the first leaf read
    from catalog_gen.plan import pipeline as plan
    real_load = plan.load_document
    def load(*args):
        os.kill(os.getpid(), signal_number)
        return real_load(*args)
    plan.load_document = load
sys.exit(main(sys.argv[1:]))
"""


def catalog_with_outputs(root: Path, kept: int = 0) -> None:
    """A catalog, rendered once, then changed so the next render changes all three outputs.
    kept: services the change leaves alone (with enough, the generated tree is patched rather
    than rebuilt whole: write/writer.py _stage_patch)."""
    leaves = {"dev/ml/svc.yaml": leaf(), "dev/ml/gone.yaml": leaf(name="gone")}
    leaves |= {f"dev/ml/kept-{index}.yaml": leaf(name=f"kept-{index}") for index in range(kept)}
    catalog = make_catalog(root, leaves)
    assert render_in_child(root).returncode == 0
    (catalog / "dev/ml/gone.yaml").unlink()
    (catalog / "dev/ml/svc.yaml").write_text(leaf("model: phi:3.8b\n"))
    (catalog / "dev/ml/new.yaml").write_text(leaf(name="new"))
    location = root / "catalog-info.yaml"
    location.write_bytes(location.read_bytes() + b"# previous\n")


def outputs(root: Path) -> dict[str, bytes]:
    """Every file and folder of the three outputs, by path and mode (a folder's bytes: none), so
    that a patch that left a mode or an empty folder behind differs from a fresh render."""
    found: dict[str, bytes] = {}
    for base in (root / "generated", root / "deploy"):
        for path in sorted([base, *base.rglob("*")]) if base.exists() else []:
            mode = path.lstat().st_mode
            name = f"{path.relative_to(root).as_posix()} {mode:o}"
            found[name] = path.read_bytes() if path.is_file() else b""
    for path in [root / "catalog-info.yaml"]:
        if path.exists():
            found[f"{path.name} {path.lstat().st_mode:o}"] = path.read_bytes()
    return found


def leftovers(root: Path) -> list[str]:
    """Dot-entries beside the outputs (the cache, which render keeps on purpose, aside)."""
    return sorted(
        path.relative_to(root).as_posix()
        for directory in (root, root / "deploy")
        if directory.exists()
        for path in directory.iterdir()
        if path.name.startswith(".") and path != root / CACHE_DIR
    )


def render_in_child(
    root: Path, *arguments: str, kill_at: int = 0, kill_signal: int = 9, on_load: bool = False
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "KILL_AT": str(kill_at), "KILL_SIGNAL": str(kill_signal)}
    environment["KILL_ON_LOAD"] = "1" if on_load else ""
    return subprocess.run(
        [sys.executable, "-c", DRIVER, "render", "--chart", str(CHART), *arguments],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=default_sigint,
    )
