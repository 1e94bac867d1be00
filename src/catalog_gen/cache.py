"""Incremental render: what a leaf gave last time, reused when nothing it depends on changed.

Planning a leaf (load, shape, rules, merge, chart schema, lock facts) and emitting its files
depend only on the leaf's bytes, its environment file, the set of environment files, the model
lock entries it reads, the chart and catalog-gen itself. LeafCache keys each leaf's result by a
sha256 of: the leaf's place and bytes, its environment file's bytes, the environment names, every
file of the chart directory (values.yaml, values.schema.json, templates: whatever the plan asks
the chart), and catalog-gen's own code (every file of the package) with the versions of Python and
of the libraries that shape the output. The lock is not in the key: planning reads it through
plan/fresh.py's LockReads, the entry keeps what each lock entry it asked for was (or "absent"),
and a found entry counts only while the lock still says the same (so a lock edit replans only the
services of the models it changed). The leaf's bytes are known by its stat when that is the one
LeafIndex recorded (git's index: device, inode, size, mtime, ctime), unread.

A hit gives back the leaf's problems, its LeafFacts (plan/across.py), and the names and sha256
of its emitted files. helm's answers to the chart's template rules are kept by the sha256 of the
text helm judged (check/chart_templates.py case_key): the leaves planned afresh ask helm only for
texts that neither this run's entries nor their own entries from before their edit hold.
An entry counts only when it holds what the command needs: the emitted
files for `render` and `check` (an entry `validate` made has none), and helm's answers to the
chart's template rules, from the same helm. The other leaves (a cold cache, an edited
environment file or chart: all of them) are planned afresh as without the cache, in `--jobs`
processes (plan/fresh.py), and their entries made from what that gave. No plan is stored: the
plan of a cached leaf, when asked for (a template message to place on it), is planned again
from the leaf, which gives the same plan (pickling every plan cost more than planning it).
The Argo CD files and the list of output files are made from every service's facts, cached or
not, each run. So are the cross-leaf rules (hosts, GPU budget, names) and the emit-stage checks
(emit/checks.py: Argo CD, the Backstage owner warning), unless `rules.pack` holds what they found
for the very same facts: each entry keeps a sha256 of its facts as pickled (taken where the leaf
was planned), and what the rules found is kept with a key over those of every service, in order,
the bytes of every environment file and the context's key (plan/pipeline.py run_rules). An edit
that changes no service's facts (most edits: resources, models, descriptions) reuses it.

Two kinds of pack, 256 of each (by the key's first byte), in `.catalog-gen-cache/` beside the
catalog (ignored by git): `leaves-XX.pack` holds the entries (problems, facts, lock reads,
template messages, the emitted files' names and sha256) as ONE pickle, read when one of its
entries is first asked for: a run that plans every leaf unpickles 256 packs, not one pickle per
leaf, and one that reuses the last run (catalog_gen/snapshot.py) those of the leaves it plans
only; `files-XX.pack` holds the emitted files' bytes, read only for a
file the writer must write or compare (`tree`: the writer knows every other file by its sha256,
write/writer.py KnownFiles). A one-leaf edit therefore loads no other file's bytes. A pack is
replaced atomically (a temporary file renamed over it), only when its entries changed, and
checked on reading: a pack whose checksum or format does not match, an entry that does not
unpickle into catalog-gen's own types, names another key or is malformed, or stored bytes whose
sha256 is not the entry's are ignored and rebuilt, never trusted, so the cache can only make a
run faster, never change its output (tests/unit/test_cache.py compares incremental and cold
renders).
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
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from catalog_gen import __version__
from catalog_gen.check.chart_templates import ChartTemplateError, TemplateMessage, find_helm
from catalog_gen.digests import digest_of
from catalog_gen.emit import (
    EmitterConflictError,
    emit_service,
    plain_relative,
    render_tree,
)
from catalog_gen.load.document import ENVIRONMENTS_DIR
from catalog_gen.plan.across import LeafFacts
from catalog_gen.plan.fresh import FreshLeaf, ServiceEmitter, plan_again
from catalog_gen.plan.leaf import LeafContext
from catalog_gen.plan.parallel import JobsProcessError, chunked_map
from catalog_gen.plan.pipeline import CatalogPlan, Remembered
from catalog_gen.plan.service import LOCK_FILE
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Problem
from catalog_gen.write.writer import KnownFiles
from catalog_gen.write.written import RACY_SECONDS, TEMPORARY_FILES, remove_file, replace_file

CACHE_DIR = ".catalog-gen-cache"
PACK_PREFIX = "leaves-"  # leaves-<first two hex of the key>.pack: a one-leaf edit rewrites two
PACK_SUFFIX = ".pack"
# plans-<hex>.pack: where an earlier catalog-gen kept pickled plans (removed when saving)
OLD_PLAN_PACK_PREFIX = "plans-"
# files-<the same two hex>.pack: the bytes of the entries' emitted files, read only when written
FILES_PACK_PREFIX = "files-"
_MAGIC = b"catalog-gen cache pack 3\n"
INDEX_FILE = "leaves-index.json"
# What the rules across services (plan/pipeline.py run_rules) found last, with the key they
# found it for: one pack, read once a run asks for it.
RULES_FILE = "rules.pack"
_RULES_FORMAT = "rules 1"
_RUN_FORMAT = "run 1"
INDEX_VERSION = 1
WHOLE_LOCK = "\0whole lock"
# A pack's temporary file older than this has no live writer (writing one takes well under a
# second): it is a killed writer's, and removed.
_STALE_SECONDS = 600.0
# Fewer changed entries than this are saved faster by one process (a fork costs about 10 ms).
_LEAST_CHANGES_SHARED = 2000
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


# What plan_leaf is given for a leaf: its path, its path under the catalog (POSIX text), its
# display path and the run's LeafContext.
_Source = tuple[Path, str, str, LeafContext]


class LeafChangedError(Exception):
    """A leaf changed on disk while catalog-gen used what it read of it (an editor saved it
    during the run): nothing is written, and the next run reads it anew."""

    def __init__(self, display: str) -> None:
        super().__init__(f"{display} changed while catalog-gen read it: run it again")
        self.display = display

    def __reduce__(self) -> tuple[type[LeafChangedError], tuple[str]]:
        """As a --jobs process hands it over: made again from the leaf's name."""
        return type(self), (self.display,)


