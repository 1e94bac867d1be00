"""A file system that refuses (read-only, permission, full disk, quota, I/O) is the user's
environment: every writing command exits 1 naming the path and the OS error, changes nothing and
leaves nothing behind. Root ignores chmod, so the refusal is injected into the os functions."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_gen.write import writer
from tests.conftest import REPO_ROOT
from tests.unit.helpers import CHART, leaf, make_catalog, run_cli
from tests.unit.outputs_support import leftovers, outputs

ERRNOS = [errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO]


def refuse_from(
    monkeypatch: pytest.MonkeyPatch, root: Path, number: int, code: int, *, after: bool = False
) -> Callable[[], int]:
    """Make the number-th os.open/os.mkdir/os.rename under root fail with code (with after,
    every one from the number-th on: a read-only file system); returns a counter of the calls."""
    calls = 0

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def refused(path: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            if os.path.abspath(path).startswith(str(root)) and kwargs.get("dir_fd") is None:
                calls += 1
                if calls == number or (after and calls > number):
                    raise OSError(code, os.strerror(code), os.fspath(path))
            return real(path, *args, **kwargs)

        return refused

    for name in ("open", "mkdir", "rename"):
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    return lambda: calls


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=st.integers(min_value=1, max_value=40), code=st.sampled_from(ERRNOS))
def test_render_exits_1_naming_the_path_and_changes_nothing(
    tmp_path_factory: pytest.TempPathFactory, number: int, code: int
) -> None:
    root = tmp_path_factory.mktemp("render")
    catalog = make_catalog(root, {"dev/ml/svc.yaml": leaf()})
    assert run_cli(root, "render").code == 0
    (catalog / "dev/ml/new.yaml").write_text(leaf(name="new"))
    before = outputs(root)
    with pytest.MonkeyPatch.context() as patch:
        refuse_from(patch, root.resolve(), number, code)
        outcome = run_cli(root, "render")
    if outcome.code == 0:
        # Fewer calls than number, or only the removal of the previous copies was refused
        # (after the swap): the render is complete and the next one removes the leftovers.
        assert run_cli(root, "render").code == 0
        assert leftovers(root) == []
        return
    assert outcome.code == 1, outcome.stderr
    message = outcome.stderr.splitlines()[-1]
    # the path as the user would type it (relative to the working directory), then the error
    match = re.fullmatch(r"catalog-gen: cannot write (\S+): (.+)", message)
    assert match is not None, message
    assert match.group(2) == os.strerror(code)
    assert (root / match.group(1)).resolve().is_relative_to(root.resolve())
    assert "internal error" not in outcome.stderr
    assert outputs(root) == before
    assert leftovers(root) == []


def test_a_full_disk_while_a_file_is_written_names_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write's ENOSPC names no file: the message named the first output ("cannot write
    generated") whatever file filled the disk (review)."""
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    real_write = os.write

    def full(descriptor: int, data: Any) -> int:
        if b"Helm values of service" in bytes(data)[:400]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", full)
    outcome = run_cli(tmp_path, "render", "--no-cache")
    monkeypatch.undo()
    assert outcome.code == 1, outcome.stderr
    message = outcome.stderr.strip().splitlines()[-1]
    match = re.fullmatch(r"catalog-gen: cannot write (\S+): No space left on device", message)
    assert match is not None, message
    assert match.group(1).endswith("/dev/ml/svc/values.yaml"), message
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
@pytest.mark.parametrize(
    "command",
    [("schema", "--out", "out"), ("backstage", "--chart", str(CHART), "--out", "out"), ("lock",)],
    ids=["schema", "backstage", "lock"],
)
def test_every_writing_command_exits_1_on_a_refusing_file_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], code: int
) -> None:
    # The shipped environments (the template needs a repoURL); no leaves, so lock writes an
    # empty lock without asking a registry.
    make_catalog(tmp_path, environments=REPO_ROOT / "catalog" / "environments")
    refuse_from(monkeypatch, tmp_path.resolve(), 1, code, after=True)
    outcome = run_cli(tmp_path, *command)
    monkeypatch.undo()
    assert outcome.code == 1, outcome.stderr
    match = re.search(r"cannot write (\S+): (.+)$", outcome.stderr.strip())
    assert match is not None, outcome.stderr
    assert match.group(2) == os.strerror(code)
    assert (tmp_path / match.group(1)).resolve().is_relative_to(tmp_path.resolve())
    assert "internal error" not in outcome.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "catalog" / "models.lock.yaml").exists()
    assert [path for path in tmp_path.rglob(".*")] == []


def test_an_unreadable_output_is_reported_by_check_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    assert run_cli(tmp_path, "render").code == 0
    values = tmp_path / "generated/dev/ml/svc/values.yaml"
    real_read = writer._read_with_mode

    def read(path: Path) -> tuple[bytes, int]:
        if path.name == "values.yaml" and "generated" in path.parts:  # not the chart's
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_read(path)

    values.chmod(0o200)  # what makes it unreadable (root reads it anyway: hence the patch)
    monkeypatch.setattr(writer, "_read_with_mode", read)
    outcome = run_cli(tmp_path, "check")
    monkeypatch.undo()
    assert outcome.code == 1
    assert outcome.stderr.strip().endswith(f"{values.relative_to(tmp_path)}: Permission denied")
