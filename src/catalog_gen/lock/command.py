"""``catalog-gen lock``: ``run_lock`` is the whole command; the CLI only turns the catalog into
``WantedModel``s and calls it. Nothing is written unless every model resolved."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from catalog_gen.lock.lockfile import load_lock, serialize_lock, write_lock
from catalog_gen.lock.model import LockedModel, ModelLock, WantedModel
from catalog_gen.lock.registry import RegistryClient
from catalog_gen.lock.resolve import (
    DEFAULT_CONCURRENCY,
    resolve_all,
    select_updates,
    stale_entries,
    unique_wanted,
)
from catalog_gen.problems import Report
from catalog_gen.sizing import human_bytes


def run_lock(
    lock_path: Path,
    wanted: Sequence[WantedModel],
    *,
    check: bool = False,
    offline: bool = False,
    update: Sequence[str] = (),
    client_factory: Callable[[], RegistryClient] = RegistryClient,
    out: TextIO,
    err: TextIO,
    display: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    output_format: str = "text",
) -> int:
    """`catalog-gen lock`: 0 done / up to date, 1 a model failed or the lock is stale, 2 usage.

    Problems go to ``err`` as text, or to ``out`` as JSON with ``output_format="json"`` (the same
    objects `catalog-gen validate --format json` prints).

    Default: resolve the models the lock lacks (and those whose registry changed), keep the other
    pins, drop pins the catalog no longer uses. ``update``: also re-resolve the named models.
    ``check``: change nothing; exit 1 when the lock lacks a model, pins an unused one, is not in
    canonical form, or (unless ``offline``) a tag now resolves to a different manifest.
    """
    shown = display or str(lock_path)
    # Usage first: a broken lock file must not hide a wrong command line (exit 2, not 1).
    usage = _usage_problem(check=check, offline=offline, update=update)
    if usage is not None:
        err.write(f"catalog-gen lock: {usage}\n")
        return 2
    report = Report()
    lock = load_lock(lock_path, report, shown)
    unique, conflicts = unique_wanted(wanted, shown)
    report.extend(conflicts)
    if not report.ok:
        _write_problems(report, output_format, out, err)
        return 1
    selected, unmatched = select_updates(update, unique.values())
    if unmatched:
        for name, why in unmatched:
            err.write(f"catalog-gen lock: --update {name}: {why}\n")
        return 2
    run = _Run(client_factory, out, err, shown, concurrency, output_format)
    if check:
        return _check(lock_path, lock, unique, offline=offline, run=run)
    return _pin(lock_path, lock, unique, selected, report, run=run)


@dataclass(frozen=True)
class _Run:
    """How this run talks to the registries and where it prints."""

    client_factory: Callable[[], RegistryClient]
    out: TextIO
    err: TextIO
    shown: str  # the lock file as messages name it
    concurrency: int
    output_format: str

    @property
    def notes(self) -> TextIO:
        """Where the human lines go: stdout, except with --format json, whose stdout holds the
        JSON problems alone (what tools parse)."""
        return self.err if self.output_format == "json" else self.out

    def done(self, report: Report) -> None:
        """A successful run's JSON: its problems (warnings, or none) on stdout."""
        if self.output_format == "json":
            self.out.write(report.format_json())


def _usage_problem(*, check: bool, offline: bool, update: Sequence[str]) -> str | None:
    if check and update:
        return "--check and --update cannot be combined"
    if offline and not check:
        return "--offline only goes with --check (pinning asks the registries)"
    return None


def _pin(
    lock_path: Path,
    lock: ModelLock | None,
    unique: Mapping[str, WantedModel],
    selected: set[str],
    report: Report,
    *,
    run: _Run,
) -> int:
    """Resolve what is missing, stale or selected; write the lock when every model resolved."""
    shown, out, err = run.shown, run.out, run.err
    locked = dict(lock.models) if lock else {}
    stale = {s.reference for s in stale_entries(lock, unique.values())}
    targets = [item for key, item in unique.items() if key in stale or key in selected]
    resolved: dict[str, LockedModel] = {}
    if targets:
        with run.client_factory() as client:
            resolved, problems = resolve_all(
                targets, client, fallback_path=shown, concurrency=run.concurrency
            )
        _note_blob_origins(client, run.notes)
        if problems:
            report.extend(problems)
            _write_problems(report, run.output_format, out, err)
            err.write(f"{shown} left unchanged: {len(problems)} model(s) could not be resolved\n")
            return 1
    new_models = {key: resolved.get(key) or locked[key] for key in sorted(unique)}
    try:
        written = write_lock(lock_path, ModelLock(new_models))
    except OSError as error:
        err.write(f"catalog-gen lock: cannot write {shown}: {error.strerror or error}\n")
        return 1  # the file system refused: the environment, not a bug
    _print_changes(resolved, locked, unique, run.notes)
    summary = f"{shown}: {len(new_models)} model(s), {'written' if written else 'unchanged'}\n"
    run.notes.write(summary)
    run.done(report)
    return 0