@dataclass
class _Entry:
    key: str
    problems: tuple[Problem, ...]
    facts: LeafFacts | None  # leaf_facts of the plan (None: the leaf gave no plan)
    # The service emitters' files: name -> sha256 of the bytes, once something emitted them (the
    # bytes are in the files pack, read only when the writer asks for them).
    files: dict[str, str] | None
    # The chart's template messages on the plan's effective values, with the helm that gave them.
    templates: tuple[str, tuple[TemplateMessage, ...]] | None = None
    # The lock entries planning read: (canonical reference, repr of the pin or "" when absent);
    # or ((WHOLE_LOCK, sha256 of the lock file),) when it read the whole lock.
    lock_reads: tuple[tuple[str, str], ...] = ()
    facts_digest: str | None = None  # plan/across.py facts_digest of facts (None: no facts)
    # check/chart_templates.py case_key of what helm judged of the plan: the text templates
    # answers (None: judged elsewhere, or not at all)
    case_key: str | None = None


@dataclass(frozen=True)
class LeafRecord:
    """What a run's snapshot keeps of each leaf (catalog_gen/snapshot.py): its entry's key,
    problems, facts' digest and files, with the bytes it was planned from (their sha256)."""

    path: str  # str() of the leaf's path, as discover found it
    digest: str  # sha256 of the leaf's bytes
    key: str  # its entry's key (the files pack keeps its files' bytes under it)
    problems: tuple[Problem, ...]
    facts_digest: str
    relative_dir: str  # the service's folder in the output tree
    files: dict[str, str]  # name under relative_dir -> sha256 of its bytes


def default_directory(catalog: Path) -> Path:
    """`.catalog-gen-cache/` at the repository root (the catalog directory's parent)."""
    return catalog.resolve().parent / CACHE_DIR


