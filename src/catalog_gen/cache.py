"""Incremental render: what a leaf gave last time, reused when nothing it depends on changed.

Planning a leaf (load, shape, rules, merge, chart schema, lock facts) and emitting its files
depend only on the leaf's bytes, its environment file, the set of environment files, the model
lock entries it reads, the chart and catalog-gen itself. LeafCache keys each leaf's result by a
sha256 of: the leaf's place and bytes, its environment file's bytes, the environment names, every
file of the chart directory (values.yaml, values.schema.json, templates: whatever the plan asks
the chart), and catalog-gen's own code (every file of the package) with the versions of Python and
of the libraries that shape the output. The lock is not in the key: planning reads it through
_LockReads, the entry keeps what each lock entry it asked for was (or "absent"), and a found entry
counts only while the lock still says the same (so a lock edit replans only the services of the
models it changed). The leaf's bytes are known by its stat when that is the one LeafIndex recorded
(git's index: device, inode, size, mtime, ctime), unread. A hit gives back the leaf's problems,
its LeafFacts (plan/across.py), and the names and sha256 of its emitted files; anything else is
planned afresh. Cross-leaf rules (hosts, GPU budget, names), the emit-stage checks
(emit/checks.py: Argo CD, the Backstage owner warning), the Argo CD files and the list of output
files always run over every service's facts, cached or not.

Three kinds of pack, 256 of each (by the key's first byte), in `.catalog-gen-cache/` beside the
catalog (ignored by git): `leaves-XX.pack` holds the entries (problems, facts, lock reads,
template messages, the emitted files' names and sha256) as ONE pickle, so a run unpickles 256
packs, not one pickle per leaf; `files-XX.pack` holds the emitted files' bytes, read only for a
file the writer must write or compare (`tree`: the writer knows every other file by its sha256,
write/writer.py KnownFiles); `plans-XX.pack` holds each entry's ServicePlan as its own pickle,
unpickled only when something asks for it (`plan_of`). A one-leaf edit therefore loads no other
plan and no other file's bytes. A pack is replaced atomically (a temporary file renamed over it),
only when its entries changed, and checked on reading: a pack whose checksum or format does not
match, an entry that does not unpickle into catalog-gen's own types, names another key or is
malformed, a plan of another leaf, or stored bytes whose sha256 is not the entry's are ignored
and rebuilt, never trusted, so the cache can only make a run faster, never change its output
(tests/unit/test_cache.py compares incremental and cold renders).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import io
import itertools
import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from catalog_gen import __version__
from catalog_gen.check.chart_templates import ChartTemplateError, TemplateMessage, find_helm
from catalog_gen.emit import (
    EmitterConflictError,
    emit_service,
    plain_relative,
    render_tree,
)
from catalog_gen.lock.model import LockedModel
from catalog_gen.plan.across import LeafFacts, leaf_facts
from catalog_gen.plan.fresh import ServiceEmitter
from catalog_gen.plan.leaf import LeafContext, plan_leaf
from catalog_gen.plan.pipeline import CatalogPlan
from catalog_gen.plan.service import LOCK_FILE
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Problem, Report
from catalog_gen.write.writer import KnownFiles
from catalog_gen.write.written import replace_file

CACHE_DIR = ".catalog-gen-cache"
PACK_PREFIX = "leaves-"  # leaves-<first two hex of the key>.pack: a one-leaf edit rewrites two
PACK_SUFFIX = ".pack"
# plans-<the same two hex>.pack: the entries' ServicePlans, read only when a plan is asked for
PLAN_PACK_PREFIX = "plans-"
# files-<the same two hex>.pack: the bytes of the entries' emitted files, read only when written
FILES_PACK_PREFIX = "files-"
_MAGIC = b"catalog-gen cache pack 2\n"
INDEX_FILE = "leaves-index.json"
INDEX_VERSION = 1
WHOLE_LOCK = "\0whole lock"
# A leaf changed less than this before the run began may change again within the file system's
# timestamp granularity without its stat changing (git's "racily clean" entries): it is read and
# hashed on every run until it is older.
RACY_SECONDS = 2.0
_LIBRARIES = ("pydantic", "pydantic-core", "jsonschema", "jsonschema-rs", "pyyaml", "jinja2")
# What an entry may unpickle into: catalog-gen's own types and the few standard ones they hold.
_ALLOWED_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "object"),
    ("copyreg", "_reconstructor"),
    ("pathlib", "PosixPath"),
    ("pathlib", "PurePosixPath"),
    ("pathlib", "WindowsPath"),
    ("pathlib", "PureWindowsPath"),
}


@dataclass
class _Entry:
    key: str
    problems: tuple[Problem, ...]
    facts: LeafFacts | None  # leaf_facts of the plan (None: the leaf gave no plan)
    # The ServicePlan pickled (_dump_plan), this run's: stored in the plans pack, not here.
    plan: bytes | None
    # The service emitters' files: name -> sha256 of the bytes, once something emitted them (the
    # bytes are in the files pack, read only when the writer asks for them).
    files: dict[str, str] | None
    # The chart's template messages on the plan's effective values, with the helm that gave them.
    templates: tuple[str, tuple[TemplateMessage, ...]] | None = None
    # The lock entries planning read: (canonical reference, repr of the pin or "" when absent);
    # or ((WHOLE_LOCK, sha256 of the lock file),) when it read the whole lock.
    lock_reads: tuple[tuple[str, str], ...] = ()


def default_directory(catalog: Path) -> Path:
    """`.catalog-gen-cache/` at the repository root (the catalog directory's parent)."""
    return catalog.resolve().parent / CACHE_DIR


class LeafCache:
    """plan_catalog's LeafPlanner: plan_leaf, remembered across runs (see the module doc)."""

    def __init__(self, directory: Path, *, complete: bool = True) -> None:
        """complete: this run sees the whole catalog, so entries it did not use are dropped
        when saving (a `validate FILE...` run keeps them)."""
        self.directory = directory
        self.complete = complete
        self._stored = _read_entry_packs(directory)  # key -> entry as unpickled, unchecked
        self._packs: dict[str, dict[str, dict[str, Any]]] = {}  # kind -> shard -> pack, once read
        self._used: dict[str, _Entry] = {}  # key -> entry, this run's
        self._changed: set[str] = set()  # keys whose entry this run created or completed
        self._contents: dict[str, dict[str, bytes]] = {}  # key -> emitted bytes, once known
        self._by_leaf_path: dict[str, str] = {}  # ServicePlan.leaf_path -> key
        self._plans: dict[str, ServicePlan] = {}  # leaf_path -> plan, once planned or unpickled
        # leaf_path -> what plan_leaf was given, to plan it again if its pickle fails to load
        self._sources: dict[str, tuple[Path, PurePosixPath, str, LeafContext]] = {}
        self._context: LeafContext | None = None
        self._base = ""
        self._environment_keys: dict[str, str] = {}
        self._helm: str | None = None  # which helm judges the template rules (path, size, mtime)
        self._lock_file: str | None = None  # sha256 of the lock file, once an entry needs it
        # The lock entries' answers (reference -> repr or ""), for the lock they came from.
        self._lock_answers: tuple[ModelLockFacts | None, dict[str, str]] = (None, {})
        self._index = LeafIndex(directory)
        self.hits = 0
        self.misses = 0

    def plan_leaf(
        self,
        path: Path,
        relative: PurePosixPath,
        display: str,
        context: LeafContext,
        report: Report,
    ) -> LeafFacts | None:
        raw: bytes | None = None
        name = str(path)
        digest = self._index.known(name)  # the leaf's sha256 by its stat, unread
        if digest is None:
            try:
                raw = path.read_bytes()
            except OSError:  # plan_leaf reports it; nothing to remember
                return self._uncached(path, relative, display, context, report)
            digest = self._index.learn(name, raw)
        key = self._leaf_key(name, relative, display, context, digest)
        entry = self._used.get(key) or self._load(key, context.lock)
        if entry is None:
            if raw is None:  # stat said unchanged, but nothing was kept for it: read it now
                try:
                    raw = path.read_bytes()
                except OSError:
                    return self._uncached(path, relative, display, context, report)
                key = self._leaf_key(name, relative, display, context, digest_of(raw))
            entry = self._plan_afresh(
                key, raw, path=path, relative=relative, display=display, context=context
            )
        else:
            self.hits += 1
        self._used[key] = entry
        report.extend(entry.problems)
        if entry.facts is not None:
            self._by_leaf_path[entry.facts.leaf_path] = key
            self._sources[entry.facts.leaf_path] = (path, relative, display, context)
        return entry.facts

    def _uncached(
        self,
        path: Path,
        relative: PurePosixPath,
        display: str,
        context: LeafContext,
        report: Report,
    ) -> LeafFacts | None:
        """plan_leaf, remembering nothing across runs (the plan only for this run)."""
        plan = plan_leaf(path, relative, display, context, report)
        if plan is None:
            return None
        self._plans[plan.leaf_path] = plan
        return leaf_facts(plan)

    def _plan_afresh(
        self,
        key: str,
        raw: bytes,
        *,
        path: Path,
        relative: PurePosixPath,
        display: str,
        context: LeafContext,
    ) -> _Entry:
        """plan_leaf on raw, recording which lock entries it read (the entry depends on those
        only, not on the rest of the lock)."""
        self.misses += 1
        own = Report()
        reads = None if context.lock is None else _LockReads(context.lock)
        planned_with = context if reads is None else replace(context, lock=reads)
        plan = plan_leaf(path, relative, display, planned_with, own, raw=raw)
        entry = _Entry(key, tuple(own.problems), None, None, None)
        if plan is not None:
            entry.facts = leaf_facts(plan)
            entry.plan = _dump_plan(plan)
            self._plans[plan.leaf_path] = plan
        if reads is not None:
            entry.lock_reads = reads.recorded(self._lock_digest(context))
        self._changed.add(key)
        return entry

    def plan_of(self, service: LeafFacts) -> ServicePlan:
        """The full plan of a service this run planned or found (unpickled once, when first
        asked for; planned again in the unlikely case its pickle does not load)."""
        plan = self._plans.get(service.leaf_path)
        if plan is None:
            path, relative, display, context = self._sources[service.leaf_path]
            entry = self._used[self._by_leaf_path[service.leaf_path]]
            environment = context.environments.get(relative.parts[0])
            blob = entry.plan
            if blob is None:
                blob = self._stored_blob(PLAN_PACK_PREFIX, entry.key)
            plan = _load_plan(blob, environment, service.leaf_path)
            if plan is None:  # stored plan lost or foreign: planned again, and kept
                plan = plan_leaf(path, relative, display, context, Report())
                if plan is None:
                    raise RuntimeError(f"{display} planned before, but not now")
                entry.plan = _dump_plan(plan)
                self._changed.add(entry.key)
            self._plans[service.leaf_path] = plan
        return plan

    # --- emitted files ----------------------------------------------------------------------

    def tree(self, catalog: CatalogPlan, emitters: Sequence[ServiceEmitter]) -> KnownFiles:
        """render_tree's files (emit/__init__.py: each service's files in its folder, then the
        environment emitters'), each known by its sha256: a service's from its entry (emitted,
        and kept, when it has none), the environment emitters' from render_tree itself. The
        bytes of a service's file are read (or emitted) only when the writer asks for them."""
        digests: dict[str, str] = {}
        owners: dict[str, LeafFacts] = {}
        for service in catalog.services:
            folder = f"{service.relative_dir}/"
            for name, digest in self._digests_of(service, emitters, catalog.plan_of).items():
                path = folder + name
                if path in digests:
                    raise EmitterConflictError(f"two emitters write {path}")
                digests[path] = digest
                owners[path] = service
        fixed = render_tree(catalog, files_of=_no_files)
        for path, content in fixed.items():
            if path in digests:
                raise EmitterConflictError(f"two emitters write {path}")
            digests[path] = digest_of(content)

        def content_of(path: str) -> bytes:
            if path in fixed:
                return fixed[path]
            service = owners[path]
            files = self._contents_of(service, emitters, catalog.plan_of)
            return files[path[len(service.relative_dir) + 1 :]]

        return KnownFiles(digests, content_of)

    def _digests_of(
        self,
        service: LeafFacts,
        emitters: Sequence[ServiceEmitter],
        plan_of: Callable[[LeafFacts], ServicePlan],
    ) -> Mapping[str, str]:
        """name -> sha256 of each file the emitters give for service (emitted when not kept)."""
        entry = self._entry_of(service)
        if entry is not None and entry.files is not None:
            return entry.files
        files = emit_service(plan_of(service), emitters)
        digests = {name: digest_of(content) for name, content in files.items()}
        key = _contents_key(entry, service)
        self._contents[key] = files
        if entry is not None:
            entry.files = digests
            self._changed.add(key)
        return digests

    def _contents_of(
        self,
        service: LeafFacts,
        emitters: Sequence[ServiceEmitter],
        plan_of: Callable[[LeafFacts], ServicePlan],
    ) -> Mapping[str, bytes]:
        """The bytes of a service's files: this run's, else the files pack's when they are the
        entry's (every sha256 matching), else emitted again from its plan (and kept)."""
        entry = self._entry_of(service)
        key = _contents_key(entry, service)
        files = self._contents.get(key)
        if files is not None:
            return files
        if entry is None or entry.files is None:  # _digests_of kept this run's files
            raise KeyError(service.leaf_path)
        stored = self._stored_blob(FILES_PACK_PREFIX, key)
        if _files_match(stored, entry.files):
            files = stored
        else:  # lost or damaged: emitted again, and stored again
            files = emit_service(plan_of(service), emitters)
            if {name: digest_of(content) for name, content in files.items()} != entry.files:
                raise RuntimeError(f"{service.display}: its cache entry names other files")
            self._changed.add(key)
        self._contents[key] = files
        return files

    # --- template messages ------------------------------------------------------------------

    def template_messages(self, service: LeafFacts) -> tuple[TemplateMessage, ...] | None:
        """The chart's template messages for a service this run gave, when the same helm gave
        them (the chart itself is in the key)."""
        entry = self._entry_of(service)
        if entry is None or entry.templates is None or entry.templates[0] != self._helm_identity():
            return None
        return entry.templates[1]

    def remember_template_messages(
        self, service: LeafFacts, messages: tuple[TemplateMessage, ...]
    ) -> None:
        entry = self._entry_of(service)
        identity = self._helm_identity()
        if entry is not None and identity:
            entry.templates = (identity, messages)
            self._changed.add(entry.key)

    def _entry_of(self, service: LeafFacts) -> _Entry | None:
        entry = self._used.get(self._by_leaf_path.get(service.leaf_path, ""))
        return entry if entry is not None and entry.facts is service else None

    def _helm_identity(self) -> str:
        """The helm binary that runs the template rules: path, size and modification time
        ("" when there is none, and then nothing is remembered)."""
        if self._helm is None:
            self._helm = ""
            templates = self._context.chart.templates if self._context is not None else None
            if templates is not None:
                try:
                    helm = templates.helm or find_helm(templates.chart)
                    found = helm.resolve().stat()
                except (ChartTemplateError, OSError):
                    return self._helm
                self._helm = f"{helm.resolve()}\0{found.st_size}\0{found.st_mtime_ns}"
        return self._helm

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> None:
        """Rewrite the packs whose entries changed; a failure to write only costs speed."""
        kept: dict[str, _Entry] = {}
        if not self.complete:  # the entries of leaves this run did not see, when they are ones
            kept = {key: entry for key, entry in self._stored.items() if type(entry) is _Entry}
        kept.update(self._used)
        shards = {key[:2] for key in set(kept) ^ set(self._stored)} | {
            key[:2] for key in self._changed
        }
        by_shard: dict[str, dict[str, _Entry]] = {shard: {} for shard in shards}
        for key, entry in kept.items():
            if key[:2] in by_shard:
                by_shard[key[:2]][key] = entry
        try:
            for shard, entries in sorted(by_shard.items()):
                # First: they may read the shard's stored plans and files.
                plans = self._kept_blobs(PLAN_PACK_PREFIX, entries)
                files = self._kept_blobs(FILES_PACK_PREFIX, entries)
                stored = {key: replace(entry, plan=None) for key, entry in entries.items()}
                _write_pack(self.directory / f"{PACK_PREFIX}{shard}{PACK_SUFFIX}", stored)
                _write_pack(self.directory / f"{PLAN_PACK_PREFIX}{shard}{PACK_SUFFIX}", plans)
                _write_pack(self.directory / f"{FILES_PACK_PREFIX}{shard}{PACK_SUFFIX}", files)
        except OSError:
            pass
        self._index.save(complete=self.complete)

    def _kept_blobs(self, kind: str, entries: Mapping[str, _Entry]) -> dict[str, Any]:
        """What a plans or files pack keeps for these entries: this run's, else the stored."""
        kept: dict[str, Any] = {}
        for key in entries:
            used = self._used.get(key)
            found: Any
            if kind == PLAN_PACK_PREFIX:
                found = used.plan if used is not None else None
                wanted = used is None or used.facts is not None
            else:
                found = self._contents.get(key)
                wanted = used is None or used.files is not None
            if found is None and wanted:
                found = self._stored_blob(kind, key)
                if kind == FILES_PACK_PREFIX and used is not None and used.files is not None:
                    found = found if _files_match(found, used.files) else None
            if found is not None:
                kept[key] = found
        return kept

    def _stored_blob(self, kind: str, key: str) -> Any:
        """What the plans or files pack of the key's shard holds for it (the pack read once)."""
        packs = self._packs.setdefault(kind, {})
        shard = key[:2]
        if shard not in packs:
            packs[shard] = _read_pack(
                self.directory / f"{kind}{shard}{PACK_SUFFIX}", _PackUnpickler
            )
        return packs[shard].get(key)

    # --- keys -------------------------------------------------------------------------------

    def _leaf_key(
        self,
        path: str,
        relative: PurePosixPath,
        display: str,
        context: LeafContext,
        leaf_digest: str,
    ) -> str:
        if context is not self._context:
            self._context = context
            self._base = _context_key(context)
            self._environment_keys = {}
            self._helm = None
            self._lock_file = None
        environment = relative.parts[0]
        if environment not in self._environment_keys:
            key = _file_key(context.environment_files.get(environment))
            self._environment_keys[environment] = key
        parts = (self._base, self._environment_keys[environment], path, str(relative), display)
        text = "\0".join((*parts, leaf_digest, ""))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def _lock_digest(self, context: LeafContext) -> str:
        """sha256 of the lock file, for entries that read the whole lock (read once per run)."""
        if self._lock_file is None:
            self._lock_file = _file_key(context.catalog / LOCK_FILE)
        return self._lock_file

    # --- entries ----------------------------------------------------------------------------

    def _load(self, key: str, lock: ModelLockFacts | None) -> _Entry | None:
        """The stored entry of key, when it is one (never trusted: checked here) and the lock
        still answers its reads as it did."""
        entry = self._stored.get(key)
        if type(entry) is not _Entry or entry.key != key or not _well_formed(entry):
            return None
        if self._lock_answers[0] is not lock:  # the lock of this run (held: its id stays its)
            self._lock_answers = (lock, {})
        answers = self._lock_answers[1]
        if not _lock_reads_hold(entry.lock_reads, answers, lock, self._lock_digest_now):
            return None
        return entry

    def _lock_digest_now(self) -> str:
        return "" if self._context is None else self._lock_digest(self._context)


def _contents_key(entry: _Entry | None, service: LeafFacts) -> str:
    """Where this run keeps a service's emitted bytes: its entry's key, or (a service the cache
    does not keep, an unwritten leaf's) its leaf path, which no entry key can be."""
    return entry.key if entry is not None else f"\0{service.leaf_path}"


def _no_files(service: LeafFacts) -> Mapping[str, bytes]:
    """render_tree's files_of when only the environment emitters' files are wanted."""
    return {}


def _well_formed(entry: _Entry) -> bool:
    """The entry holds what this code stores, nested types included (an entry is unpickled from
    a file, so it is checked: with C-level maps, since every leaf's entry is checked each run)."""
    problems, reads = entry.problems, entry.lock_reads
    return (
        type(problems) is tuple
        and set(map(type, problems)) <= {Problem}
        and (entry.facts is None or type(entry.facts) is LeafFacts)
        and entry.plan is None  # stored in the plans pack, not in the entry
        and (entry.files is None or _well_formed_files(entry.files))
        and (entry.templates is None or _well_formed_templates(entry.templates))
        and type(reads) is tuple
        and set(map(type, reads)) <= {tuple}
        and set(map(len, reads)) <= {2}
        and set(map(type, itertools.chain.from_iterable(reads))) <= {str}
    )


def _well_formed_files(files: Any) -> bool:
    """name -> sha256, every name a plain relative path (as an emitter may write it)."""
    if not (
        type(files) is dict
        and set(map(type, files)) <= {str}
        and set(map(type, files.values())) <= {str}
        and set(map(len, files.values())) <= {64}  # a sha256 in hex
    ):
        return False
    if files.keys() <= _PLAIN_NAMES:  # every entry names the same few files: checked once
        return True
    if not all(map(plain_relative, files)):
        return False
    _PLAIN_NAMES.update(files)
    return True


_PLAIN_NAMES: set[str] = set()  # names plain_relative accepted, in this process


def _files_match(stored: Any, digests: Mapping[str, str]) -> bool:
    """stored is a name -> bytes map of exactly these files, each with its sha256."""
    return (
        type(stored) is dict
        and stored.keys() == digests.keys()
        and all(
            type(content) is bytes and digest_of(content) == digests[name]
            for name, content in stored.items()
        )
    )


def _well_formed_templates(templates: Any) -> bool:
    return (
        type(templates) is tuple
        and len(templates) == 2
        and type(templates[0]) is str
        and type(templates[1]) is tuple
        and all(type(message) is TemplateMessage for message in templates[1])
    )


class _EntryPickler(pickle.Pickler):
    """Environments are not stored with each entry: the leaf's key holds its environment
    file, so the environment validated in this run is the one the entry was planned with."""

    def persistent_id(self, obj: Any) -> Any:
        from catalog_gen.models import Environment  # noqa: PLC0415

        return "environment" if isinstance(obj, Environment) else None


class _EntryUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, environment: Any) -> None:
        super().__init__(file)
        self._environment = environment

    def persistent_load(self, pid: Any) -> Any:
        if pid != "environment" or self._environment is None:
            raise pickle.UnpicklingError("an entry names an environment this run does not have")
        return self._environment

    def find_class(self, module: str, name: str) -> Any:
        """Only catalog-gen's own classes (never a function, never a dotted name) and a few
        standard ones: a pack someone else wrote cannot make unpickling call anything else."""
        found = _FOUND.get((module, name))
        if found is not None:
            return found
        if (module, name) in _ALLOWED_GLOBALS:
            found = super().find_class(module, name)
        elif module.startswith("catalog_gen.") and "." not in name:
            found = super().find_class(module, name)
            if not isinstance(found, type) or found.__module__ != module:
                raise pickle.UnpicklingError(f"{module}.{name} is not a catalog-gen class")
        else:
            raise pickle.UnpicklingError(f"{module}.{name} is not a catalog-gen type")
        _FOUND[(module, name)] = found
        return found


