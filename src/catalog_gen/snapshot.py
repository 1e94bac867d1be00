"""The last render or check of the whole catalog, kept whole: what makes an edit cost what the
edited leaves cost, not what the catalog does (issue 13's incremental render).

An incremental run through the cache alone (catalog_gen/cache.py) still loads every leaf's
entry, builds every service's facts and runs the pipeline over all of them: about 0.06 ms a
leaf. Most edits change no service's facts (plan/across.py LeafFacts: names, namespaces, hosts,
GPUs, claims, owner), only its values and files (resources, models, descriptions, chart
values), and then nothing that reads every service can change: the rules across leaves, the
emit-stage checks, the Argo CD files under deploy/ and the summary. So a clean run of render or
check (no error) keeps, beside the cache's packs, what it found of each leaf (cache.py
LeafRecord: the sha256 of the bytes it was planned from, its problems, its facts' digest, its
folder and files' sha256; in 256 `snapshot-XX.pack` by the leaf path's crc32, so an edit
rewrites one), and in `snapshot.pack` the problems of the rules across leaves and of the
emit-stage checks, the deploy/ files, the summary and the number of records, all under cache.py
`run_key` (catalog-gen and the chart, every environment file, the helm, the whole lock file,
where the catalog is) and with a generation drawn for each snapshot that every shard carries: a
shard under another key, of another generation (a run killed between writing its shards and its
head, two runs writing at once) or missing makes the snapshot unusable.

`reuse` takes it when the run key is the same and the leaves are the same files: the leaves
whose bytes changed (known by their stat, as the cache knows them) are planned as plan_catalog
plans them, through the cache (plan/pipeline.py plan_edited_leaves), and the snapshot stands
for every other leaf, unless an edited leaf now has an error, other facts or another folder, a
leaf was added or removed, or more than MOST_EDITED changed: then None, and the caller plans
the catalog as without it. What it gives is what that run would give: the same problems, files
and summary (tests/unit/test_snapshot.py, and every run of tests/unit/test_cache.py's random
edits against a cold render). A file the writer must write or compare comes from the edited
leaves' planning, the cache's files pack, or the leaf planned and emitted again (checked
against the snapshot's sha256, and stored again). The pack is replaced atomically and checked
as the cache's are (checksum, catalog-gen's own types only, well-formed); one that is not
counts as absent.
"""

from __future__ import annotations

import contextlib
import secrets
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from catalog_gen.cache import (
    LeafCache,
    LeafChangedError,
    LeafRecord,
    read_pack_of_entries,
    well_formed_files,
    write_pack,
)
from catalog_gen.digests import digest_of
from catalog_gen.emit import ENVIRONMENT_EMITTERS, EmitterConflictError, emit_service
from catalog_gen.plan.fresh import place
from catalog_gen.plan.leaf import LeafContext, plan_leaf
from catalog_gen.plan.pipeline import CatalogInputs, CatalogPlan, plan_edited_leaves
from catalog_gen.problems import Problem, Report
from catalog_gen.write.writer import KnownFiles

SNAPSHOT_FILE = "snapshot.pack"
# snapshot-XX.pack: the records of the leaves whose path falls in shard XX (crc32's low byte):
# an edit rewrites the shards of the leaves it edited, not every record.
SHARD_PREFIX = "snapshot-"
_SHARDS = 256
# More edited leaves than this are planned faster by the whole pipeline (in --jobs processes).
MOST_EDITED = 64
# The rules whose problems the cache remembers by every service's facts (plan/pipeline.py
# run_rules' names): the rules across leaves (plan_catalog) and the emit-stage checks.
_REMEMBERED_RULES = ("across leaves", "emit checks")


@dataclass
class _Snapshot:
    """What a clean run found beyond its leaves' records (which are in the shards)."""

    deploy: dict[str, bytes]  # argocd.deploy_files, by POSIX path
    summary: str  # "N services in M environments"
    # What the rules across leaves and the emit-stage checks found (on these leaves' facts).
    across: tuple[Problem, ...]
    leaves: int  # how many records the shards hold
    # Drawn at random for each snapshot and carried by each of its shards: a shard of another
    # snapshot under the same key (a run killed between its shards and this pack, or two runs
    # writing at once) makes the snapshot unusable, never mixed with this one.
    generation: str


@dataclass
class Reused:
    """A run's outputs, from the snapshot and the edited leaves."""

    summary: str
    tree: KnownFiles
    deploy: dict[PurePosixPath, bytes]
    _directory: Path = field(repr=False)
    _run_key: str = field(repr=False)
    _records: dict[str, LeafRecord] = field(repr=False)
    _edited: set[str] = field(repr=False)  # the leaves planned again
    _generation: str = field(repr=False)

    def keep(self) -> None:
        """The edited leaves' records kept for the next run (their shards rewritten)."""
        shards = {_shard_of(name) for name in self._edited}
        _write_shards(self._directory, self._run_key, self._records, shards, self._generation)


