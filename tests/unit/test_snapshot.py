"""A render or check after an edit that keeps every service's facts reuses the last clean run
whole (catalog_gen.snapshot) and gives exactly what a cold render gives; any other edit, and a
damaged or foreign snapshot, plans the catalog as without it.

tests/unit/test_cache.py's randomized edits compare every run with a cold one too; these pin
down which runs take the snapshot, so that a change that stops it being used (the speed of
issue 13) or uses it where it must not fails here.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog_gen import cache, snapshot
from catalog_gen.cache import CACHE_DIR
from catalog_gen.write.writer import read_tree
from tests.unit.helpers import run_cli
from tests.unit.test_cache import apply, assert_same, both, start

LEAF = Path("catalog/dev/a/s1.yaml")


@pytest.fixture
def reused(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each run took the snapshot, in order."""
    taken: list[bool] = []
    real = snapshot.reuse

    def spied(*arguments: Any, **options: Any) -> snapshot.Reused | None:
        found = real(*arguments, **options)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(snapshot, "reuse", spied)
    # Edits here come a whole run apart: the stat index decides, as for leaves older than it.
    monkeypatch.setattr(cache, "RACY_SECONDS", 0.0)
    return taken


def edit_leaf(root: Path, **changes: Any) -> None:
    path = root / LEAF
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def render_both(root: Path) -> None:
    """render with the cache (inc/) and without (cold/): the same exit, report and files."""
    cached, cold = both(root, "render")
    assert (cached.code, cached.stdout) == (cold.code, cold.stdout)
    assert cached.stderr.replace("inc", "cold") == cold.stderr
    assert read_tree(root / "inc") == read_tree(root / "cold")


def test_an_edit_that_keeps_the_facts_reuses_the_last_run(
    tmp_path: Path, reused: list[bool]
) -> None:
    start(tmp_path)
    render_both(tmp_path)  # the first run keeps the snapshot
    edit_leaf(tmp_path, description="edited: the catalog-info changes, no fact does")
    render_both(tmp_path)
    edit_leaf(tmp_path, container={"replicas": 1, "resources": {"limits": {"memory": "6Gi"}}})
    render_both(tmp_path)
    render_both(tmp_path)  # nothing edited
    assert reused == [False, True, True, True]
    check = ["--catalog", "catalog", "--out", "inc/generated", "--gitops-root", "inc"]
    assert run_cli(tmp_path, "check", *check, chart=tmp_path / "chart").code == 0
    assert reused[-1]


def test_check_after_an_edit_reports_the_stale_file_as_without_the_snapshot(
    tmp_path: Path, reused: list[bool]
) -> None:
    start(tmp_path)
    render_both(tmp_path)
    edit_leaf(tmp_path, description="not rendered yet")
    check = ["--catalog", "catalog", "--out", "inc/generated", "--gitops-root", "inc"]
    warm = run_cli(tmp_path, "check", *check, chart=tmp_path / "chart")
    cold = run_cli(tmp_path, "check", "--no-cache", *check, chart=tmp_path / "chart")
    assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr)
    assert warm.code == 1
    assert reused == [False, True]


@pytest.mark.parametrize(
    "edit",
    [
        ("host", lambda root: edit_leaf(root, ingress={"enabled": True, "host": "n.example.com"})),
        ("gpus", lambda root: edit_leaf(root, gpu={"count": 1})),
        ("error", lambda root: edit_leaf(root, container={"replicas": "many"})),
        ("added", lambda root: apply(root, ("leaf", "dev", "a", "s3", 0))),
        ("deleted", lambda root: apply(root, ("delete", "prod", "b", "s2"))),
        ("environment", lambda root: apply(root, ("environment", "dev", 1))),
        ("lock", lambda root: apply(root, ("lock", {"phi:latest"}))),
        ("chart", lambda root: apply(root, ("values", 2))),
    ],
    ids=lambda edit: edit[0],
)
def test_an_edit_of_what_every_leaf_shares_or_of_a_fact_plans_the_catalog(
    tmp_path: Path, reused: list[bool], edit: tuple[str, Any]
) -> None:
    start(tmp_path)
    render_both(tmp_path)
    edit[1](tmp_path)
    render_both(tmp_path)
    assert reused == [False, False]