_FOUND: dict[tuple[str, str], Any] = {}  # the allowed globals, resolved once per process


def _dump_plan(plan: ServicePlan) -> bytes:
    buffer = io.BytesIO()
    _EntryPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(plan)
    return buffer.getvalue()


def _load_plan(blob: bytes | None, environment: Any, leaf_path: str) -> ServicePlan | None:
    """The plan an entry holds, or None when it does not load into a plan of that leaf."""
    if blob is None:
        return None
    try:
        plan = _EntryUnpickler(io.BytesIO(blob), environment).load()
    except Exception:  # corrupt or foreign: planned afresh
        return None
    return plan if isinstance(plan, ServicePlan) and plan.leaf_path == leaf_path else None


# --- the lock entries a leaf read ------------------------------------------------------------


class _LockReads(Mapping[str, LockedModel]):
    """The model lock, recording every entry planning asks for (and whether it looked at the
    whole lock: iterating or counting it)."""

    def __init__(self, lock: ModelLockFacts) -> None:
        self._lock = lock
        self._read: dict[str, str] = {}
        self._whole = False

    def __getitem__(self, canonical: str) -> LockedModel:
        found = self._lock.get(canonical)
        self._read[canonical] = "" if found is None else repr(found)
        if found is None:
            raise KeyError(canonical)
        return found

    def __iter__(self) -> Iterator[str]:
        self._whole = True
        return iter(self._lock)

    def __len__(self) -> int:
        self._whole = True
        return len(self._lock)

    def recorded(self, lock_digest: str) -> tuple[tuple[str, str], ...]:
        if self._whole:
            return ((WHOLE_LOCK, lock_digest),)
        return tuple(sorted(self._read.items()))


