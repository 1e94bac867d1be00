"""Planning leaves without the cache, in chunks that may run in forked processes (`--jobs`).

A chunk does everything per leaf that needs the leaf's plan: plan it (`plan_leaf`), ask helm for
the chart's template rules on the effective values of its valid plans (one `helm template` per
chunk, so two chunks run two helms at once), and, when the command writes or compares files, run
the service emitters. What comes back to catalog-gen is a `FreshLeaf` per planned leaf: its
LeafFacts, the bytes it was planned from, helm's answer and the emitted files. The plan itself
stays in the process that made it: a forked process does not send it back (unpickling 10,000
plans cost catalog-gen more than planning them in parallel saved), and a leaf whose files were
emitted keeps none (its plan is wanted again only for a template message to place, and 10,000
plans held to the end cost 150 MiB; an environment emitter, which reads every plan, would then
plan every leaf again in one process: none exists today). When catalog-gen asks for the
plan of a leaf planned elsewhere (a template message to place at a leaf line, `lock`'s list of
models), `FreshPlans.plan_of` plans it again here from the same bytes, which gives the same plan:
planning is a pure function of the leaf's bytes and the LeafContext every process shares.

Emitting in the chunk is safe because emitters read the plan only: the rules that run afterwards
(across leaves, the emit-stage checks) can make the catalog invalid (and then nothing is
written), never change a service's files. An emitter that fails in the chunk (on a catalog those
rules will refuse) leaves the service without files; render_tree emits it again from its plan
once the catalog is clean, where a real emitter error is raised as in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from catalog_gen.check.chart_templates import TemplateMessage
from catalog_gen.load.document import join_display
from catalog_gen.plan.across import LeafFacts, leaf_facts
from catalog_gen.plan.leaf import LeafContext, plan_leaf
from catalog_gen.plan.parallel import chunked_map
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Problem, Report

# What a service emitter is (emit/__init__.py lists them; the plan stage only runs them).
ServiceEmitter = Callable[[ServicePlan], Mapping[str, bytes]]


@dataclass
class FreshLeaf:
    """What planning one leaf gave, as it travels back from a chunk."""

    path: Path
    raw: bytes | None  # what was planned (None: the file could not be read; no plan then)
    facts: LeafFacts
    templates: tuple[TemplateMessage, ...] | None  # helm's answer (None: not asked)
    files: Mapping[str, bytes] | None  # the service emitters' output (None: not emitted)
    plan: ServicePlan | None  # only in the process that planned it (never pickled)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["plan"] = None
        return state


class FreshPlans:
    """The leaves planned by plan_chunks, by their leaf_path: their plans (planned again here
    when they were planned in another process), helm's answers and the emitted files."""

    def __init__(self, context: LeafContext, display_root: str) -> None:
        self.context = context
        self.display_root = display_root
        self.leaves: dict[str, FreshLeaf] = {}

    def keep(self, leaf: FreshLeaf) -> LeafFacts:
        self.leaves[leaf.facts.leaf_path] = leaf
        return leaf.facts

    def plan_of(self, service: LeafFacts) -> ServicePlan | None:
        """The plan of a service planned here or in a chunk; None when it was not."""
        leaf = self.leaves.get(service.leaf_path)
        if leaf is None:
            return None
        if leaf.plan is None:
            relative, display = place(leaf.path, self.context, self.display_root)
            plan = plan_leaf(leaf.path, relative, display, self.context, Report(), raw=leaf.raw)
            if plan is None or leaf_facts(plan) != leaf.facts:
                raise RuntimeError(f"{display} planned again gave another plan")
            leaf.plan = plan
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


def place(path: Path, context: LeafContext, display_root: str) -> tuple[PurePosixPath, str]:
    """A leaf's path under the catalog and the path problems name it by."""
    # From the text when discover joined path to the catalog: no pathlib arithmetic per leaf
    # (an incremental run does this for every leaf of the catalog).
    text, catalog = str(path), str(context.catalog)
    if catalog != "." and text.startswith(f"{catalog}/"):
        relative = PurePosixPath(text[len(catalog) + 1 :])
    else:
        relative = PurePosixPath(path.relative_to(context.catalog).as_posix())
    return relative, join_display(display_root, relative)


def plan_chunks(
    leaves: Sequence[Path],
    plans: FreshPlans,
    report: Report,
    *,
    unwritten: Mapping[Path, bytes],
    emit: ServiceEmitter | None,
    jobs: int,
) -> list[LeafFacts]:
    """Every leaf planned (with helm's answers and, with emit, its files), in jobs processes;
    the facts and problems in the leaves' order, whatever jobs is."""

    def chunk_work(chunk: Sequence[Path]) -> tuple[list[FreshLeaf], list[Problem]]:
        own = Report()
        found = [plan_fresh_leaf(path, plans, own, unwritten) for path in chunk]
        fresh = [leaf for leaf in found if leaf is not None]
        _ask_helm(fresh, plans.context)
        if emit is not None:
            for leaf in fresh:
                leaf.files = _emitted(leaf, emit)
                if leaf.files is not None:  # its plan is rarely wanted again: planned anew then
                    leaf.plan = None
        return fresh, list(own.problems)

    services: list[LeafFacts] = []
    shared = list(plans.context.environments.values())
    for fresh, problems in chunked_map(chunk_work, leaves, jobs, shared=shared):
        services.extend(plans.keep(leaf) for leaf in fresh)
        report.extend(problems)
    return services


def plan_fresh_leaf(
    path: Path, plans: FreshPlans, report: Report, unwritten: Mapping[Path, bytes]
) -> FreshLeaf | None:
    """One leaf planned here, from its unwritten bytes or its file."""
    relative, display = place(path, plans.context, plans.display_root)
    raw = unwritten.get(path)
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError:  # plan_leaf reads it again and reports why it cannot
            raw = None
    plan = plan_leaf(path, relative, display, plans.context, report, raw=raw)
    if plan is None:
        return None
    return FreshLeaf(path, raw, leaf_facts(plan), None, None, plan)


def _emitted(leaf: FreshLeaf, emit: ServiceEmitter) -> Mapping[str, bytes] | None:
    """The leaf's files, or None where emitting it fails: a catalog with problems elsewhere (an
    environment's Argo CD settings, say) is reported as problems, not as an emitter's error;
    render_tree emits a service without files again from its plan, and only for a clean
    catalog, so a real emitter error is raised there as before."""
    if not leaf.facts.valid or leaf.plan is None:
        return None
    try:
        return emit(leaf.plan)
    except Exception:  # emitted again, and raised, where the catalog is clean
        return None


def _ask_helm(fresh: Sequence[FreshLeaf], context: LeafContext) -> None:
    """helm's answers for the valid plans of a chunk, in one `helm template`."""
    templates = context.chart.templates
    asked = [leaf for leaf in fresh if leaf.facts.valid and leaf.plan is not None]
    if templates is None or not asked:
        return
    answers = templates.messages([leaf.plan.effective for leaf in asked if leaf.plan is not None])
    for leaf, answer in zip(asked, answers, strict=True):
        leaf.templates = answer