def damage(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def malformed(path: Path) -> None:
    ((key, kept),) = cache.read_pack_of_entries(path).items()
    cache.write_pack(path, {key: type(kept)(**{**vars(kept), "summary": b"not text"})})


def stale(path: Path) -> None:
    """Another pickle under the snapshot's name: not a snapshot of this format."""
    cache.write_pack(path, {"a key": pickle.loads(pickle.dumps({"not": "a snapshot"}))})


def _without_a_field(kept: Any, field: str) -> Any:
    """kept as an earlier catalog-gen may have pickled it: its class then lacked a field."""
    older = object.__new__(type(kept))
    older.__dict__.update({name: value for name, value in vars(kept).items() if name != field})
    return older


def older_head(path: Path) -> None:
    """An earlier catalog-gen's head (its code's key; its snapshot had no generation)."""
    ((_, kept),) = cache.read_pack_of_entries(path).items()
    cache.write_pack(path, {"an earlier code's key": _without_a_field(kept, "generation")})


def older_head_same_key(path: Path) -> None:
    ((key, kept),) = cache.read_pack_of_entries(path).items()
    cache.write_pack(path, {key: _without_a_field(kept, "generation")})


def older_record(path: Path) -> None:
    ((key, (generation, records)),) = cache.read_pack_of_entries(path).items()
    name, record = next(iter(records.items()))
    records[name] = _without_a_field(record, "relative_dir")
    cache.write_pack(path, {key: (generation, records)})


def shard(root: Path) -> Path:
    """The records' shard of the leaf edit_leaf edits."""
    for path in sorted((root / CACHE_DIR).glob(f"{snapshot.SHARD_PREFIX}*.pack")):
        ((_, records),) = cache.read_pack_of_entries(path).values()
        if any(name.endswith(str(LEAF)) for name in records):
            return path
    raise AssertionError("no shard holds the leaf")


def spoil_a_record(path: Path) -> None:
    """A record whose files are not sha256 (in the shard of the leaf edited)."""
    ((key, (generation, records)),) = cache.read_pack_of_entries(path).items()
    name, record = next(iter(records.items()))
    records[name] = type(record)(**{**vars(record), "files": {"values.yaml": "not a sha256"}})
    cache.write_pack(path, {key: (generation, records)})


@pytest.mark.parametrize(
    ("spoil", "which"),
    [
        (damage, "head"),
        (malformed, "head"),
        (stale, "head"),
        (older_head, "head"),
        (older_head_same_key, "head"),
        (Path.unlink, "head"),
        (damage, "shard"),
        (stale, "shard"),
        (spoil_a_record, "shard"),
        (older_record, "shard"),
        (Path.unlink, "shard"),
    ],
)
def test_a_damaged_or_foreign_snapshot_is_not_used(
    tmp_path: Path, reused: list[bool], spoil: Any, which: str
) -> None:
    start(tmp_path)
    render_both(tmp_path)
    edit_leaf(tmp_path, description="edited")
    spoil(tmp_path / CACHE_DIR / snapshot.SNAPSHOT_FILE if which == "head" else shard(tmp_path))
    render_both(tmp_path)
    assert reused == [False, False]
    render_both(tmp_path)  # kept again by the run before
    assert reused[-1]


def test_a_snapshot_whose_records_are_not_the_leaves_is_never_trusted_blindly(
    tmp_path: Path, reused: list[bool]
) -> None:
    """A well-formed snapshot with a valid checksum is taken as the last run's (the cache's
    packs are trusted so too): what keeps a wrong one out is its key and the leaves' sha256.
    A snapshot of another catalog state (the records of the run before an edit, put back)
    holds other leaf sha256 for the edited leaf: it is planned again, the output stays
    right."""
    start(tmp_path)
    render_both(tmp_path)
    kept = {path: path.read_bytes() for path in (tmp_path / CACHE_DIR).glob("snapshot*.pack")}
    edit_leaf(tmp_path, description="one")
    render_both(tmp_path)
    for path, content in kept.items():
        path.write_bytes(content)
    edit_leaf(tmp_path, description="two")
    render_both(tmp_path)
    assert reused == [False, True, True]


def test_output_files_edited_by_hand_and_lost_cached_bytes_are_written_again(
    tmp_path: Path, reused: list[bool]
) -> None:
    """The writer asks for the bytes of every file it must write again: from the files pack,
    else emitted again from the leaf (and stored again)."""
    start(tmp_path)
    render_both(tmp_path)
    edit_leaf(tmp_path, description="edited")
    apply(tmp_path, ("hand-edit",))  # every output file, in inc/ and cold/ alike
    render_both(tmp_path)
    for path in (tmp_path / CACHE_DIR).glob(f"{cache.FILES_PACK_PREFIX}*"):
        path.unlink()
    apply(tmp_path, ("hand-edit",))
    render_both(tmp_path)
    assert reused == [False, True, True]
    assert list((tmp_path / CACHE_DIR).glob(f"{cache.FILES_PACK_PREFIX}*"))  # stored again
    assert_same(tmp_path)


def test_a_snapshot_cut_between_its_shards_and_its_head_is_not_used(
    tmp_path: Path, reused: list[bool]
) -> None:
    """A run whose facts changed writes the snapshot's shards, then its head: killed between
    the two (or with another run writing at once), the shards hold the new records under the
    same key while the head still holds the old run's Argo CD files and rules' problems. Each
    snapshot's shards carry its generation, so the mix is never used: the stale AppProject
    (without the KEDA add-on's namespace the autoscaled leaf now needs) is not written."""
    start(tmp_path)
    apply(tmp_path, ("environment", "dev", 2))  # dev autoscales with the KEDA HTTP add-on
    render_both(tmp_path)
    head = tmp_path / CACHE_DIR / snapshot.SNAPSHOT_FILE
    before = head.read_bytes()
    apply(tmp_path, ("leaf", "dev", "a", "s1", 7))  # autoscaled: writes to keda-addons too
    render_both(tmp_path)  # other facts: planned whole, a new snapshot kept
    head.write_bytes(before)  # as if killed after the shards, before the head
    render_both(tmp_path)
    assert reused == [False, False, False]


def test_a_leaf_saved_while_the_run_reads_it_again_is_reported_not_a_bug(
    tmp_path: Path, reused: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last run's files of a leaf are emitted again from its file when their bytes are
    gone: an editor that saved the leaf in between makes the run stop with what happened
    (exit 1), not an internal error asking for a bug report; the next run takes the edit."""
    start(tmp_path)
    render_both(tmp_path)
    for pack in (tmp_path / CACHE_DIR).glob(f"{cache.FILES_PACK_PREFIX}*"):
        pack.unlink()
    (tmp_path / "inc/generated/dev/a/s1/values.yaml").unlink()
    taken = snapshot.reuse

    def saved_meanwhile(*arguments: Any, **options: Any) -> snapshot.Reused | None:
        found = taken(*arguments, **options)
        with (tmp_path / LEAF).open("a", encoding="utf-8") as leaf:
            leaf.write("# saved by an editor\n")
        return found

    monkeypatch.setattr(snapshot, "reuse", saved_meanwhile)
    cached, _ = both(tmp_path, "render")
    assert reused == [False, True]  # the first run kept its run, this one took it
    assert cached.code == 1, cached.stderr
    assert cached.stderr.endswith(
        f"catalog-gen: {LEAF.as_posix()} changed while catalog-gen read it: run it again\n"
    )
    assert "internal error" not in cached.stderr
    # The same words when a --jobs process hands it over (pickled).
    error = cache.LeafChangedError(LEAF.as_posix())
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    monkeypatch.setattr(snapshot, "reuse", taken)
    cached, cold = both(tmp_path, "render")  # inc's deleted file is written again: 1 of 6
    assert (cached.code, cached.stdout) == (cold.code, cold.stdout)
    assert cached.code == 0, cached.stderr
    assert read_tree(tmp_path / "inc") == read_tree(tmp_path / "cold")


@pytest.mark.parametrize("name", [snapshot.SNAPSHOT_FILE, f"{snapshot.SHARD_PREFIX}00.pack"])
def test_a_folder_where_the_snapshot_goes_is_replaced_by_the_next_clean_run(
    tmp_path: Path, reused: list[bool], name: str
) -> None:
    """A folder in the cache where a pack is kept made every later run plan the whole catalog
    (the pack could never be written again)."""
    start(tmp_path)
    render_both(tmp_path)
    pack = tmp_path / CACHE_DIR / name
    pack.unlink(missing_ok=True)
    (pack / "inside").mkdir(parents=True)
    edit_leaf(tmp_path, description="edited")
    render_both(tmp_path)  # not the last run: it keeps its own, over the folder
    assert not pack.is_dir()  # a file, or none (a shard no leaf falls in)
    edit_leaf(tmp_path, description="edited again")
    render_both(tmp_path)
    assert reused[-1]