class LeafCache:
    """plan_catalog's LeafPlanner: what each leaf gave, remembered across runs (see the module
    doc)."""

    def __init__(
        self,
        directory: Path,
        *,
        complete: bool = True,
        jobs: int = 1,
        watch: InputsWatch | None = None,
    ) -> None:
        """complete: this run sees the whole catalog, so entries it did not use are dropped
        when saving (a `validate FILE...` run keeps them). jobs: how many processes may write
        the packs when many changed. watch: the inputs as they were before the run read them
        (nothing is saved but the leaf index when they changed meanwhile)."""
        self.directory = directory
        self.watch = watch
        self.complete = complete
        self.jobs = jobs
        self._stored = _StoredEntries(directory)  # key -> entry as unpickled, unchecked
        self._packs: dict[str, dict[str, Any]] = {}  # shard -> its files pack, once read
        self._used: dict[str, _Entry] = {}  # key -> entry, this run's
        self._changed: set[str] = set()  # keys whose entry this run created or completed
        self._contents: dict[str, dict[str, bytes]] = {}  # key -> emitted bytes, once known
        self._by_leaf_path: dict[str, str] = {}  # ServicePlan.leaf_path -> key
        self._plans: dict[str, ServicePlan] = {}  # leaf_path -> plan, once planned again
        # leaf_path -> what plan_leaf is given for it, and the sha256 of the bytes it gave the
        # entry from (its plan, planned again, must come from those very bytes)
        self._sources: dict[str, tuple[_Source, str]] = {}
        # str(path) -> (key, sha256 of the bytes, source) of the leaves look_up missed, until
        # learn (key and sha256 None: the leaf was not read, the cache being empty)
        self._pending: dict[str, tuple[str | None, str | None, _Source]] = {}
        self._context: LeafContext | None = None
        self._base = ""
        self._environment_keys: dict[str, str] = {}
        self._helm: str | None = None  # which helm judges the template rules (path, size, mtime)
        self._lock_file: str | None = None  # sha256 of the lock file, once an entry needs it
        # The lock entries' answers (reference -> repr or ""), for the lock they came from.
        self._lock_answers: tuple[ModelLockFacts | None, dict[str, str]] = (None, {})
        self._index = LeafIndex(directory)
        # rules -> (key, problems) of what the rules across services found, once read
        self._rules: dict[str, tuple[str, tuple[Problem, ...]]] | None = None
        self._rules_changed = False
        self.hits = 0
        self.misses = 0

    def look_up(
        self,
        path: Path,
        relative: str,
        display: str,
        context: LeafContext,
        with_files: bool,
    ) -> Remembered | bytes | None:
        """What the leaf gave, when an entry holds it and all this command needs (with_files:
        its emitted files); else the leaf's bytes, to plan it afresh: None when the planning
        process is to read them (the cache is empty), or when they cannot be read (plan_leaf
        then reports why, and nothing is kept for it)."""
        raw: bytes | None = None
        name = str(path)
        if not self._stored.any and not self._used:  # nothing to find: the planning process reads
            self._pending[name] = (None, None, (path, relative, display, context))
            return None
        digest = self._index.known(name)  # the leaf's sha256 by its stat, unread
        if digest is None:
            try:
                raw = path.read_bytes()
            except OSError:
                return None
            digest = self._index.learn(name, raw)
        key = self._leaf_key(name, relative, display, context, digest)
        entry = self._used.get(key) or self._load(key, context.lock)
        if entry is not None and self._holds_all(entry, with_files):
            self.hits += 1
            self._use(entry, (path, relative, display, context), digest)
            return entry
        if raw is None:  # stat said unchanged, but nothing was kept for it: read it now
            try:
                raw = path.read_bytes()
            except OSError:
                return None
            digest = digest_of(raw)
            key = self._leaf_key(name, relative, display, context, digest)
        self._pending[name] = (key, digest, (path, relative, display, context))
        return raw

    def known_template_answers(self) -> dict[str, tuple[TemplateMessage, ...]]:
        """What helm answered, by case_key, for the entries this run gave and those the missed
        leaves had before (made under this chart and catalog-gen: their keys say so), where
        this same helm answered: planning the missed leaves asks helm only for new texts."""
        identity = self._helm_identity()
        known: dict[str, tuple[TemplateMessage, ...]] = {}
        for entry in itertools.chain(self._before(), self._used.values()) if identity else ():
            answer = entry.templates
            if entry.case_key is not None and answer is not None and answer[0] == identity:
                known[entry.case_key] = answer[1]
        return known

    def _before(self) -> Iterator[_Entry]:
        """The entries the leaves this run missed had with the bytes the index recorded for
        them, where those differ from the bytes they have now."""
        for name, (_, digest, (_, relative, display, context)) in self._pending.items():
            before = self._index.recorded(name)
            if digest is None or before is None or before == digest:
                continue
            entry = self._checked(self._leaf_key(name, relative, display, context, before))
            if entry is not None:
                yield entry

    def learn(self, leaf: FreshLeaf) -> None:
        """The entry of a leaf look_up missed, from what planning it afresh gave."""
        pending = self._pending.pop(str(leaf.path), None)
        if pending is None:  # not looked up (unwritten) or unreadable: not kept
            return
        key, digest, source = pending
        if leaf.raw is None:  # unreadable where it was planned: nothing to keep
            return
        if key is None or digest is None:  # not read here: keyed by the bytes it was planned from
            path, relative, display, context = source
            digest = self._index.learn(str(path), leaf.raw)
            key = self._leaf_key(str(path), relative, display, context, digest)
        self.misses += 1
        entry = _Entry(
            key,
            leaf.problems,
            leaf.facts,
            None,
            facts_digest=leaf.facts_digest,
            case_key=leaf.case_key,
        )
        if leaf.files is not None:
            entry.files = {name: digest_of(content) for name, content in leaf.files.items()}
            self._contents[key] = dict(leaf.files)
        identity = self._helm_identity()
        if leaf.templates is not None and identity:
            entry.templates = (identity, leaf.templates)
        if source[3].lock is not None:
            whole = ((WHOLE_LOCK, self._lock_digest(source[3])),)
            entry.lock_reads = whole if leaf.whole_lock else leaf.lock_reads
        self._changed.add(key)
        self._use(entry, source, digest)

    def _use(self, entry: _Entry, source: _Source, digest: str) -> None:
        self._used[entry.key] = entry
        if entry.facts is not None:
            self._by_leaf_path[entry.facts.leaf_path] = entry.key
            self._sources[entry.facts.leaf_path] = (source, digest)

    def _holds_all(self, entry: _Entry, with_files: bool) -> bool:
        """The entry holds what this run needs of it: a valid service's files (with_files) and
        helm's answers to the chart's template rules (when it has some, from this helm)."""
        facts = entry.facts
        if facts is None or not facts.valid:
            return True
        if with_files and entry.files is None:
            return False
        identity = self._helm_identity()  # "" when the chart has no template rules
        answers = entry.templates
        return not identity or (answers is not None and answers[0] == identity)

    def plan_of(self, service: LeafFacts) -> ServicePlan:
        """The full plan of a service this run found in the cache: planned again from its
        leaf (no plan is stored), once, when first asked for."""
        plan = self._plans.get(service.leaf_path)
        if plan is None:
            (path, relative, display, context), digest = self._sources[service.leaf_path]
            try:
                raw: bytes | None = path.read_bytes()
            except OSError:
                raw = None
            if raw is None or digest_of(raw) != digest:
                raise LeafChangedError(display)
            plan = plan_again(
                path, PurePosixPath(relative), display, context, raw=raw, facts=service
            )
            self._plans[service.leaf_path] = plan
        return plan

    # --- what a snapshot of the run keeps (catalog_gen/snapshot.py) -------------------------

    def leaf_digest(self, path: Path) -> str | None:
        """sha256 of a leaf's bytes: known by its stat (unread), else read (None: unreadable)."""
        name = str(path)
        digest = self._index.known(name)
        if digest is None:
            try:
                digest = self._index.learn(name, path.read_bytes())
            except OSError:
                return None
        return digest

    def record_of(self, service: LeafFacts) -> LeafRecord | None:
        """What this run's entry of a valid service holds, with the bytes it was planned from:
        None unless it has its facts' digest, its files and helm's (empty) answer."""
        entry = self._entry_of(service)
        source = self._sources.get(service.leaf_path)
        if entry is None or source is None or entry.facts_digest is None or entry.files is None:
            return None
        identity = self._helm_identity()
        if identity and entry.templates != (identity, ()):
            return None
        (path, _, _, _), digest = source
        return LeafRecord(
            str(path),
            digest,
            entry.key,
            entry.problems,
            entry.facts_digest,
            service.relative_dir,
            dict(entry.files),
        )

    def files_of_record(
        self, record: LeafRecord, emit_again: Callable[[], Mapping[str, bytes]]
    ) -> Mapping[str, bytes]:
        """The bytes of a record's files: this run's, else the files pack's when they are the
        record's (every sha256 matching), else emit_again's (checked against the record)."""
        known = self._contents.get(record.key)
        if known is not None:
            return known
        stored = self._stored_files(record.key)
        files: Mapping[str, bytes] = stored if _files_match(stored, record.files) else emit_again()
        if {name: digest_of(content) for name, content in files.items()} != record.files:
            raise RuntimeError(f"{record.path}: its cache entry names other files")
        self._contents[record.key] = dict(files)
        if files is not stored:  # lost or damaged: stored again
            self._changed.add(record.key)
        return files

    def keep_unseen(self) -> None:
        """This run looked at some leaves' entries only: saving keeps the others."""
        self.complete = False

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
        stored = self._stored_files(key)
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

    # --- the rules across services ----------------------------------------------------------

    def rules_key(self, rules: str, services: Sequence[LeafFacts]) -> str | None:
        """What the rules over every service depend on: catalog-gen and the chart (the context's
        key), the bytes of every environment file and each service's facts (their digest), in
        order. None when a service is not one this run's cache gave or learned (an unwritten
        leaf, a service the template rules made invalid): the rules then just run."""
        context = self._context
        if context is None:
            return None
        digests: list[str] = []
        used, keys = self._used, self._by_leaf_path  # _entry_of's, inlined: every service's
        for service in services:
            entry = used.get(keys.get(service.leaf_path, ""))
            if entry is None or entry.facts is not service or entry.facts_digest is None:
                return None
            digests.append(entry.facts_digest)
        return self._rules_key_of(context, rules, digests)

    def _rules_key_of(self, context: LeafContext, rules: str, digests: Sequence[str]) -> str:
        self._use_context(context)
        environments = self._environment_parts(context)
        text = "\0".join((_RULES_FORMAT, rules, self._base, *environments, *digests))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def rules_problems_of(
        self, rules: str, facts_digests: Sequence[str]
    ) -> tuple[Problem, ...] | None:
        """What the rules found when they last ran on services with these facts, in this
        order (their facts_digest), if they ran on them last (with this run's context)."""
        if self._context is None:
            return None
        return self.rules_problems(rules, self._rules_key_of(self._context, rules, facts_digests))

    def rules_problems(self, rules: str, key: str) -> tuple[Problem, ...] | None:
        """What the rules found when they last ran, if that was for key."""
        found = self._remembered_rules().get(rules)
        return found[1] if found is not None and found[0] == key else None

    def remember_rules_problems(self, rules: str, key: str, problems: tuple[Problem, ...]) -> None:
        self._remembered_rules()[rules] = (key, problems)
        self._rules_changed = True

    def _remembered_rules(self) -> dict[str, tuple[str, tuple[Problem, ...]]]:
        if self._rules is None:
            pack = _read_pack(self.directory / RULES_FILE, _entry_unpickler)
            self._rules = {
                rules: found
                for rules, found in pack.items()
                if _named_items(found, Problem)  # (key, problems)
            }
        return self._rules

    # --- saving -----------------------------------------------------------------------------

    def inputs_changed(self) -> bool:
        """Whether the inputs the watch took changed during the run (InputsWatch)."""
        return self.watch is not None and self.watch.changed()

    def save(self) -> None:
        """Rewrite the packs whose entries changed; a failure to write only costs speed. Nothing
        but the leaf index when the inputs changed during the run."""
        if self.inputs_changed():
            self._index.save(complete=self.complete)
            return
        by_shard = self._shards_to_write()
        # Pickling 10,000 entries and their files takes a third of a second: shared out.
        jobs = self.jobs if len(self._changed) >= _LEAST_CHANGES_SHARED else 1
        try:
            _remove_stale(self.directory)
            chunked_map(self._write_shards, sorted(by_shard.items()), jobs, least=1)
            if self._rules_changed and self._rules is not None:
                _write_pack(self.directory / RULES_FILE, self._rules)
        except (OSError, JobsProcessError):
            pass
        self._index.save(complete=self.complete)

    def _shards_to_write(self) -> dict[str, dict[str, _Entry]]:
        """The entries of each pack that changed: a run that saw the whole catalog keeps only
        the entries it used; another keeps the stored ones too, and reads only the packs
        whose entries it added or changed."""
        changed = {key[:2] for key in self._changed}
        by_shard: dict[str, dict[str, _Entry]] = {}
        if self.complete:
            stored = self._stored.everything()
            shards = {key[:2] for key in set(self._used) ^ set(stored)} | changed
            by_shard = {shard: {} for shard in shards}
        else:
            shards = {key[:2] for key in self._used if key not in self._stored.shard(key[:2])}
            shards |= self._stored.holding_other_values()
            for shard in shards | changed:  # the entries of leaves this run did not see, kept
                pack = self._stored.shard(shard).items()
                by_shard[shard] = {key: entry for key, entry in pack if type(entry) is _Entry}
        for key, entry in self._used.items():
            if key[:2] in by_shard:
                by_shard[key[:2]][key] = entry
        return by_shard

    def _write_shards(self, shards: Sequence[tuple[str, dict[str, _Entry]]]) -> None:
        for shard, entries in shards:
            files = self._kept_files(entries)  # first: it may read the shard's stored bytes
            _write_pack(self.directory / f"{PACK_PREFIX}{shard}{PACK_SUFFIX}", entries)
            _write_pack(self.directory / f"{FILES_PACK_PREFIX}{shard}{PACK_SUFFIX}", files)

    def _kept_files(self, entries: Mapping[str, _Entry]) -> dict[str, Any]:
        """What a files pack keeps for these entries: this run's bytes, else the stored ones
        (when they are still the entry's)."""
        kept: dict[str, Any] = {}
        for key in entries:
            used = self._used.get(key)
            found: Any = self._contents.get(key)
            if found is None and (used is None or used.files is not None):
                found = self._stored_files(key)
                if used is not None and used.files is not None:
                    found = found if _files_match(found, used.files) else None
            if found is not None:
                kept[key] = found
        return kept

    def _stored_files(self, key: str) -> Any:
        """What the files pack of the key's shard holds for it (the pack read once)."""
        shard = key[:2]
        if shard not in self._packs:
            path = self.directory / f"{FILES_PACK_PREFIX}{shard}{PACK_SUFFIX}"
            self._packs[shard] = _read_pack(path, _PackUnpickler)
        return self._packs[shard].get(key)

    # --- keys -------------------------------------------------------------------------------

    def _leaf_key(
        self,
        path: str,
        relative: str,
        display: str,
        context: LeafContext,
        leaf_digest: str,
    ) -> str:
        self._use_context(context)
        environment = self._environment_key(relative.split("/", 1)[0])
        parts = (self._base, environment, path, relative, display)
        text = "\0".join((*parts, leaf_digest, ""))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def _use_context(self, context: LeafContext) -> None:
        """Key what follows by context (its keys computed once per context)."""
        if context is not self._context:
            self._context = context
            self._base = _context_key(context)
            self._environment_keys = {}
            self._helm = None
            self._lock_file = None

    def last_run_key(self, display_root: str) -> str | None:
        """run_key of the context this run planned with (None: it planned nothing)."""
        return None if self._context is None else self.run_key(self._context, display_root)

    def run_key(self, context: LeafContext, display_root: str) -> str:
        """What every leaf's result and the rules across leaves depend on besides the leaves
        themselves: the context's key, every environment file, the helm that answers the
        template rules, the whole lock file and where the catalog is (the paths problems
        name): catalog_gen/snapshot.py reuses a run whose key this is."""
        self._use_context(context)
        parts = [
            _RUN_FORMAT,
            self._base,
            self._helm_identity(),
            self._lock_digest(context),
            display_root,
            str(context.catalog),
        ]
        parts += self._environment_parts(context)
        return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()

    def _environment_parts(self, context: LeafContext) -> list[str]:
        """Every environment file's name with its sha256, by name."""
        return [
            f"{name}\0{self._environment_key(name)}" for name in sorted(context.environment_files)
        ]

    def _environment_key(self, environment: str) -> str:
        """sha256 of the environment's file (read once per run; "absent" without one)."""
        key = self._environment_keys.get(environment)
        if key is None:
            files = self._context.environment_files if self._context is not None else {}
            key = self._environment_keys[environment] = _file_key(files.get(environment))
        return key

    def _lock_digest(self, context: LeafContext) -> str:
        """sha256 of the lock file, for entries that read the whole lock (read once per run)."""
        if self._lock_file is None:
            self._lock_file = _file_key(context.catalog / LOCK_FILE)
        return self._lock_file

    # --- entries ----------------------------------------------------------------------------

    def _load(self, key: str, lock: ModelLockFacts | None) -> _Entry | None:
        """The stored entry of key, when it is one (never trusted: checked here) and the lock
        still answers its reads as it did."""
        entry = self._checked(key)
        if entry is None:
            return None
        if self._lock_answers[0] is not lock:  # the lock of this run (held: its id stays its)
            self._lock_answers = (lock, {})
        answers = self._lock_answers[1]
        if not _lock_reads_hold(entry.lock_reads, answers, lock, self._lock_digest_now):
            return None
        return entry

    def _checked(self, key: str) -> _Entry | None:
        """The stored entry of key, when it is one of this code's, under its own key."""
        entry = self._stored.get(key)
        if type(entry) is not _Entry or entry.key != key or not _well_formed(entry):
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
    a file, so it is checked; every leaf's entry is, each run: the loops run over a few items
    each, which plain loops walk faster than sets of their types are built)."""
    problems, reads, facts = entry.problems, entry.lock_reads, entry.facts
    if type(problems) is not tuple or type(reads) is not tuple:
        return False
    for problem in problems:
        if type(problem) is not Problem:
            return False
    for read in reads:
        if type(read) is not tuple or len(read) != 2:
            return False
        if type(read[0]) is not str or type(read[1]) is not str:
            return False
    digest, case = entry.facts_digest, entry.case_key
    return (
        (facts is None or type(facts) is LeafFacts)
        and (entry.files is None or well_formed_files(entry.files))
        and (entry.templates is None or _named_items(entry.templates, TemplateMessage))
        and (digest is None or type(digest) is str)
        and (case is None or type(case) is str)
    )


def _named_items(value: Any, kind: type) -> bool:
    """value is (text, tuple of kind): an entry's template answers (the helm they came from,
    the messages), a rules pack's value (its key, the problems)."""
    if type(value) is not tuple or len(value) != 2:
        return False
    if type(value[0]) is not str or type(value[1]) is not tuple:
        return False
    return all(type(item) is kind for item in value[1])