def _note_blob_origins(client: RegistryClient, notes: TextIO) -> None:
    """Where each registry's blobs came from after a redirect to another origin: the pods' pulls
    download every blob there, which a NetworkPolicy that names the registry alone does not let
    them reach (docs/security.md, "Restrictive mode")."""
    for (scheme, registry), origins in sorted(client.blob_origins.items()):
        for blob_scheme, where in sorted(origins):
            notes.write(
                f"note: {scheme}://{registry} serves its blobs from {blob_scheme}://{where} (a "
                "redirect the pods' pulls follow): where a NetworkPolicy limits their egress "
                "(an environment's networkPolicy.registryCIDRs and registryPorts), allow that "
                "host and port too, or every pull there fails\n"
            )


def _print_changes(
    resolved: Mapping[str, LockedModel],
    locked: Mapping[str, LockedModel],
    unique: Mapping[str, WantedModel],
    out: TextIO,
) -> None:
    for key in sorted(resolved):
        entry, previous = resolved[key], locked.get(key)
        if previous is None:
            verb = "locked"
        elif previous.digest != entry.digest:
            verb = f"updated (was {previous.digest[:12]})"
        else:
            verb = "unchanged"
        out.write(f"{verb} {key} {entry.digest[:12]} {human_bytes(entry.total_size)}\n")
    for key in sorted(set(locked) - set(unique)):
        out.write(f"removed {key} (no longer in the catalog)\n")


def _check(
    lock_path: Path,
    lock: ModelLock | None,
    unique: Mapping[str, WantedModel],
    *,
    offline: bool,
    run: _Run,
) -> int:
    """--check: change nothing; every way the lock differs from the catalog (and the
    registries) is a problem."""
    shown = run.shown
    report = Report()
    hint = "run `catalog-gen lock`"
    if lock is None:
        report.add(shown, 0, 0, "$", "the lock does not exist", hint=hint)
    lines = lock.lines if lock else {}
    for stale in stale_entries(lock, unique.values()):
        line = lines.get(stale.reference, 0)
        origin = unique[stale.reference].origin if stale.reference in unique else None
        if not line and origin is not None:  # not in the lock: at the leaf line that names it
            where = (origin.path, origin.line, origin.column, origin.json_path)
        else:
            where = (shown, line, 1 if line else 0, "$.models")
        report.add(*where, f"{stale.reference}: {stale.reason}", hint=hint)
    if lock is not None and lock_path.read_bytes() != serialize_lock(lock).encode("utf-8"):
        report.add(
            shown,
            0,
            0,
            "$",
            "lock is not in the form catalog-gen writes (edited by hand?)",
            hint=hint,
        )
    if not offline and lock is not None:
        with run.client_factory() as client:
            _compare_with_registries(
                lock, unique, client, report, shown=shown, concurrency=run.concurrency
            )
    if report.problems:
        _write_problems(report, run.output_format, run.out, run.err)
        return 1
    run.notes.write(f"{shown} is up to date ({len(unique)} model(s))\n")
    run.done(report)
    return 0


def _compare_with_registries(
    lock: ModelLock,
    unique: Mapping[str, WantedModel],
    client: RegistryClient,
    report: Report,
    *,
    shown: str,
    concurrency: int,
) -> None:
    """--check online: every pin against what its registry serves now."""
    lines = lock.lines
    hint = "run `catalog-gen lock`"
    current = [item for key, item in unique.items() if key in lock.models]
    resolved, problems = resolve_all(current, client, fallback_path=shown, concurrency=concurrency)
    report.extend(problems)
    for key, entry in sorted(resolved.items()):
        pinned = lock.models[key]
        if entry.digest != pinned.digest:
            report.add(
                shown,
                lines.get(key, 0),
                1,
                "$.models",
                f"{key}: the tag moved: locked {pinned.digest[:12]}, the registry now serves "
                f"{entry.digest[:12]}",
                hint=f"run `catalog-gen lock --update {key}`",
            )
        elif replace(entry, registry=pinned.registry) != pinned:
            # (a registry reached over another scheme is its own problem: stale_entries)
            report.add(
                shown,
                lines.get(key, 0),
                1,
                "$.models",
                f"{key}: recorded sizes or facts differ from the registry's",
                hint=hint,
            )


def _write_problems(report: Report, output_format: str, out: TextIO, err: TextIO) -> None:
    if output_format == "json":
        out.write(report.format_json())
    else:
        err.write(report.format_text())
