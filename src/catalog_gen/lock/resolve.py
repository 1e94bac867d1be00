"""The registry lookup: each model the catalog wants, resolved to a pin through the registry
client (bounded concurrency), and what makes a lock stale against the catalog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from catalog_gen.lock.model import DEFAULT_LOCK_PATH, LockedModel, ModelLock, Origin, WantedModel
from catalog_gen.lock.registry import RegistryClient, RegistryError
from catalog_gen.problems import Problem
from catalog_gen.references import InvalidReferenceError, parse_model_reference

# Polite to a shared registry: a handful of requests in flight, never one per model.
DEFAULT_CONCURRENCY = 4


def _problem(wanted: WantedModel, fallback_path: str, message: str) -> Problem:
    origin = wanted.origin or Origin(fallback_path)
    return Problem(
        origin.path,
        origin.line,
        origin.column,
        origin.json_path,
        f"{wanted.reference.canonical}: {message}",
    )


def unique_wanted(
    wanted: Iterable[WantedModel], fallback_path: str
) -> tuple[dict[str, WantedModel], list[Problem]]:
    """One WantedModel per canonical reference (the first named wins); a registry host reached
    over plain http for one model and https for another (the same or any other model of that
    host) is an error at the later mention."""
    unique: dict[str, WantedModel] = {}
    by_host: dict[str, WantedModel] = {}
    problems: list[Problem] = []
    for item in wanted:
        unique.setdefault(item.reference.canonical, item)
        first = by_host.setdefault(item.reference.registry, item)
        if first.registry.insecure != item.registry.insecure:
            where = first.origin.path if first.origin else fallback_path
            problems.append(
                _problem(
                    item,
                    fallback_path,
                    f"reached over {item.registry_url} here but over {first.registry_url} in "
                    f"{where}; one registry host must be either insecure or not everywhere",
                )
            )
    return unique, problems


def resolve_all(
    wanted: Sequence[WantedModel],
    client: RegistryClient,
    *,
    fallback_path: str = str(DEFAULT_LOCK_PATH),
    concurrency: int = DEFAULT_CONCURRENCY,
) -> tuple[dict[str, LockedModel], list[Problem]]:
    """Resolve every model (bounded concurrency); one problem per model that failed."""
    unique, problems = unique_wanted(wanted, fallback_path)
    items = list(unique.values())

    def resolve(item: WantedModel) -> LockedModel | Problem:
        try:
            return LockedModel.from_remote(client.resolve(item.reference, item.registry))
        except RegistryError as error:
            return _problem(item, fallback_path, str(error))
        except (ValueError, RecursionError) as error:
            # What a registry sends is read by urllib and json, which raise these on answers no
            # registry should give (a redirect to port 99999, JSON nested 200,000 deep): that
            # model's problem, never an internal error that drops every other model's result.
            reason = f"the registry's answer cannot be read: {type(error).__name__}: {error}"
            return _problem(item, fallback_path, reason)

    resolved: dict[str, LockedModel] = {}
    if items:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
            for outcome in pool.map(resolve, items):
                if isinstance(outcome, Problem):
                    problems.append(outcome)
                else:
                    resolved[outcome.reference] = outcome
    return resolved, problems


@dataclass(frozen=True)
class Stale:
    reference: str
    reason: str


def stale_entries(lock: ModelLock | None, wanted: Iterable[WantedModel]) -> list[Stale]:
    """What keeps the lock from matching the catalog, without asking any registry."""
    locked = lock.models if lock else {}
    unique = {item.reference.canonical: item for item in wanted}
    stale: list[Stale] = []
    for canonical in sorted(set(unique) | set(locked)):
        item, entry = unique.get(canonical), locked.get(canonical)
        if entry is None:
            stale.append(Stale(canonical, "not in the lock"))
        elif item is None:
            stale.append(Stale(canonical, "locked but no longer used by the catalog"))
        elif entry.registry != item.registry_url:
            stale.append(
                Stale(
                    canonical,
                    f"locked from {entry.registry} but the catalog now reaches it over "
                    f"{item.registry_url}",
                )
            )
    return stale


def select_updates(
    names: Sequence[str], wanted: Iterable[WantedModel]
) -> tuple[set[str], list[tuple[str, str]]]:
    """Canonical references matching each --update NAME, and each name matching nothing with
    why (no model of the catalog, or not a reference at all).

    NAME is read like a catalog reference (with each model's own default registry): `phi`,
    `phi:latest`, `library/phi:latest` and the canonical form all name the same model; a NAME
    without a tag matches every tag of that model.
    """
    unique = {item.reference.canonical: item.reference for item in wanted}
    selected: set[str] = set()
    unmatched: list[tuple[str, str]] = []
    for name in names:
        matched = False
        why = "no model in the catalog matches"
        has_tag = ":" in name.rsplit("/", 1)[-1]
        for canonical, reference in unique.items():
            try:
                candidate = parse_model_reference(name, default_registry=reference.registry)
            except InvalidReferenceError as error:
                why = f"not a model reference: {error}"
                break
            same_model = (candidate.registry, candidate.namespace, candidate.name) == (
                reference.registry,
                reference.namespace,
                reference.name,
            )
            if same_model and (not has_tag or candidate.tag == reference.tag):
                selected.add(canonical)
                matched = True
        if not matched:
            unmatched.append((name, why))
    return selected, unmatched