def well_formed_files(files: Any) -> bool:
    """name -> sha256, every name a plain relative path (as an emitter may write it)."""
    if type(files) is not dict:
        return False
    for name, digest in files.items():
        if type(name) is not str or type(digest) is not str or len(digest) != 64:
            return False  # a sha256 in hex
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


class _EntryUnpickler(pickle.Unpickler):
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


# --- the lock entries a leaf read ------------------------------------------------------------


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
    Leaves changed within RACY_SECONDS before the run began may change again within the file
    system's timestamp granularity without their stat changing (git's "racily clean" entries):
    they are not trusted (read every time until older)."""

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

    def recorded(self, path: str) -> str | None:
        """The sha256 the index recorded for the leaf, whatever its stat is now."""
        found = self._stored.get(path)
        return None if found is None else str(found[-1])

    def learn(self, path: str | os.PathLike[str], raw: bytes) -> str:
        """raw's sha256, remembered with the leaf's stat when that is trustworthy: taken after
        reading, and older than the racy window (so an edit since the run began is never
        recorded); else with a stat no file has (never known: read again next time), for
        `recorded`."""
        digest = digest_of(raw)
        try:
            now = _stat_of(path)
        except OSError:
            return digest
        racy = self._started - int(RACY_SECONDS * 1e9)
        trusted = max(int(now[3]), int(now[4])) < racy
        self._now[os.fspath(path)] = [*(now if trusted else _NO_STAT), digest]
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


_NO_STAT = [-1, -1, -1, -1, -1]  # what the index records for a leaf read within the racy window


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


# --- the pack -------------------------------------------------------------------------------


class _PackUnpickler(pickle.Unpickler):
    """The files packs: dicts of text and bytes only."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("a pack holds only dicts of text and bytes")