def _lock_reads_hold(
    reads: tuple[tuple[str, str], ...],
    answers: dict[str, str],
    lock: ModelLockFacts | None,
    lock_digest: Callable[[], str],
) -> bool:
    """The lock still answers every read as it did when the entry was planned. answers: what
    it answers this run, by reference (filled here: many leaves read the same entries)."""
    for canonical, seen in reads:
        if canonical == WHOLE_LOCK:
            if seen != lock_digest():
                return False
            continue
        answer = answers.get(canonical)
        if answer is None:
            found = None if lock is None else lock.get(canonical)
            answer = answers[canonical] = "" if found is None else repr(found)
        if answer != seen:
            return False
    return True


# --- leaves unchanged by their stat --------------------------------------------------------


class LeafIndex:
    """Each leaf's sha256 with the stat it had when read (device, inode, size, mtime and ctime
    in nanoseconds), like git's index: a leaf whose stat still matches is not read again. ctime
    cannot be set back by hand, so an edit that keeps the size and restores the mtime is seen.
    Leaves changed within RACY_SECONDS before the run began are not trusted (read every time)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / INDEX_FILE
        self._started = time.time_ns()
        self._stored = _read_index(self.path)
        self._now: dict[str, list[int | str]] = {}

    def known(self, path: str | os.PathLike[str]) -> str | None:
        """The leaf's sha256 when its stat is the one recorded, else None (read it)."""
        name = os.fspath(path)
        found = self._stored.get(name)
        if found is None:
            return None
        try:
            now = _stat_of(path)
        except OSError:
            return None
        if now != found[:-1]:
            return None
        self._now[name] = found
        return str(found[-1])

    def learn(self, path: str | os.PathLike[str], raw: bytes) -> str:
        """raw's sha256, remembered with the leaf's stat when that is trustworthy: the same
        after reading as now, and older than the racy window."""
        digest = digest_of(raw)
        try:
            now = _stat_of(path)
        except OSError:
            return digest
        racy = self._started - int(RACY_SECONDS * 1e9)
        if max(int(now[3]), int(now[4])) < racy:
            self._now[os.fspath(path)] = [*now, digest]
        return digest

    def save(self, *, complete: bool) -> None:
        """Replace the index atomically; a failure to write only costs speed."""
        leaves = dict(self._now) if complete else {**self._stored, **self._now}
        if leaves == self._stored:
            return
        body = json.dumps(
            {"version": INDEX_VERSION, "leaves": leaves}, separators=(",", ":"), sort_keys=True
        ).encode()
        with contextlib.suppress(OSError):
            replace_file(self.path, body)


