"""loader.discover: every path that could hold a leaf is read or reported, never skipped."""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_gen.load.document import discover
from catalog_gen.problems import Report

LEAF = "a: 1\n"


def make(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LEAF)


def problems(report: Report) -> dict[str, str]:
    return {problem.path: problem.message for problem in report.sorted()}


def test_a_symlinked_namespace_or_environment_directory_is_read(tmp_path: Path) -> None:
    make(tmp_path, "environments/dev.yaml", "shared/ml/a.yaml", "dev/real/b.yaml")
    (tmp_path / "dev" / "linked").symlink_to(tmp_path / "shared" / "ml")
    (tmp_path / "qa").symlink_to(tmp_path / "dev", target_is_directory=True)
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert report.ok, report.format_text()
    assert files.leaves == [
        tmp_path / relative
        for relative in (
            "dev/linked/a.yaml",
            "dev/real/b.yaml",
            "qa/linked/a.yaml",
            "qa/real/b.yaml",
            "shared/ml/a.yaml",
        )
    ]


def test_a_link_out_of_the_catalog_is_reported_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file, or an environment or namespace directory, whose link resolves outside the
    catalog is reported at its own place and never opened (its content could be anything on
    the machine: a credential quoted in an error, or rendered); links inside still count."""
    catalog = tmp_path / "catalog"
    make(catalog, "environments/dev.yaml", "dev/ml/ok.yaml", "dev/ml/real.txt")
    make(tmp_path, "outside/svc.yaml", "outside/ns/svc.yaml")
    namespace = catalog / "dev" / "ml"
    (namespace / "out.yaml").symlink_to(tmp_path / "outside" / "svc.yaml")
    (namespace / "dots.yaml").symlink_to(Path("..") / ".." / ".." / "outside" / "svc.yaml")
    (namespace / "in.yaml").symlink_to("real.txt")  # inside: read as the leaf it is
    (catalog / "environments" / "qa.yaml").symlink_to(tmp_path / "outside" / "svc.yaml")
    (catalog / "dev" / "linked").symlink_to(tmp_path / "outside" / "ns")
    (catalog / "prod").symlink_to(tmp_path / "outside")
    opened: list[str] = []
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        opened.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = Report()
    files = discover(catalog, "cat", report)
    assert files.leaves == [namespace / "in.yaml", namespace / "ok.yaml"]
    assert list(files.environments) == ["dev"]
    outside_file = "not read: a symbolic link to a file outside the catalog directory; "
    outside_directory = "not read: a symbolic link to a directory outside the catalog directory; "
    found = problems(report)
    assert {path: message.split("; ")[0] + "; " for path, message in found.items()} == {
        "cat/dev/ml/out.yaml": outside_file,
        "cat/dev/ml/dots.yaml": outside_file,
        "cat/environments/qa.yaml": outside_file,
        "cat/dev/linked": outside_directory,
        "cat/prod": outside_directory,
    }
    assert all((problem.line, problem.column) == (1, 1) for problem in report.problems)
    assert not [path for path in opened if "outside" in os.path.realpath(path)]


def test_a_catalog_reached_through_a_link_keeps_its_links_inside(tmp_path: Path) -> None:
    """Inside is judged on real paths: a catalog named through a link still reads its own
    linked leaves, and a link to the catalog's real place is inside it."""
    make(tmp_path / "real", "environments/dev.yaml", "dev/ml/ok.yaml")
    (tmp_path / "named").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "dev" / "ml" / "again.yaml").symlink_to(
        tmp_path / "real" / "dev" / "ml" / "ok.yaml"
    )
    report = Report()
    files = discover(tmp_path / "named", "cat", report)
    assert report.ok, report.format_text()
    namespace = tmp_path / "named" / "dev" / "ml"
    assert files.leaves == [namespace / "again.yaml", namespace / "ok.yaml"]


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("dev/.../svc.yaml", "'...' starts with '.' (hidden)"),
        ("dev/..ml/svc.yaml", "'..ml' starts with '.' (hidden)"),
        (".dev/ml/svc.yaml", "'.dev' starts with '.' (hidden)"),
        ("dev/ml/.svc.yaml", "'.svc.yaml' starts with '.' (hidden)"),
        ("environments/.qa.yaml", "'.qa.yaml' starts with '.' (hidden)"),
        ("svc.yaml", "not read: leaves are files"),
        ("dev/svc.yaml", "leaves live at <environment>/<namespace>/<serviceName>.yaml"),
        ("dev/ml/extra/svc.yaml", "leaves live at <environment>/<namespace>/<serviceName>.yaml"),
        ("dev/ml/a/b/c/svc.yaml", "leaves live at <environment>/<namespace>/<serviceName>.yaml"),
        ("environments/old/qa.yaml", "environment files live at environments/<environment>.yaml"),
        ("dev/ml/svc.yml", "rename to svc.yaml"),
        ("dev/ml/svc.YAML", "rename to svc.yaml"),
    ],
)
def test_a_misplaced_leaf_is_reported_at_its_path(
    tmp_path: Path, relative: str, reason: str
) -> None:
    make(tmp_path, "environments/dev.yaml", "dev/ml/ok.yaml", relative)
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.leaves == [tmp_path / "dev/ml/ok.yaml"]
    found = problems(report)
    assert list(found) == [f"cat/{relative}"]
    assert reason in found[f"cat/{relative}"]
    assert report.problems[0].line == 1


