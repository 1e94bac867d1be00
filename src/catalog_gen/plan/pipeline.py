"""From catalog files to one ServicePlan per service: the whole pipeline short of writing.

`plan_catalog` runs the stages in order, every one adding Problems to one Report (the caller
writes nothing unless the report is clean):

1. load and check every environment file (load/document.py, check/shape.py, check/rules.py,
   plan/security.py);
2. read the model lock (lock/lockfile.py), when the command wants it;
3. plan every leaf (plan/leaf.py `plan_leaf`: load, shape, path rules, then plan/service.py
   `plan_service`, which merges in the order plan/merge.py documents): what the cache
   remembers is taken from it, every other leaf planned in chunks (plan/fresh.py, in `--jobs`
   processes) that also ask helm and emit;
4. the chart's template rules (check/chart_templates.py, through helm) placed at the leaves:
   helm's answers from the chunks or the cache, else asked now in one batch;
5. the cross-leaf rules (plan/across.py `check_across_leaves`) on every service's LeafFacts
   (with the cache, their problems are reused while every service's facts are the ones they
   last ran on: `run_rules`).

A ServicePlan (plan/service_plan.py) is what every service emitter reads; emitters never look at
the raw leaf. What reads every service at once (the rules across leaves, the Argo CD files, the
list of output files) reads its LeafFacts instead (plan/across.py): CatalogPlan.services. The full
plans come from `plan_of` when asked for (`plans`), so an incremental render never loads the
plans of the leaves that did not change (catalog_gen/cache.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path, PurePosixPath
from typing import Protocol

from catalog_gen.check.chart_contract import (
    ChartContract,
    blamed_value,
    place_chart_value,
    report_environment_values,
)
from catalog_gen.check.chart_templates import ChartTemplates, TemplateMessage
from catalog_gen.check.rules import (
    check_environment,
    check_environment_path,
)
from catalog_gen.check.shape import validate_document
from catalog_gen.load.document import (
    CatalogFiles,
    Document,
    discover,
    join_display,
    load_document,
)
from catalog_gen.models import Environment
from catalog_gen.plan.across import LeafFacts, check_across_leaves
from catalog_gen.plan.fresh import FreshLeaf, FreshPlans, ServiceEmitter, place_text, plan_chunks
from catalog_gen.plan.leaf import LeafContext
from catalog_gen.plan.security import check_environment_security
from catalog_gen.plan.service import LOCK_FILE, value_origins
from catalog_gen.plan.service_plan import ModelLockFacts, ServicePlan
from catalog_gen.problems import Problem, Report


@dataclass(frozen=True)
class CatalogPlan:
    """The valid services (their facts, in the leaves' order), the valid environments, and the
    full plan of a service on demand."""

    services: tuple[LeafFacts, ...]
    environments: Mapping[str, Environment]
    environment_documents: Mapping[str, Document]
    plan_of: Callable[[LeafFacts], ServicePlan] = field(repr=False, compare=False)
    # The files whose problems the command reports (`validate FILE...`: those FILEs, the lock
    # and the environment files); None: every file. Later checks keep to them too.
    kept: frozenset[str] | None = None
    # The service emitters' files of a service, where planning ran them (plan_catalog's emit).
    emitted: Callable[[LeafFacts], Mapping[str, bytes] | None] = field(
        default=lambda _service: None, repr=False, compare=False
    )
    # The display path of every environment file found, valid or not: a command that reports on
    # some files only keeps their problems too (an invalid one switches its rules off).
    environment_displays: tuple[str, ...] = ()

    @cached_property
    def plans(self) -> tuple[ServicePlan, ...]:
        """Every valid service's full plan (loaded once, when first asked for)."""
        return tuple(self.plan_of(service) for service in self.services)


# --- the pipeline ---------------------------------------------------------------------------------

LockLoader = Callable[[Path, Report, str], ModelLockFacts | None]


def plan_catalog(
    catalog: Path,
    display_root: str,
    chart: ChartContract,
    report: Report,
    *,
    only: Sequence[Path] | None = None,
    lock_loader: LockLoader | None = None,
    enforce_lock: bool = True,
    cache: LeafPlanner | None = None,
    unwritten: Mapping[Path, bytes] | None = None,
    jobs: int = 1,
    emit: ServiceEmitter | None = None,
    inputs: CatalogInputs | None = None,
) -> CatalogPlan:
    """Load and check the catalog; the plans of every leaf that passed (all if report.ok).

    only: validate these leaf files (their environment's other leaves still count for the
    cross-leaf rules, but only problems in these files and in environment files are kept).
    lock_loader: reads the model lock ({} when the file is absent: every model then deploys
    unpinned, with a warning); None plans without any lock (no digests, no sizing, no lock
    problems).
    enforce_lock: apply requireLock (off for `catalog-gen lock`, which creates the lock).
    cache: reuses what each leaf gave before when nothing it depends on changed
    (catalog_gen.cache); the other leaves are planned as without it. None plans every leaf.
    unwritten: leaves not (yet) on disk, path under catalog -> bytes, planned as if they were
    there (`new` and `promote` check a leaf before writing it); never cached.
    jobs: plan the leaves the cache does not give in this many processes (plan/fresh.py); the
    plans and problems are the same, in the same order, whatever jobs is.
    emit: the service emitters, run where each leaf is planned (their files then come from
    CatalogPlan.emitted, or the cache).
    inputs: stages 1 and 2 as load_inputs gave them for these arguments, their problems in
    report already (the caller that tried the last run first: catalog_gen/snapshot.py).
    """
    if inputs is None:
        inputs = load_inputs(
            catalog,
            display_root,
            chart,
            report,
            lock_loader=lock_loader,
            enforce_lock=enforce_lock,
            unwritten=unwritten,
        )
    files, context = inputs.files, inputs.context
    environments, environment_documents = context.environments, inputs.environment_documents
    leaves, keep = _select(catalog, display_root, files, only, report)
    plans = _Plans(cache, FreshPlans(context, display_root, digest=cache is not None))
    services = _plan_leaves(leaves, report, plans, unwritten=unwritten or {}, jobs=jobs, emit=emit)
    services = check_chart_templates(services, chart, report, plans, plans)

    # Leaves with errors of their own take part too, with what of them is valid.
    across = partial(check_across_leaves, services, environments, environment_documents)
    run_rules("across leaves", services, across, report, cache)
    displays = _environment_displays(catalog, display_root, files)
    kept = _keep_problems(keep, displays, report)
    valid = tuple(service for service in services if service.valid)
    return CatalogPlan(
        valid, environments, environment_documents, plans, kept, plans.fresh.files_of, displays
    )


@dataclass(frozen=True)
class CatalogInputs:
    """What every leaf is planned with (stages 1 and 2): the catalog's files, and its valid
    environments and model lock in the LeafContext."""

    files: CatalogFiles
    environment_documents: Mapping[str, Document]
    context: LeafContext


def load_inputs(
    catalog: Path,
    display_root: str,
    chart: ChartContract,
    report: Report,
    *,
    lock_loader: LockLoader | None,
    enforce_lock: bool = True,
    unwritten: Mapping[Path, bytes] | None = None,
) -> CatalogInputs:
    """Stages 1 and 2 of plan_catalog (its arguments say what each is)."""
    catalog_name = catalog.resolve().name
    files = _with_unwritten(discover(catalog, display_root, report), unwritten or {})
    environments, environment_documents = _environments(catalog, display_root, files, chart, report)
    lock_display = join_display(display_root, PurePosixPath(LOCK_FILE))
    lock = None if lock_loader is None else lock_loader(catalog / LOCK_FILE, report, lock_display)
    context = LeafContext(
        catalog, catalog_name, files.environments, environments, chart, lock, enforce_lock
    )
    return CatalogInputs(files, environment_documents, replace(context, lock_display=lock_display))


def _environment_displays(catalog: Path, display_root: str, files: CatalogFiles) -> tuple[str, ...]:
    return tuple(
        join_display(display_root, path.relative_to(catalog))
        for path in files.environments.values()
    )


def _keep_problems(
    keep: set[str] | None, environment_displays: Sequence[str], report: Report
) -> frozenset[str] | None:
    """`validate FILE...`: only the problems of the files kept (and of every environment file,
    valid or not: an invalid one switches its environment's rules off, which is a problem of
    every leaf in it); the files kept, or None for every file."""
    if keep is None:
        return None
    keep |= set(environment_displays)
    report.problems[:] = [problem for problem in report.problems if problem.path in keep]
    return frozenset(keep)


class _Plans:
    """The full plan of each service, and helm's answers for it: the leaves planned afresh
    (plan/fresh.py) first, else the cache's."""

    def __init__(self, cache: LeafPlanner | None, fresh: FreshPlans) -> None:
        self.cache = cache
        self.fresh = fresh

    def __call__(self, service: LeafFacts) -> ServicePlan:
        plan = self.fresh.plan_of(service)
        if plan is not None:
            return plan
        if self.cache is None:
            raise KeyError(f"no plan for {service.leaf_path}")
        return self.cache.plan_of(service)

    def template_messages(self, service: LeafFacts) -> tuple[TemplateMessage, ...] | None:
        answer = self.fresh.template_messages(service)
        if answer is None and self.cache is not None:
            answer = self.cache.template_messages(service)
        return answer

    def remember_template_messages(
        self, service: LeafFacts, messages: tuple[TemplateMessage, ...]
    ) -> None:
        self.fresh.remember_template_messages(service, messages)
        if self.cache is not None:
            self.cache.remember_template_messages(service, messages)


def _with_unwritten(files: CatalogFiles, unwritten: Mapping[Path, bytes]) -> CatalogFiles:
    """files with the unwritten leaves among its leaves (once each, sorted like discover's)."""
    if not unwritten:
        return files
    leaves = sorted({*files.leaves, *unwritten})
    return CatalogFiles(files.environments, leaves)


def _environments(
    catalog: Path, display_root: str, files: CatalogFiles, chart: ChartContract, report: Report
) -> tuple[dict[str, Environment], dict[str, Document]]:
    """Stage 1: every environment file loaded and checked; the valid ones and their documents."""
    environments: dict[str, Environment] = {}
    environment_documents: dict[str, Document] = {}
    for name, path in files.environments.items():
        display = join_display(display_root, path.relative_to(catalog))
        document = load_document(path, display, report)
        if document is None:
            continue
        environment = validate_document(Environment, document, report)
        if environment is None:
            continue
        # Misnamed, it is not used: its leaves would be planned under another environment's
        # name (a name no file has crashed the Argo CD checks).
        named = check_environment_path(document, environment, report)
        check_environment(document, environment, report)
        check_environment_security(document, environment, report)
        # Values the chart refuses are reported here, once, not at every leaf of the environment.
        takes = _chart_takes(document, environment, chart, report)
        if not named or not takes:
            continue
        environments[name] = environment
        environment_documents[name] = document
    return environments, environment_documents


def _chart_takes(
    document: Document, environment: Environment, chart: ChartContract, report: Report
) -> bool:
    """The chart values the environment gives every service as it writes them (its Ingress
    annotations), judged by the chart's schema; False when one is refused."""
    if environment.ingress is None or not environment.ingress.annotations:
        return True
    ingress = {"annotations": dict(environment.ingress.annotations)}
    return report_environment_values(document, {"ingress": ingress}, chart, report)


def _plan_leaves(
    leaves: Sequence[Path],
    report: Report,
    plans: _Plans,
    *,
    unwritten: Mapping[Path, bytes],
    jobs: int,
    emit: ServiceEmitter | None,
) -> list[LeafFacts]:
    """Stage 3: every leaf planned, its problems reported in the leaves' order: what the cache
    remembers (for this command: with files when it emits) taken from it, the others (an
    unwritten leaf always) planned in jobs processes with helm's answers and their files
    (plan/fresh.py), and remembered."""
    cache = plans.cache
    remembered: list[Remembered | None] = []  # per leaf: the cache's, or None (planned afresh)
    afresh: list[tuple[Path, bytes | None]] = []
    for path in leaves:
        found: Remembered | bytes | None = None
        if unwritten and path in unwritten:  # hashing a Path costs: only when some are
            found = unwritten[path]
        elif cache is not None:
            relative, display = place_text(path, plans.fresh.context, plans.fresh.display_root)
            found = cache.look_up(path, relative, display, plans.fresh.context, emit is not None)
        if found is None or isinstance(found, bytes):
            remembered.append(None)
            afresh.append((path, found))
        else:
            remembered.append(found)
    templates = plans.fresh.context.chart.templates
    if cache is not None and afresh and templates is not None:
        templates.remember(cache.known_template_answers())
    planned = iter(plan_chunks(afresh, plans.fresh, emit=emit, jobs=jobs))
    services: list[LeafFacts] = []
    for cached in remembered:
        found = cached if cached is not None else _fresh(next(planned), plans)
        report.extend(found.problems)
        if found.facts is not None:
            services.append(found.facts)
    return services


def plan_edited_leaves(
    leaves: Sequence[Path],
    context: LeafContext,
    display_root: str,
    report: Report,
    *,
    cache: LeafPlanner,
    emit: ServiceEmitter,
) -> list[LeafFacts]:
    """Some leaves planned as plan_catalog plans them (stages 3 and 4), in this process, with
    their files: the leaves an edit changed, where the last run's plan of the catalog holds
    every other (catalog_gen/snapshot.py)."""
    plans = _Plans(cache, FreshPlans(context, display_root, digest=True))
    services = _plan_leaves(leaves, report, plans, unwritten={}, jobs=1, emit=emit)
    return check_chart_templates(services, context.chart, report, plans, plans)


def _fresh(leaf: FreshLeaf, plans: _Plans) -> FreshLeaf:
    """A leaf planned afresh, kept for this run (and by the cache, when it looked it up)."""
    if plans.cache is not None:
        plans.cache.learn(leaf)
    if leaf.facts is not None:
        plans.fresh.keep(leaf)
    return leaf


class Remembered(Protocol):
    """What the cache gives for a leaf (its entry): its problems and its facts (None: it gave
    no plan)."""

    @property
    def problems(self) -> tuple[Problem, ...]: ...

    @property
    def facts(self) -> LeafFacts | None: ...


def check_chart_templates(
    services: Sequence[LeafFacts],
    chart: ChartContract,
    report: Report,
    plan_of: Callable[[LeafFacts], ServicePlan],
    known: TemplateMemory | None = None,
) -> list[LeafFacts]:
    """The chart's template rules (_validate.tpl, through helm) on every valid plan's effective
    values, in one batch; each message placed at the leaf line that set the value. known: who
    remembers the answers for some services (the chunks that planned them, the cache): helm
    then judges only the others, and their plans are not planned again."""
    if chart.templates is None:
        return list(services)
    checked = [service for service in services if service.valid]
    answers = _template_answers(chart.templates, checked, plan_of, known)
    failed: set[int] = set()
    for service, messages in zip(checked, answers, strict=True):
        if not messages:
            continue
        plan = plan_of(service)
        from_leaf = plan.leaf.chart_values or {}
        origins = value_origins(plan.document, plan.models, plan.derived_models, plan.exposure)
        for item in messages:
            parts = blamed_value(plan.document, from_leaf, item.value)
            place_chart_value(
                plan.document, from_leaf, parts, report, item.message, origins=origins
            )
        failed.add(id(service))
    return [
        replace(service, valid=False) if id(service) in failed else service for service in services
    ]


def _template_answers(
    templates: ChartTemplates,
    services: Sequence[LeafFacts],
    plan_of: Callable[[LeafFacts], ServicePlan],
    known: TemplateMemory | None,
) -> list[tuple[TemplateMessage, ...]]:
    """Each service's template messages: remembered ones from known, the others from helm."""
    answers = [None if known is None else known.template_messages(service) for service in services]
    asked = [index for index, answer in enumerate(answers) if answer is None]
    fresh = templates.messages([plan_of(services[index]).effective for index in asked])
    found: list[tuple[TemplateMessage, ...]] = []
    given = iter(fresh)
    for service, answer in zip(services, answers, strict=True):
        if answer is not None:
            found.append(answer)
            continue
        asked_now = next(given)
        if known is not None:
            known.remember_template_messages(service, asked_now)
        found.append(asked_now)
    return found


class TemplateMemory(Protocol):
    """Who remembers helm's answers to the chart's template rules for the services it gave."""

    def template_messages(self, service: LeafFacts) -> tuple[TemplateMessage, ...] | None:
        """The chart's template messages for a service it gave, when it remembers them."""

    def remember_template_messages(
        self, service: LeafFacts, messages: tuple[TemplateMessage, ...]
    ) -> None:
        """What helm answered for a service it gave."""


def run_rules(
    rules: str,
    services: Sequence[LeafFacts],
    run: Callable[[Report], None],
    report: Report,
    memory: RulesMemory | None,
) -> None:
    """Add to report the problems run finds (rules over every service's facts and the
    environments); with memory, the problems they found last time, unless a service's facts or
    an environment file changed since (run is then run, and remembered)."""
    key = None if memory is None else memory.rules_key(rules, services)
    found = None if memory is None or key is None else memory.rules_problems(rules, key)
    if found is None:
        fresh = Report()
        run(fresh)
        found = tuple(fresh.problems)
        if memory is not None and key is not None:
            memory.remember_rules_problems(rules, key, found)
    report.extend(found)


class RulesMemory(Protocol):
    """Who remembers what rules across services found, keyed by every service's facts."""

    def rules_key(self, rules: str, services: Sequence[LeafFacts]) -> str | None:
        """What the rules' problems depend on (None: not known for every service)."""

    def rules_problems(self, rules: str, key: str) -> tuple[Problem, ...] | None:
        """The problems the rules found last time, when that was for key."""

    def remember_rules_problems(self, rules: str, key: str, problems: tuple[Problem, ...]) -> None:
        """What the rules found for key."""


class LeafPlanner(TemplateMemory, RulesMemory, Protocol):
    """What each leaf gave before, remembered across runs (catalog_gen.cache.LeafCache): the
    same problems and the facts of the same plan, whose full plan plan_of gives when asked."""

    def look_up(
        self,
        path: Path,
        relative: str,
        display: str,
        context: LeafContext,
        with_files: bool,
    ) -> Remembered | bytes | None:
        """What the leaf gave, when remembered (with its emitted files when with_files, and
        helm's answers when the chart has template rules); else the leaf's bytes when they
        were read (None: read them to plan it)."""

    def learn(self, leaf: FreshLeaf) -> None:
        """What planning a leaf it looked up gave (a leaf it did not look up is not kept)."""

    def plan_of(self, service: LeafFacts) -> ServicePlan:
        """The full plan of a service it gave."""

    def known_template_answers(self) -> Mapping[str, tuple[TemplateMessage, ...]]:
        """helm's answers it holds, by check/chart_templates.py case_key, for this chart and
        helm: the leaves planned afresh ask helm only for other texts."""


def _select(
    catalog: Path,
    display_root: str,
    files: CatalogFiles,
    only: Sequence[Path] | None,
    report: Report,
) -> tuple[Sequence[Path], set[str] | None]:
    """The leaves `validate FILE...` needs: the FILEs and the other leaves of their environments
    (for the cross-leaf rules), and the displays whose problems are kept. A FILE may also be an
    environment file: its leaves are checked with it, since its cross-leaf rules need them.
    Without FILEs (only None): every leaf, and every problem kept (None)."""
    if only is None:
        return files.leaves, None
    by_real_path = dict(zip(_real_paths(files.leaves), files.leaves, strict=True))
    environment_files = {path.resolve(): name for name, path in files.environments.items()}
    environments: set[str] = set()
    keep: set[str] = set()
    for path in only:
        real = path.resolve()
        if real in environment_files:
            environments.add(environment_files[real])
            continue
        if real == (catalog / LOCK_FILE).resolve():
            continue  # the lock's problems are kept whatever the FILEs (below)
        if str(real) not in by_real_path:
            keep.add(_not_a_leaf(catalog, display_root, path, report))
            continue
        # The leaf's place in the catalog, not its target's (it may be a symbolic link).
        relative = by_real_path[str(real)].relative_to(catalog)
        environments.add(relative.parts[0])
        keep.add(join_display(display_root, PurePosixPath(relative.as_posix())))
    keep.add(join_display(display_root, PurePosixPath(LOCK_FILE)))
    selected = [path for path in files.leaves if path.relative_to(catalog).parts[0] in environments]
    return selected, keep


def _not_a_leaf(catalog: Path, display_root: str, path: Path, report: Report) -> str:
    """Report a FILE that is no leaf (unless discover has, as a file misplaced in the catalog:
    once, as a whole-catalog run says it); the display whose problems are kept. The FILE is
    looked for where it is named as well as where it resolves: a link out of the catalog is
    reported by discover at its own place."""
    for named, root in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(catalog))),
        (path.resolve(), catalog.resolve()),
    ):
        try:
            inside = PurePosixPath(named.relative_to(root).as_posix())
        except ValueError:
            continue
        display = join_display(display_root, inside)
        if any(problem.path == display for problem in report.problems):
            return display
    report.add(
        str(path),
        1,
        1,
        "$",
        f"not a leaf of the catalog in {display_root}/: leaves live at "
        f"{display_root}/<environment>/<namespace>/<serviceName>.yaml",
    )
    return str(path)


def _real_paths(paths: Sequence[Path]) -> list[str]:
    """str(path.resolve()) of each path, each folder resolved once: a path that is not a
    symbolic link resolves to its folder's real path and its name (resolving every leaf, a look
    at each part of its path, cost `validate FILE` a quarter of a second at 10,000 leaves)."""
    folders: dict[str, str] = {}
    real = []
    for path in paths:
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if name in ("", ".", "..") or os.path.islink(text):
            real.append(os.path.realpath(text))
            continue
        found = folders.get(folder)
        if found is None:
            found = folders[folder] = os.path.realpath(folder)
        real.append(os.path.join(found, name))
    return real