def keep(
    cache: LeafCache,
    planned: CatalogPlan,
    display_root: str,
    deploy: Mapping[PurePosixPath, bytes],
    summary: str,
) -> None:
    """Keep what a clean run of the whole catalog found (after cache.tree: every entry holds
    its files); nothing when an entry lacks what a record needs, or the pack cannot be
    written (only speed is lost)."""
    run_key = cache.last_run_key(display_root)
    if run_key is None:
        return
    leaves: dict[str, LeafRecord] = {}
    for service in planned.services:
        record = cache.record_of(service)
        if record is None or record.path in leaves:
            return
        leaves[record.path] = record
    digests = [record.facts_digest for record in leaves.values()]
    across: list[Problem] = []
    for rules in _REMEMBERED_RULES:
        found = cache.rules_problems_of(rules, digests)
        if found is None:
            return
        across += found
    deploy_text = {path.as_posix(): content for path, content in deploy.items()}
    generation = secrets.token_hex(16)
    head = _Snapshot(deploy_text, summary, tuple(across), len(leaves), generation)
    with contextlib.suppress(OSError):  # only speed is lost
        _write_shards(cache.directory, run_key, leaves, range(_SHARDS), generation)
        write_pack(cache.directory / SNAPSHOT_FILE, {run_key: head})


def reuse(
    inputs: CatalogInputs, display_root: str, cache: LeafCache, report: Report
) -> Reused | None:
    """render's and check's outputs from the last clean run and the leaves edited since (see
    the module doc), their problems added to report (which holds those of inputs: stages 1
    and 2 of plan_catalog, which then takes inputs as they are when this gives None)."""
    pack = read_pack_of_entries(cache.directory / SNAPSHOT_FILE)
    if len(pack) != 1 or ENVIRONMENT_EMITTERS or not report.ok:
        return None
    context = inputs.context
    # Looked up by this run's key: a head another catalog-gen wrote (its code's key) may hold
    # a snapshot of another layout, never read as one of this code's.
    run_key = cache.run_key(context, display_root)
    snapshot = pack.get(run_key)
    if not _well_formed(snapshot):
        return None
    kept = _read_shards(cache.directory, run_key, snapshot.generation)
    if kept is None or len(kept) != snapshot.leaves:
        return None
    edited = _edited(inputs.files.leaves, kept, cache)
    if edited is None:
        return None
    found = Report()  # the report's only once the last run is taken
    records = _replanned(
        edited, kept, context=context, display_root=display_root, report=found, cache=cache
    )
    if records is None:
        return None
    found.extend(snapshot.across)
    edited_names = {str(path) for path in edited}
    for name, record in records.items():
        if name not in edited_names:  # the edited ones' problems are in the report already
            found.extend(record.problems)
    if not found.ok:
        return None
    report.extend(found.problems)
    cache.keep_unseen()
    tree = _tree(records, context, display_root, cache)
    deploy = {PurePosixPath(path): content for path, content in snapshot.deploy.items()}
    return Reused(
        snapshot.summary,
        tree,
        deploy,
        cache.directory,
        run_key,
        records,
        edited_names,
        snapshot.generation,
    )


def _edited(
    leaves: Sequence[Path], kept: Mapping[str, LeafRecord], cache: LeafCache
) -> list[Path] | None:
    """The leaves whose bytes are not the kept records'; None when the leaves are other files
    than theirs, or too many changed."""
    if len(leaves) != len(kept):
        return None
    edited: list[Path] = []
    for path in leaves:
        record = kept.get(str(path))
        if record is None:
            return None
        if cache.leaf_digest(path) != record.digest:
            edited.append(path)
            if len(edited) > MOST_EDITED:
                return None
    return edited


def _replanned(
    edited: Sequence[Path],
    kept: Mapping[str, LeafRecord],
    *,
    context: LeafContext,
    display_root: str,
    report: Report,
    cache: LeafCache,
) -> dict[str, LeafRecord] | None:
    """The snapshot's records with the edited leaves planned again; None when one of them now
    has an error, or other facts or another folder than the snapshot's."""
    records = dict(kept)
    if not edited:
        return records
    services = plan_edited_leaves(
        edited, context, display_root, report, cache=cache, emit=emit_service
    )
    if not report.ok or len(services) != len(edited):
        return None
    for path, service in zip(edited, services, strict=True):
        record = cache.record_of(service)
        before = records[str(path)]
        if (
            record is None
            or not service.valid
            or record.path != before.path
            or record.facts_digest != before.facts_digest
            or record.relative_dir != before.relative_dir
        ):
            return None
        records[record.path] = record
    return records