class _StoredEntries:
    """key -> entry (as unpickled: checked when used) of the entries packs that are whole and
    of this format (others count empty), each pack read (one unpickling) when an entry of its
    shard is first asked for: a run that reuses the last run's plan (catalog_gen/snapshot.py)
    reads only the packs of the leaves it plans."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        self._present = {
            name[len(PACK_PREFIX) : -len(PACK_SUFFIX)]
            for name in names
            if name.startswith(PACK_PREFIX) and name.endswith(PACK_SUFFIX)
        }
        self._read: dict[str, dict[str, Any]] = {}

    @property
    def any(self) -> bool:
        """Some pack is there (it may still hold nothing usable)."""
        return bool(self._present)

    def get(self, key: str) -> Any:
        return self.shard(key[:2]).get(key)

    def shard(self, shard: str) -> dict[str, Any]:
        """The entries of one pack (the keys of its shard only)."""
        found = self._read.get(shard)
        if found is None:
            found = {}
            if shard in self._present:
                path = self.directory / f"{PACK_PREFIX}{shard}{PACK_SUFFIX}"
                pack = _read_pack(path, _entry_unpickler)
                found = {key: entry for key, entry in pack.items() if key[:2] == shard}
            self._read[shard] = found
        return found

    def holding_other_values(self) -> set[str]:
        """The shards read so far that hold something else than entries (dropped on saving)."""
        return {
            shard
            for shard, entries in self._read.items()
            if any(type(entry) is not _Entry for entry in entries.values())
        }

    def everything(self) -> dict[str, Any]:
        """Every pack's entries."""
        stored: dict[str, Any] = {}
        for shard in sorted(self._present):
            stored.update(self.shard(shard))
        return stored


