"""Planning leaves afresh, in chunks that may run in forked processes (`--jobs`).

Every leaf the cache has no result for is planned here: every leaf without the cache
(`--no-cache`), else the cache's misses (a cold cache, an edited environment or chart: all of
them). A chunk does everything per leaf that needs the leaf's plan: plan it (`plan_leaf`), keep
what helm is to judge of its effective values (the chart's template rules), and, when the
command writes or compares files, run the service emitters; once a process has no chunk left,
it asks helm for all the valid plans it made (one `helm template` per process, so two
processes run two helms at once). What comes back to catalog-gen is a `FreshLeaf` per
leaf: its problems, its LeafFacts (None when it gave no plan), the bytes it was planned from,
the model lock entries it read (what the cache keys an entry's validity on), helm's answer and
the emitted files. The plan itself stays in the process that made it: a forked process does not
send it back (unpickling 10,000 plans cost catalog-gen more than planning them in parallel
saved), and a leaf whose files were emitted keeps none (its plan is wanted again only for a
template message to place, and 10,000 plans held to the end cost 150 MiB; an environment
emitter, which reads every plan, would then plan every leaf again in one process: none exists
today). When catalog-gen asks for the plan of a leaf planned elsewhere (a template message to
place at a leaf line, `lock`'s list of models), `FreshPlans.plan_of` plans it again here from
the same bytes, which gives the same plan: planning is a pure function of the leaf's bytes and
the LeafContext every process shares.

Emitting in the chunk is safe because emitters read the plan only: the rules that run afterwards
(across leaves, the emit-stage checks) can make the catalog invalid (and then nothing is
written), never change a service's files. An emitter that fails in the chunk (on a catalog those
rules will refuse) leaves the service without files; render_tree emits it again from its plan
once the catalog is clean, where a real emitter error is raised as in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from catalog_gen.check.chart_templates import TemplateMessage, case_key
from catalog_gen.load.document import join_display
from catalog_gen.lock.model import LockedModel
from catalog_gen.plan.across import LeafFacts, facts_digest, leaf_facts
from catalog_gen.plan.leaf import LeafContext, plan_leaf
from catalog_gen.plan.parallel import chunked_map
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Problem, Report

# What a service emitter is (emit/__init__.py lists them; the plan stage only runs them).
ServiceEmitter = Callable[[ServicePlan], Mapping[str, bytes]]


@dataclass
class FreshLeaf:
    """What planning one leaf gave, as it travels back from a chunk."""

    path: Path
    raw: bytes | None  # what was planned (None: the file could not be read; no plan then)
    problems: tuple[Problem, ...]
    facts: LeafFacts | None  # None: the leaf gave no plan
    # The lock entries planning asked for: (canonical reference, repr of the pin or "" when
    # absent), sorted; whole_lock: it read the whole lock (iterated or counted it).
    lock_reads: tuple[tuple[str, str], ...]
    whole_lock: bool
    templates: tuple[TemplateMessage, ...] | None = None  # helm's answer (None: not asked)
    files: Mapping[str, bytes] | None = None  # the service emitters' output (None: not emitted)
    plan: ServicePlan | None = None  # only in the process that planned it (never pickled)
    # With the cache: plan/across.py facts_digest of facts, and the case_key of what helm
    # judged of it (None: not judged), taken where it was planned.
    facts_digest: str | None = None
    case_key: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["plan"] = None
        return state


class FreshPlans:
    """The leaves planned by plan_chunks, by their leaf_path: their plans (planned again here
    when they were planned in another process), helm's answers and the emitted files."""

    def __init__(self, context: LeafContext, display_root: str, *, digest: bool = False) -> None:
        """digest: each FreshLeaf carries what the cache keys on (its facts' digest, its case
        key), taken in the process that planned it."""
        self.context = context
        self.display_root = display_root
        self.digest = digest
        self.leaves: dict[str, FreshLeaf] = {}

    def keep(self, leaf: FreshLeaf) -> LeafFacts:
        """leaf's facts, remembered (a leaf that gave a plan)."""
        if leaf.facts is None:
            raise ValueError(f"{leaf.path} gave no plan")
        self.leaves[leaf.facts.leaf_path] = leaf
        return leaf.facts

    def plan_of(self, service: LeafFacts) -> ServicePlan | None:
        """The plan of a service planned here or in a chunk; None when it was not."""
        leaf = self.leaves.get(service.leaf_path)
        if leaf is None:
            return None
        if leaf.plan is None and leaf.facts is not None:  # kept leaves all have facts
            relative, display = place(leaf.path, self.context, self.display_root)
            leaf.plan = plan_again(
                leaf.path, relative, display, self.context, raw=leaf.raw, facts=leaf.facts
            )
        return leaf.plan

    def template_messages(self, service: LeafFacts) -> tuple[TemplateMessage, ...] | None:
        leaf = self.leaves.get(service.leaf_path)
        return None if leaf is None else leaf.templates

    def remember_template_messages(
        self, service: LeafFacts, messages: tuple[TemplateMessage, ...]
    ) -> None:
        leaf = self.leaves.get(service.leaf_path)
        if leaf is not None:
            leaf.templates = messages

    def files_of(self, service: LeafFacts) -> Mapping[str, bytes] | None:
        leaf = self.leaves.get(service.leaf_path)
        return None if leaf is None else leaf.files