def _stat_of(path: str | os.PathLike[str]) -> list[int | str]:
    found = os.stat(path)
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def _read_index(path: Path) -> dict[str, list[int | str]]:
    """The index as found; one that does not parse or is malformed counts as empty."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        return {}
    leaves = data.get("leaves")
    if not isinstance(leaves, dict):
        return {}
    for value in leaves.values():
        if not (
            isinstance(value, list)
            and len(value) == 6
            and all(type(item) is int for item in value[:5])
            and isinstance(value[5], str)
            and len(value[5]) == 64
        ):
            return {}
    return leaves


def digest_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# --- the pack -------------------------------------------------------------------------------


class _PackUnpickler(pickle.Unpickler):
    """The plans and files packs: dicts of text and bytes only."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("a pack holds only dicts of text and bytes")


def _read_entry_packs(directory: Path) -> dict[str, Any]:
    """key -> entry (as unpickled: checked when used) of every entries pack that is whole and
    of this format (others count empty): one unpickling per pack."""
    stored: dict[str, Any] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return stored
    for name in names:
        if not (name.startswith(PACK_PREFIX) and name.endswith(PACK_SUFFIX)):
            continue
        shard = name[len(PACK_PREFIX) : -len(PACK_SUFFIX)]
        pack = _read_pack(directory / name, _entry_unpickler)
        stored.update((key, entry) for key, entry in pack.items() if key[:2] == shard)
    return stored