def test_special_files_and_links_are_reported_not_read(tmp_path: Path) -> None:
    make(tmp_path, "environments/dev.yaml", "dev/ml/ok.yaml")
    namespace = tmp_path / "dev" / "ml"
    os.mkfifo(namespace / "fifo.yaml")  # reading it would block forever
    (namespace / "broken.yaml").symlink_to(tmp_path / "missing.yaml")
    (namespace / "loop.yaml").symlink_to(namespace / "loop.yaml")
    (namespace / "dir.yaml").mkdir()
    (namespace / "sub").symlink_to(tmp_path / "dev", target_is_directory=True)  # a cycle
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.leaves == [namespace / "ok.yaml"]
    found = problems(report)
    assert found["cat/dev/ml/fifo.yaml"].startswith("is not a regular file")
    assert found["cat/dev/ml/broken.yaml"].startswith("is a broken symbolic link")
    assert found["cat/dev/ml/loop.yaml"].startswith("is unreadable")
    assert found["cat/dev/ml/dir.yaml"].startswith("is a directory")
    assert found["cat/dev/ml/sub"].startswith("not read: a symbolic link to a directory")
    assert len(found) == 5


def test_a_directory_that_cannot_be_listed_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(tmp_path, "environments/dev.yaml", "dev/ml/ok.yaml", "dev/locked/svc.yaml")
    real_scandir = os.scandir
    locked = tmp_path / "dev" / "locked"

    def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
        if Path(path) == locked:  # root ignores chmod: refuse as the kernel would
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.leaves == [tmp_path / "dev/ml/ok.yaml"]
    assert problems(report) == {
        "cat/dev/locked": "directory cannot be read: Permission denied",
    }


# Not ".git": what a .git directory holds is skipped on purpose (the next test).
_NAME = st.text(alphabet=string.ascii_lowercase + ".-_", min_size=1, max_size=6).filter(
    lambda name: name not in (".", "..", ".git")
)


def test_what_a_git_directory_holds_is_neither_read_nor_reported(tmp_path: Path) -> None:
    make(tmp_path, "environments/dev.yaml", "dev/ml/ok.yaml", ".git/x.yaml", "dev/.git/y.yaml")
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.leaves == [tmp_path / "dev/ml/ok.yaml"]
    assert problems(report) == {}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.lists(_NAME, min_size=0, max_size=4),
            _NAME,
            st.sampled_from([".yaml", ".yml", ".md"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_every_yaml_named_file_is_read_or_reported(
    tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[list[str], str, str]]
) -> None:
    root = tmp_path_factory.mktemp("catalog")
    written: set[str] = set()
    for directories, stem, suffix in entries:
        relative = "/".join([*directories, stem + suffix])
        path = root / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(LEAF)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue  # a name used both as a file and as a directory
        written.add(relative)
    report = Report()
    files = discover(root, "cat", report)
    read = {
        path.relative_to(root).as_posix() for path in [*files.leaves, *files.environments.values()]
    }
    reported = {problem.path.removeprefix("cat/") for problem in report.problems}
    for relative in written:
        if not relative.endswith((".yaml", ".yml")) or relative == "models.lock.yaml":
            continue
        assert (relative in read) != (relative in reported), (relative, report.format_text())