def read_pack_of_entries(path: Path) -> dict[str, Any]:
    """A pack that holds catalog-gen's own types (as the entries packs do), when whole."""
    return _read_pack(path, _entry_unpickler)


def write_pack(path: Path, pack: Mapping[str, Any]) -> None:
    """Replace a pack atomically (its folder made); an empty one is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_pack(path, pack)


def _entry_unpickler(file: io.BytesIO) -> pickle.Unpickler:
    return _EntryUnpickler(file)


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


def _remove_stale(directory: Path) -> None:
    """What earlier catalog-gens left: plans packs (no plan is stored any more) and the
    temporary file of a pack, record or index whose writer was killed before renaming it (a
    --jobs process is ended with SIGKILL when catalog-gen fails or is interrupted), once it is
    old enough that no live writer can still be on it."""
    oldest = time.time() - _STALE_SECONDS
    for old in directory.glob(f"{OLD_PLAN_PACK_PREFIX}*{PACK_SUFFIX}"):
        with contextlib.suppress(OSError):
            old.unlink()
    # Every file catalog-gen replaces here (packs, the stat index, write records and their
    # changes) is written by written.replace_file.
    for temporary in directory.glob(TEMPORARY_FILES):
        with contextlib.suppress(OSError):
            if temporary.lstat().st_mtime < oldest:
                temporary.unlink()


def _write_pack(path: Path, pack: Mapping[str, Any]) -> None:
    """Replace the pack atomically; an empty one is removed."""
    if not pack:
        remove_file(path)
        return
    body = pickle.dumps(dict(sorted(pack.items())), protocol=pickle.HIGHEST_PROTOCOL)
    replace_file(path, _MAGIC + hashlib.sha256(body).digest() + body)


# --- fingerprints ---------------------------------------------------------------------------


def _context_key(context: LeafContext) -> str:
    """Everything every leaf's result depends on besides the leaf and its environment."""
    digest = hashlib.sha256()
    # Not the lock's bytes: each entry records the lock entries it read (fresh.LockReads).
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