def _entry_unpickler(file: io.BytesIO) -> pickle.Unpickler:
    return _EntryUnpickler(file, None)  # entries name no environment (plans do)


def _read_pack(path: Path, unpickler: Callable[[io.BytesIO], pickle.Unpickler]) -> dict[str, Any]:
    """The pack's dict of key -> value, when its checksum and format hold (else empty)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    header = len(_MAGIC) + 32
    body = raw[header:]
    if raw[: len(_MAGIC)] != _MAGIC or hashlib.sha256(body).digest() != raw[len(_MAGIC) : header]:
        return {}
    try:
        pack = unpickler(io.BytesIO(body)).load()
    except Exception:  # a checksum collision, a foreign pack or a bug: start afresh
        return {}
    if type(pack) is not dict or not all(type(key) is str for key in pack):
        return {}
    return pack


def _write_pack(path: Path, pack: Mapping[str, Any]) -> None:
    """Replace the pack atomically; an empty one is removed."""
    if not pack:
        path.unlink(missing_ok=True)
        return
    body = pickle.dumps(dict(sorted(pack.items())), protocol=pickle.HIGHEST_PROTOCOL)
    replace_file(path, _MAGIC + hashlib.sha256(body).digest() + body)


# --- fingerprints ---------------------------------------------------------------------------


def _context_key(context: LeafContext) -> str:
    """Everything every leaf's result depends on besides the leaf and its environment."""
    digest = hashlib.sha256()
    # Not the lock's bytes: each entry records the lock entries it read (_LockReads).
    lock = "lock" if context.lock is not None else "-"
    for part in (
        code_fingerprint(),
        tree_fingerprint(context.chart.directory),
        lock,
        context.catalog_name,
        context.lock_display,
        repr(context.enforce_lock),
        repr(sorted((name, str(path)) for name, path in context.environment_files.items())),
        repr(sorted(context.environments)),
    ):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def _file_key(path: Path | None) -> str:
    if path is None:
        return "absent"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable {error.errno}"


def tree_fingerprint(directory: Path) -> str:
    """sha256 over every file under directory (relative path and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """catalog-gen's own code and the versions of what shapes its output."""
    digest = hashlib.sha256()
    digest.update(f"{__version__}\0{sys.version}\0{yaml.__with_libyaml__}\0".encode())
    for library in _LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library}={version}\0".encode())
    digest.update(tree_fingerprint(Path(__file__).parent).encode())
    return digest.hexdigest()