def plan_again(
    path: Path,
    relative: PurePosixPath,
    display: str,
    context: LeafContext,
    *,
    raw: bytes | None,
    facts: LeafFacts,
) -> ServicePlan:
    """The plan of a leaf whose facts are known, planned again from the bytes it was planned
    from; an error if it does not give those facts (planning is a pure function of them)."""
    plan = plan_leaf(path, relative, display, context, Report(), raw=raw)
    if plan is None or leaf_facts(plan) != facts:
        raise RuntimeError(f"{display} planned again gave another plan")
    return plan


def place(path: Path, context: LeafContext, display_root: str) -> tuple[PurePosixPath, str]:
    """A leaf's path under the catalog and the path problems name it by."""
    relative, display = place_text(path, context, display_root)
    return PurePosixPath(relative), display


def place_text(path: Path, context: LeafContext, display_root: str) -> tuple[str, str]:
    """place's, the first as POSIX text: no path object per leaf (an incremental run places
    every leaf of the catalog, and builds a path only for the leaves it plans)."""
    text, catalog = str(path), str(context.catalog)
    if catalog != "." and text.startswith(f"{catalog}/"):
        relative = text[len(catalog) + 1 :]
    else:
        relative = path.relative_to(context.catalog).as_posix()
    return relative, join_display(display_root, relative)


def plan_chunks(
    leaves: Sequence[tuple[Path, bytes | None]],
    plans: FreshPlans,
    *,
    emit: ServiceEmitter | None,
    jobs: int,
) -> list[FreshLeaf]:
    """Every leaf (its path, and its bytes when already read) planned, with helm's answers
    and, with emit, its files, in jobs processes; one FreshLeaf per leaf, in the leaves' order,
    whatever jobs is."""

    templates = plans.context.chart.templates
    # What each process asks helm once its chunks are done: (leaf path, helm's case text) of
    # every valid plan it made (the list is the process's own: a forked process has a copy).
    asked: list[tuple[str, str]] = []

    def chunk_work(chunk: Sequence[tuple[Path, bytes | None]]) -> list[FreshLeaf]:
        fresh = [plan_fresh_leaf(path, raw, plans) for path, raw in chunk]
        for leaf in fresh:
            if templates is not None and leaf.plan is not None and _valid(leaf):
                text = templates.case_text(leaf.plan.effective)
                asked.append((str(leaf.path), text))
                if plans.digest:
                    leaf.case_key = case_key(text)
            if emit is not None:
                leaf.files = _emitted(leaf, emit)
                if leaf.files is not None:  # its plan is rarely wanted again: planned anew then
                    leaf.plan = None
        return fresh

    def ask_helm() -> dict[str, tuple[TemplateMessage, ...]]:
        """helm's answers for the valid plans this process made, in one `helm template`."""
        if templates is None or not asked:
            return {}
        paths, texts = zip(*asked, strict=True)
        return dict(zip(paths, templates.answers(texts), strict=True))

    shared = list(plans.context.environments.values())
    chunks, answers = chunked_map(chunk_work, leaves, jobs, shared=shared, finish=ask_helm)
    answered = {path: messages for found in answers for path, messages in found.items()}
    fresh = [leaf for chunk in chunks for leaf in chunk]
    for leaf in fresh:
        leaf.templates = answered.get(str(leaf.path))
    return fresh


def plan_fresh_leaf(path: Path, raw: bytes | None, plans: FreshPlans) -> FreshLeaf:
    """One leaf planned here, from raw when given, else from its file."""
    relative, display = place(path, plans.context, plans.display_root)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError:  # plan_leaf reads it again and reports why it cannot
            raw = None
    own = Report()
    context = plans.context
    reads = None if context.lock is None else LockReads(context.lock)
    if reads is not None:
        context = replace(context, lock=reads)
    plan = plan_leaf(path, relative, display, context, own, raw=raw)
    facts = None if plan is None else leaf_facts(plan)
    recorded = () if reads is None else tuple(sorted(reads.read.items()))
    whole = reads is not None and reads.whole
    leaf = FreshLeaf(path, raw, tuple(own.problems), facts, recorded, whole, plan=plan)
    if facts is not None and plans.digest:
        leaf.facts_digest = facts_digest(facts)
    return leaf


class LockReads(Mapping[str, LockedModel]):
    """The model lock, recording every entry planning asks for (and whether it looked at the
    whole lock: iterating or counting it): what a cached result depends on of the lock."""

    def __init__(self, lock: ModelLockFacts) -> None:
        self._lock = lock
        self.read: dict[str, str] = {}  # canonical reference -> repr of the pin, "" if absent
        self.whole = False

    def __getitem__(self, canonical: str) -> LockedModel:
        found = self._lock.get(canonical)
        self.read[canonical] = "" if found is None else repr(found)
        if found is None:
            raise KeyError(canonical)
        return found

    def __iter__(self) -> Iterator[str]:
        self.whole = True
        return iter(self._lock)

    def __len__(self) -> int:
        self.whole = True
        return len(self._lock)


def _emitted(leaf: FreshLeaf, emit: ServiceEmitter) -> Mapping[str, bytes] | None:
    """The leaf's files, or None where emitting it fails: a catalog with problems elsewhere (an
    environment's Argo CD settings, say) is reported as problems, not as an emitter's error;
    render_tree emits a service without files again from its plan, and only for a clean
    catalog, so a real emitter error is raised there as before."""
    if not _valid(leaf) or leaf.plan is None:
        return None
    try:
        return emit(leaf.plan)
    except Exception:  # emitted again, and raised, where the catalog is clean
        return None


def _valid(leaf: FreshLeaf) -> bool:
    """The leaf gave a plan without errors: helm judges it, the emitters write it."""
    return leaf.facts is not None and leaf.facts.valid