class InputsWatch:
    """What planning reads besides the leaves (input_fingerprint), taken before it reads any:
    a run during which one of them changed keys its entries and snapshot by bytes it may not
    have planned with (the keys are read from the files as entries are made), so it keeps
    nothing (review: an environment file, the lock or the chart saved during a first render
    had cached runs call a stale tree up to date, and put stale files back over a cold
    render's). The leaves need none: each entry is keyed by the bytes it was planned from."""

    def __init__(self, catalog: Path, chart: Path) -> None:
        self.catalog = catalog
        self.chart = chart
        self.before = input_fingerprint(catalog, chart)
        self._changed: bool | None = None

    def changed(self) -> bool:
        """Whether they differ now (asked once every key is made: the answer is kept)."""
        if self._changed is None:
            self._changed = input_fingerprint(self.catalog, self.chart) != self.before
        return self._changed


def input_fingerprint(catalog: Path, chart: Path) -> str:
    """sha256 over the chart's files, every file under the catalog's environments/ and the
    model lock."""
    parts = (
        tree_fingerprint(chart),
        tree_fingerprint(catalog / ENVIRONMENTS_DIR),
        _file_key(catalog / LOCK_FILE),
    )
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def tree_fingerprint(directory: Path) -> str:
    """sha256 over every file under directory (relative path and bytes), through links to
    folders as helm reads a chart (a chart whose templates/ is a link had its rules left out,
    so an edited rule kept the old answers), each folder once; any name, UTF-8 or not."""
    digest = hashlib.sha256()
    for relative, path in _files_under(directory):
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as error:  # the run that reads it reports it; here it only keys
            digest.update(f"unreadable {error.errno}".encode())
    return digest.hexdigest()


def _files_under(directory: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every file under directory, links followed, sorted; not
    Python's bytecode."""
    found: list[tuple[str, Path]] = []
    seen: set[tuple[int, int]] = set()
    for folder, folders, files in os.walk(directory, followlinks=True):
        status = os.stat(folder)
        if (status.st_dev, status.st_ino) in seen:  # a link back up: walked already
            folders.clear()
            continue
        seen.add((status.st_dev, status.st_ino))
        folders[:] = [name for name in folders if name != "__pycache__"]
        for name in files:
            path = Path(folder, name)
            if not name.endswith(".pyc") and path.is_file():
                found.append((path.relative_to(directory).as_posix(), path))
    return sorted(found)


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