def _tree(
    records: Mapping[str, LeafRecord], context: LeafContext, display_root: str, cache: LeafCache
) -> KnownFiles:
    """The output tree as cache.py's `tree` gives it, from the records: each file known by its
    sha256, its bytes asked for only when the writer writes or compares it."""
    digests: dict[str, str] = {}
    owners: dict[str, LeafRecord] = {}
    for record in records.values():
        folder = f"{record.relative_dir}/"
        for name, digest in record.files.items():
            path = folder + name
            if path in digests:
                raise EmitterConflictError(f"two emitters write {path}")
            digests[path] = digest
            owners[path] = record

    def content_of(path: str) -> bytes:
        record = owners[path]
        files = cache.files_of_record(record, lambda: _emitted_again(record, context, display_root))
        return files[path[len(record.relative_dir) + 1 :]]

    return KnownFiles(digests, content_of)


def _emitted_again(record: LeafRecord, context: LeafContext, display_root: str) -> dict[str, bytes]:
    """A leaf's files, emitted again from its plan (planned again from its file, which must
    still hold the bytes the record was made from)."""
    path = Path(record.path)
    relative, display = place(path, context, display_root)
    try:
        raw: bytes | None = path.read_bytes()
    except OSError:
        raw = None
    if raw is None or digest_of(raw) != record.digest:
        raise LeafChangedError(display)
    plan = plan_leaf(path, relative, display, context, Report(), raw=raw)
    if plan is None:
        raise RuntimeError(f"{display} planned again gave no plan")
    return emit_service(plan)


def _shard_of(name: str) -> int:
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) % _SHARDS


def _shard_path(directory: Path, shard: int) -> Path:
    return directory / f"{SHARD_PREFIX}{shard:02x}.pack"


def _write_shards(
    directory: Path,
    run_key: str,
    records: Mapping[str, LeafRecord],
    shards: Iterable[int],
    generation: str,
) -> None:
    """Rewrite these shards with the records that fall in them (an empty one is removed)."""
    wanted = set(shards)
    by_shard: dict[int, dict[str, LeafRecord]] = {shard: {} for shard in wanted}
    for name, record in records.items():
        shard = _shard_of(name)
        if shard in wanted:
            by_shard[shard][name] = record
    with contextlib.suppress(OSError):  # only speed is lost
        for shard, held in sorted(by_shard.items()):
            write_pack(_shard_path(directory, shard), {run_key: (generation, held)} if held else {})


def _read_shards(directory: Path, run_key: str, generation: str) -> dict[str, LeafRecord] | None:
    """Every shard's records, when each shard there is this run key's and well-formed."""
    records: dict[str, LeafRecord] = {}
    for shard in range(_SHARDS):
        path = _shard_path(directory, shard)
        if not path.exists():
            continue
        stored = read_pack_of_entries(path).get(run_key)
        if type(stored) is not tuple or len(stored) != 2 or stored[0] != generation:
            return None
        found = stored[1]
        if type(found) is not dict:
            return None
        for name, record in found.items():
            if not _well_formed_record(name, record) or _shard_of(name) != shard:
                return None
        records.update(found)
    return records


# The fields of what is unpickled, as this code defines them: an object pickled by a
# catalog-gen whose class had other fields is not this code's (reading a missing one raises).
_SNAPSHOT_FIELDS = {item.name for item in fields(_Snapshot)}
_RECORD_FIELDS = {item.name for item in fields(LeafRecord)}


def _well_formed(snapshot: Any) -> TypeGuard[_Snapshot]:
    """The snapshot holds what this code keeps (it is unpickled from a file, so it is checked:
    the restricted unpickler lets only catalog-gen's own types through)."""
    if type(snapshot) is not _Snapshot or vars(snapshot).keys() != _SNAPSHOT_FIELDS:
        return False
    if type(snapshot.summary) is not str:
        return False
    if type(snapshot.leaves) is not int or type(snapshot.deploy) is not dict:
        return False
    if type(snapshot.generation) is not str or not snapshot.generation:
        return False
    if type(snapshot.across) is not tuple or not all(
        type(problem) is Problem for problem in snapshot.across
    ):
        return False
    return all(
        type(path) is str and type(content) is bytes for path, content in snapshot.deploy.items()
    )


def _well_formed_record(name: Any, record: Any) -> bool:
    if type(record) is not LeafRecord or vars(record).keys() != _RECORD_FIELDS:
        return False
    if name != record.path:
        return False
    texts = (record.path, record.digest, record.key, record.facts_digest, record.relative_dir)
    if any(type(text) is not str for text in texts) or type(record.problems) is not tuple:
        return False
    if not all(type(problem) is Problem for problem in record.problems):
        return False
    return well_formed_files(record.files)
