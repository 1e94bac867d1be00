"""catalog-gen: the command line.

Exit 0 ok, 1 invalid input (or stale output), 2 usage, an unsafe output target or internal error.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TextIO

from catalog_gen import EXIT_INTERRUPTED, INTERRUPTED, __version__, snapshot
from catalog_gen.cache import CACHE_DIR, InputsWatch, LeafCache, LeafChangedError
from catalog_gen.cache import default_directory as default_cache_directory
from catalog_gen.check.chart_contract import ChartContract, ChartContractError
from catalog_gen.check.chart_templates import ChartTemplateError
from catalog_gen.emit import SERVICE_EMITTERS, argocd, backstage, emit_service, render_tree
from catalog_gen.emit.checks import check_planned
from catalog_gen.emit.schema import SCHEMA_FILES, json_schema, schema_text
from catalog_gen.load.document import ENVIRONMENTS_DIR
from catalog_gen.lock.command import run_lock
from catalog_gen.lock.lockfile import load_lock_models
from catalog_gen.lock.model import REQUIRE_LOCK_HINT, Origin, WantedModel
from catalog_gen.lock.registry import RegistryConfig
from catalog_gen.models import CatalogLeaf
from catalog_gen.plan.parallel import JobsProcessError, default_jobs
from catalog_gen.plan.pipeline import CatalogInputs, CatalogPlan, load_inputs, plan_catalog
from catalog_gen.problems import Report, json_path
from catalog_gen.scaffold.leaf_file import CatalogAccess, ScaffoldUsageError
from catalog_gen.scaffold.new import NewLeaf, new_leaf, parse_place
from catalog_gen.scaffold.promote import promote
from catalog_gen.write.swap import JournalError
from catalog_gen.write.writer import (
    FileOutput,
    HeldOutputs,
    KnownFiles,
    Output,
    OutputBusyError,
    OutputError,
    ReadOnlyOutputError,
    TreeOutput,
    UnsafeOutputError,
    Written,
    check_targets,
    diff_tree,
    interrupted,
    locked,
    target_refusal,
    write_outputs,
    write_tree,
)
from catalog_gen.write.written import WriteRecord

if TYPE_CHECKING:
    # Imported by the command that needs it: every command pays for the imports at the top
    # (editors run `validate FILE` on each save), and diff's cost 9 ms.
    from catalog_gen.diff.command import DiffRequest

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
DEFAULT_CATALOG = "catalog"
DEFAULT_OUT = "generated"
DEFAULT_CHART = "charts/ollama-inference-load"
DEFAULT_SCHEMAS = "schemas"
DEFAULT_TEMPLATE = backstage.TEMPLATE_DIR
DEBUG_ENV = "CATALOG_GEN_DEBUG"

EPILOG = """\
examples:
  catalog-gen validate                       check every leaf under catalog/
  catalog-gen validate catalog/dev/ml-workloads/ollama-phi.yaml
                                             check one leaf (editors, pre-commit)
  catalog-gen validate --format json         problems as JSON for tools
  catalog-gen render                         write generated/, deploy/argocd/ and
                                             catalog-info.yaml (all or nothing)
  catalog-gen render --out /tmp/g --gitops-root /tmp/r
                                             the same three outputs elsewhere
  catalog-gen check                          exit 1 if any of them is stale (CI, pre-commit)
  catalog-gen schema                         rewrite schemas/*.schema.json from the models
  catalog-gen backstage                      rewrite the Backstage template from the leaf schema
  catalog-gen lock                           pin every model's digest in catalog/models.lock.yaml
  catalog-gen diff --base origin/main        the manifests that change against main, by service
  catalog-gen new dev/ml/my-llm --model llama3.2:3b --gpus 1 --host my-llm.example.com
                                             write a new leaf, checked with every rule first
  catalog-gen promote ml/my-llm --from dev --to prod
                                             copy a leaf into prod, adapted and checked there

problems print as  path:line:col: error: $.json.path: message
exit status: 0 ok, 1 invalid catalog, stale output or a file-system error (read-only,
permission, full disk, outputs locked too long), 2 usage, an output target holding what
catalog-gen did not write, or internal error, 130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes >= 1, got {text!r}")
    return jobs


def build_parser() -> argparse.ArgumentParser:
    common, cached, out = _shared_options()
    parser = _Parser(
        prog="catalog-gen",
        description="Validate Ollama inference catalog leaves and render Helm values.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"catalog-gen {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_catalog_commands(commands, common, cached, out)
    _add_file_commands(commands, common)
    _add_lock_command(commands, common)
    _add_diff_command(commands)
    _add_scaffold_commands(commands, common, cached)
    return parser


def _shared_options() -> tuple[_Parser, _Parser, _Parser]:
    """The option groups several commands share: the catalog's, the cache's, the outputs'."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--catalog",
        default=None,
        metavar="DIR",
        help=f"catalog directory (default: {DEFAULT_CATALOG}; for `validate FILE...`, the one "
        "holding the FILEs)",
    )
    common.add_argument(
        "--chart",
        metavar="DIR",
        help=f"chart whose values.schema.json the values must satisfy (default: {DEFAULT_CHART}, "
        "else the one beside the catalog directory)",
    )
    common.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="how problems are printed (default: text)",
    )
    cached = _Parser(add_help=False)
    cached.add_argument(
        "--no-cache",
        action="store_true",
        help=f"plan every leaf afresh: neither read nor write {CACHE_DIR}/ (the cache of "
        "unchanged leaves beside the catalog; the output is the same either way)",
    )
    cached.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="plan and emit the leaves the cache does not give (all with --no-cache) in N "
        "processes, and write a tree of 4,000 or more new files in N processes (render) "
        "(default: the CPUs this process may use; 1: in this process only); the output and "
        "the problems are the same, in the same order, whatever N is",
    )
    out = _Parser(add_help=False)
    out.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"generated tree: values, app.json and catalog-info.yaml per service "
        f"(default: {DEFAULT_OUT})",
    )
    out.add_argument(
        "--gitops-root",
        default=None,
        metavar="DIR",
        help=f"where the GitOps files go: DIR/{argocd.DEPLOY_DIR}/ (Argo CD) and "
        f"DIR/{backstage.ROOT_LOCATION_PATH} (Backstage Location) (default: the repository "
        "root, i.e. the catalog directory's parent)",
    )
    return common, cached, out


def _add_catalog_commands(
    commands: argparse._SubParsersAction[_Parser],
    common: _Parser,
    cached: _Parser,
    out: _Parser,
) -> None:
    """validate, render and check."""
    validate = commands.add_parser(
        "validate",
        parents=[common, cached],
        help="check leaves and environments, write nothing",
        description="Check the catalog (or only FILEs) and print every problem.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument(
        "files", nargs="*", metavar="FILE", help="leaf or environment files to check"
    )
    commands.add_parser(
        "render",
        parents=[common, cached, out],
        help="validate, then write the generated tree and the GitOps files",
        description="Validate, then write exactly three outputs and nothing else: the "
        f"generated tree (--out), GITOPS_ROOT/{argocd.DEPLOY_DIR}/ and "
        f"GITOPS_ROOT/{backstage.ROOT_LOCATION_PATH}. Each is built completely beside its "
        "place and renamed into it, all three or none: a failure leaves the previous outputs "
        "as they were.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands.add_parser(
        "check",
        parents=[common, cached, out],
        help="exit 1 when the generated tree or the GitOps files are stale",
        description="Validate, then compare the three outputs of render (--out, "
        f"GITOPS_ROOT/{argocd.DEPLOY_DIR}/, GITOPS_ROOT/{backstage.ROOT_LOCATION_PATH}) with "
        "what render would write.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_file_commands(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    """schema and backstage: files written from the models and the leaf schema."""
    schema = commands.add_parser(
        "schema",
        help="write the JSON schemas of leaves and environments",
        description="Write schemas/*.schema.json from the pydantic models.",
    )
    schema.add_argument(
        "--out",
        default=DEFAULT_SCHEMAS,
        metavar="DIR",
        help=f"where the schemas go (default: {DEFAULT_SCHEMAS})",
    )
    schema.add_argument("--check", action="store_true", help="exit 1 when they are stale")
    template = commands.add_parser(
        "backstage",
        parents=[common],
        help="write the Backstage software template from the leaf schema",
        description="Write the scaffolder Template and its skeleton: the form is the leaf "
        "schema, the environments are the catalog's.",
    )
    template.add_argument(
        "--out",
        default=DEFAULT_TEMPLATE,
        metavar="DIR",
        help=f"template directory (default: {DEFAULT_TEMPLATE})",
    )
    template.add_argument("--check", action="store_true", help="exit 1 when it is stale")


def _add_lock_command(commands: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    lock = commands.add_parser(
        "lock",
        parents=[common],
        help="pin model digests in <catalog>/models.lock.yaml",
        description="Resolve every model of the catalog on its registry and pin its digest.",
    )
    lock.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    lock.add_argument(
        "--offline", action="store_true", help="with --check: do not ask the registries"
    )
    lock.add_argument(
        "--update",
        action="append",
        default=[],
        metavar="NAME",
        help="re-resolve this model even if pinned (repeatable)",
    )


def _add_diff_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="the Kubernetes manifests that change between a git revision and the work tree",
        description="Plan the catalog at REF and in the work tree, render the chart of each side "
        "(with helm, as Argo CD does) for every service whose values, release, namespace or "
        "chart differ between the sides (the base's values are REF's committed values file "
        "where it has one: what Argo CD deploys), and print the manifest diff by kind and name. "
        "Nothing is written; exit 0 whether or not anything differs.",
    )
    diff.add_argument("--base", required=True, metavar="REF", help="git revision to compare with")
    diff.add_argument(
        "--catalog",
        default=DEFAULT_CATALOG,
        metavar="DIR",
        help=f"catalog directory (default: {DEFAULT_CATALOG})",
    )
    diff.add_argument("--chart", metavar="DIR", help=f"chart (default: {DEFAULT_CHART})")
    diff.add_argument(
        "--out",
        metavar="DIR",
        help=f"generated tree render writes (default: {DEFAULT_OUT}): a service's values file "
        "in it at REF, which Argo CD deploys, is the base side; the base catalog planned where "
        "REF has none",
    )
    diff.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="unified diffs (default), or a pull-request comment with GPU and memory deltas",
    )


def _add_scaffold_commands(
    commands: argparse._SubParsersAction[_Parser], common: _Parser, cached: _Parser
) -> None:
    """new and promote: a leaf written for the user once the whole catalog accepts it."""
    dry_run = _Parser(add_help=False)
    dry_run.add_argument(
        "--dry-run", action="store_true", help="print the leaf, check it, write nothing"
    )
    new = commands.add_parser(
        "new",
        parents=[common, cached, dry_run],
        help="write a new leaf, checked with every rule first",
        description="Write catalog/ENV/NAMESPACE/SERVICE.yaml with the given fields (the "
        "environment's defaults do the rest) once the catalog with it passes every rule; "
        "never overwrites a file.",
    )
    new.add_argument("place", metavar="ENV/NAMESPACE/SERVICE", help="where the leaf goes")
    new.add_argument("--model", required=True, metavar="M", help="the Ollama model to serve")
    new.add_argument("--gpus", type=int, metavar="N", help="GPUs per replica (0: CPU only)")
    exposure = new.add_mutually_exclusive_group()
    exposure.add_argument("--host", metavar="H", help="expose the service at this host")
    exposure.add_argument(
        "--expose", action="store_true", help="expose it at SERVICE.<the environment's baseDomain>"
    )
    new.add_argument("--owner", metavar="REF", help="Backstage owner (default: the environment's)")
    new.add_argument(
        "--service-catalog", metavar="NAME", help="Backstage system (default: NAMESPACE)"
    )
    new.add_argument("--description", metavar="TEXT", help="shown in Backstage")
    promoted = commands.add_parser(
        "promote",
        parents=[common, cached, dry_run],
        help="copy a leaf into another environment, adapted and checked there",
        description="Write the leaf of SERVICE in --from into --to's tree, with its "
        "environment-bound values adapted, once the catalog with it passes the target's rules; "
        "never overwrites a file.",
    )
    promoted.add_argument("service", metavar="[NAMESPACE/]SERVICE", help="the leaf to promote")
    promoted.add_argument(
        "--from", dest="source", required=True, metavar="ENV", help="the environment it is in"
    )
    promoted.add_argument(
        "--to", dest="target", required=True, metavar="ENV", help="the environment to copy it to"
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    keep_alive: list[object] | None = None,
) -> int:
    """Run one command; its exit status. keep_alive: a list the command's large objects (the
    catalog's plan, the cache, the report, check's walk of its outputs) are put in, for a
    caller that ends the process without freeing them (main_entry): freeing 10,000 leaves'
    objects one by one as the command returns costs 7 % of a render after a one-leaf edit."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        arguments = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        with _collector_paused():
            return _run(arguments, out, err, keep_alive if keep_alive is not None else [])
    except KeyboardInterrupt:
        err.write(INTERRUPTED)
        return EXIT_INTERRUPTED
    except (ChartContractError, ChartTemplateError, UnsafeOutputError, ScaffoldUsageError) as error:
        err.write(f"catalog-gen: {error}\n")
        return EXIT_USAGE
    except (
        OutputError,
        OutputBusyError,
        ReadOnlyOutputError,
        JournalError,
        JobsProcessError,
        LeafChangedError,
    ) as error:
        err.write(f"catalog-gen: {error}\n")  # the disk's or the machine's doing (a kill, OOM)
        return EXIT_INVALID
    except OSError as error:  # the machine refused: read-only, permissions, full disk
        where = f" {error.filename}" if error.filename is not None else ""
        err.write(f"catalog-gen: cannot access{where}: {error.strerror or error}\n")
        return EXIT_INVALID
    except Exception as error:  # the report covers bad input; this is a bug
        err.write(f"catalog-gen: internal error: {type(error).__name__}: {error}\n")
        if os.environ.get(DEBUG_ENV):
            import traceback  # noqa: PLC0415 - only for a bug, and only on request

            traceback.print_exc(file=err)
        else:
            err.write(f"(set {DEBUG_ENV}=1 for the traceback, and please report it)\n")
        return EXIT_USAGE


@contextmanager
def _collector_paused() -> Iterator[None]:
    """One command is a short batch whose objects (every leaf's plan) live until it ends: the
    cyclic garbage collector would walk all of them again and again as they pile up (half the
    CPU of a render after a one-leaf edit at 10,000 leaves). Paused for the command, restored
    after it (tests call main in-process)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def main_entry() -> None:
    # The command's objects die with the process: neither the cyclic collector (paused for the
    # command, _collector_paused) nor the interpreter's finalization walks them again at exit
    # (5 % of a render after a one-leaf edit at 10,000 leaves). Nothing else needs the exit:
    # files are closed, --jobs processes reaped, temporary folders removed by then.
    gc.disable()
    kept: list[object] = []  # held until os._exit: never freed one by one
    code = main(sys.argv[1:], keep_alive=kept)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: exit the usual way, which reports it as Python does
        sys.exit(code)
    os._exit(code)


def _diff_request(arguments: argparse.Namespace) -> DiffRequest:
    from catalog_gen.diff.command import DiffRequest  # noqa: PLC0415 - see TYPE_CHECKING

    return DiffRequest(
        arguments.base,
        Path(arguments.catalog),
        Path(arguments.chart or DEFAULT_CHART),
        os.path.normpath(arguments.catalog),
        arguments.format,
        Path(arguments.out) if arguments.out else None,
    )


def _run(arguments: argparse.Namespace, out: TextIO, err: TextIO, keep_alive: list[object]) -> int:
    command: str = arguments.command
    if command == "schema":
        return _schema(Path(arguments.out), check=arguments.check, out=out, err=err)
    if command == "diff":
        from catalog_gen.diff.command import run_diff  # noqa: PLC0415 - see TYPE_CHECKING

        return run_diff(_diff_request(arguments), out=out, err=err)
    files = [Path(name) for name in getattr(arguments, "files", [])]
    catalog_text = arguments.catalog or _catalog_of(files) or DEFAULT_CATALOG
    catalog = Path(catalog_text)
    display_root = os.path.normpath(catalog_text) if catalog_text else "."
    usage = _usage_problem(catalog, catalog_text, files)
    if usage is not None:
        err.write(f"catalog-gen: {usage}\n")
        return EXIT_USAGE
    arguments.chart = _chart_of(arguments.chart, catalog)
    watch = _inputs_watch(arguments, catalog)  # before the chart, environments and lock are read
    caching = watch is not None
    chart = ChartContract.load(Path(arguments.chart))
    report = Report()
    if command == "lock":
        return _lock(
            arguments, catalog=catalog, display_root=display_root, chart=chart, out=out, err=err
        )
    directory = default_cache_directory(catalog)
    # check walks the output tree while the cache is read and the catalog planned
    held = _hold_outputs(arguments, catalog, directory) if command == "check" and caching else None
    with held if held is not None else nullcontext():
        jobs = _jobs_of(arguments)
        cache = LeafCache(directory, complete=not files, jobs=jobs, watch=watch) if watch else None
        if command in ("new", "promote"):
            access = CatalogAccess(catalog, display_root, chart, load_lock_models, cache)
            return _scaffold_saved(arguments, access, cache, out, err)
        keep_alive += (cache, held)
        where = _Where(catalog, display_root, out, err)
        inputs = _inputs_to_reuse(arguments, where, chart, report, cache=cache, files=files)
        if inputs is not None and cache is not None:
            reused = snapshot.reuse(inputs, display_root, cache, report)
            if reused is not None:
                keep_alive.append(reused)
                return _render_reused(reused, report, cache, arguments, where, held=held)
        planned = plan_catalog(
            catalog,
            display_root,
            chart,
            report,
            only=files or None,
            lock_loader=load_lock_models,
            cache=cache,
            # backstage reads every plan: one process keeps them (a forked one does not)
            jobs=1 if command == "backstage" else _jobs_of(arguments),
            # render and check compare files: emitted where each leaf is planned afresh
            emit=emit_service if command in ("render", "check") else None,
            inputs=inputs,
        )
        keep_alive += (planned, report)
        return _finish(planned, report, cache, arguments, where, held=held)


def _inputs_watch(arguments: argparse.Namespace, catalog: Path) -> InputsWatch | None:
    """The inputs as the run finds them (cache.InputsWatch), for a command that caches."""
    if arguments.command in ("lock", "backstage") or arguments.no_cache:
        return None
    return InputsWatch(catalog, Path(arguments.chart))


@dataclass(frozen=True)
class _Where:
    """Where a planning command reads the catalog from and writes what it says."""

    catalog: Path
    display_root: str
    out: TextIO
    err: TextIO


def _finish(
    planned: CatalogPlan,
    report: Report,
    cache: LeafCache | None,
    arguments: argparse.Namespace,
    where: _Where,
    *,
    held: HeldOutputs | None,
) -> int:
    """What a planning command does with the plan: the emit-stage checks, the problems, and
    then backstage's, validate's, render's or check's work."""
    catalog, display_root, out, err = where.catalog, where.display_root, where.out, where.err
    check_planned(planned, report, cache)
    if not report.ok:
        _save(cache, err)
        return _print_problems(report, arguments.format, out, err)
    if arguments.command == "backstage":
        return _backstage(planned, report, arguments, out, err)
    _print_report(report, arguments.format, out)
    if arguments.command == "validate":
        _save(cache, err)
        err.write(f"catalog-gen: {_summary(planned)}: valid\n")
        return EXIT_OK
    return _render(planned, cache, arguments, catalog, err, display_root=display_root, held=held)


def _inputs_to_reuse(
    arguments: argparse.Namespace,
    where: _Where,
    chart: ChartContract,
    report: Report,
    *,
    cache: LeafCache | None,
    files: Sequence[Path],
) -> CatalogInputs | None:
    """Stages 1 and 2 of planning (plan/pipeline.py load_inputs), their problems in report,
    for a run that may reuse the last one (render or check of the whole catalog with the
    cache: snapshot.py); plan_catalog takes them as they are when it does not."""
    if cache is None or arguments.command not in ("render", "check") or files:
        return None
    return load_inputs(
        where.catalog, where.display_root, chart, report, lock_loader=load_lock_models
    )


def _render_reused(
    reused: snapshot.Reused,
    report: Report,
    cache: LeafCache,
    arguments: argparse.Namespace,
    where: _Where,
    *,
    held: HeldOutputs | None,
) -> int:
    """render or check from the last clean run and the leaves edited since (snapshot.py)."""
    _print_report(report, arguments.format, where.out)
    try:
        return _render_tree(
            reused.summary,
            reused.tree,
            reused.deploy,
            cache,
            arguments,
            catalog=where.catalog,
            err=where.err,
            held=held,
        )
    finally:
        if not cache.inputs_changed():
            reused.keep()
        _save(cache, where.err)


def _scaffold_saved(
    arguments: argparse.Namespace,
    catalog: CatalogAccess,
    cache: LeafCache | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """_scaffold, and the cache saved after it."""
    code = _scaffold(arguments, catalog, out, err)
    _save(cache, err)
    return code


def _save(cache: LeafCache | None, err: TextIO) -> None:
    """The cache saved, or why it was not."""
    if cache is None:
        return
    cache.save()
    if cache.inputs_changed():
        err.write(
            "catalog-gen: note: the chart, an environment file or the model lock changed while "
            "this run read them: nothing it planned was cached (run it again)\n"
        )


def _scaffold(
    arguments: argparse.Namespace, catalog: CatalogAccess, out: TextIO, err: TextIO
) -> int:
    """new or promote: the leaf written (0), or the problems that block it (1). With --dry-run
    the leaf goes to stdout and the problems to stderr."""
    report = Report()
    if arguments.command == "new":
        done = new_leaf(catalog, _new_request(arguments), report, dry_run=arguments.dry_run)
    else:
        done = promote(
            catalog,
            arguments.service,
            arguments.source,
            arguments.target,
            report,
            dry_run=arguments.dry_run,
        )
    for note in done.notes:
        err.write(f"catalog-gen: {arguments.command}: {note}\n")
    shown = out
    if arguments.dry_run and done.content:
        out.write(done.content.decode("utf-8"))
        shown = err
    if not report.ok or done.place is None:
        code = _print_problems(report, arguments.format, shown, err)
        if any(problem.hint == REQUIRE_LOCK_HINT for problem in report.problems):
            err.write(UNWRITTEN_LEAF_PIN.format(command=arguments.command))
        return code
    if arguments.format == "json":
        shown.write(report.format_json())
    elif report.problems:
        shown.write(report.format_text())
    what = "written" if done.written else "valid (--dry-run: nothing written)"
    err.write(f"catalog-gen: {done.place.display(catalog)}: {what}\n")
    return EXIT_OK


# `catalog-gen lock` pins the models of the leaves in the catalog, so the model of a leaf that
# requireLock keeps from being written has no pin yet: the steps that give it one.
UNWRITTEN_LEAF_PIN = (
    "catalog-gen: {command}: `catalog-gen lock` pins only the models of leaves already in the "
    "catalog: write this leaf with --dry-run into a file, move it into its place, run "
    "`catalog-gen lock` (which does not apply requireLock), then `catalog-gen validate` "
    "(docs/lifecycle.md)\n"
)


def _new_request(arguments: argparse.Namespace) -> NewLeaf:
    return NewLeaf(
        parse_place(arguments.place),
        arguments.model,
        gpus=arguments.gpus,
        host=arguments.host,
        expose=arguments.expose,
        owner=arguments.owner,
        service_catalog=arguments.service_catalog,
        description=arguments.description,
    )


def _jobs_of(arguments: argparse.Namespace) -> int:
    """--jobs, else the CPUs this process may use (plan/parallel.py)."""
    jobs: int | None = getattr(arguments, "jobs", None)
    return default_jobs() if jobs is None else jobs


def _chart_of(chart: str | None, catalog: Path) -> str:
    """--chart; without it, DEFAULT_CHART from the working directory, else beside the catalog
    directory (an editor that runs `validate FILE` in the leaf's folder)."""
    if chart is not None or Path(DEFAULT_CHART).is_dir():
        return chart or DEFAULT_CHART
    beside = catalog.resolve().parent / DEFAULT_CHART
    return os.path.relpath(beside) if beside.is_dir() else DEFAULT_CHART


def _usage_problem(catalog: Path, catalog_text: str, files: Sequence[Path]) -> str | None:
    """What is wrong with the catalog directory or the FILEs named, if anything."""
    if not catalog.is_dir():
        what = "is not a directory" if catalog.exists() else "not found"
        return f"catalog directory {catalog_text!r} {what} (see --catalog)"
    for path in files:
        if path.is_dir():
            return f"{path} is a directory: name leaf files, or no FILE to check the whole catalog"
        if not path.is_file():  # a device or FIFO (/dev/zero) is there, but no leaf
            return f"{path} is not a regular file" if path.exists() else f"{path}: no such file"
    return None


def _hold_outputs(
    arguments: argparse.Namespace, catalog: Path, cache_directory: Path
) -> HeldOutputs | None:
    """check with the cache and --jobs: the writers' locks taken now (shared) if free, and the
    walk of the generated tree started, so that it runs while the catalog is planned
    (write/writer.py HeldOutputs)."""
    if _jobs_of(arguments) < 2:
        return None
    target, deploy, location = _targets(arguments, catalog)
    targets = [target, location, *([deploy] if deploy.exists() else [])]
    return HeldOutputs.take(targets, target, WriteRecord(cache_directory))


def _targets(arguments: argparse.Namespace, catalog: Path) -> tuple[Path, Path, Path]:
    """The generated tree, the Argo CD folder and the root Location file."""
    gitops_root = Path(arguments.gitops_root) if arguments.gitops_root else catalog.parent
    return (
        Path(arguments.out),
        gitops_root / argocd.DEPLOY_DIR,
        gitops_root / backstage.ROOT_LOCATION_PATH,
    )


def _render(
    planned: CatalogPlan,
    cache: LeafCache | None,
    arguments: argparse.Namespace,
    catalog: Path,
    err: TextIO,
    *,
    display_root: str,
    held: HeldOutputs | None = None,
) -> int:
    """render (write the three outputs) or check (compare them) for a clean catalog. With the
    cache, the tree's files are known by their sha256 and only those written or compared are
    read (or emitted): the cache is saved after the writer is done with it, with the run's
    snapshot (snapshot.py) when it planned the whole catalog."""
    summary, deploy = _summary(planned), argocd.deploy_files(planned)
    if cache is None:
        files = KnownFiles.of(render_tree(planned))
        return _render_tree(summary, files, deploy, None, arguments, catalog=catalog, err=err)
    try:
        tree = cache.tree(planned, SERVICE_EMITTERS)
        if cache.complete and not cache.inputs_changed():
            snapshot.keep(cache, planned, display_root, deploy, summary)
        return _render_tree(
            summary, tree, deploy, cache, arguments, catalog=catalog, err=err, held=held
        )
    finally:
        _save(cache, err)


def _render_tree(
    summary: str,
    tree: Mapping[PurePosixPath, bytes],
    deploy_tree: Mapping[PurePosixPath, bytes],
    cache: LeafCache | None,
    arguments: argparse.Namespace,
    *,
    catalog: Path,
    err: TextIO,
    held: HeldOutputs | None = None,
) -> int:
    """_render's outputs written, or compared (check): the tree, deploy/argocd/ and the root
    Location."""
    target, deploy, location = _targets(arguments, catalog)
    location_bytes = backstage.root_location_bytes()
    outputs: list[Output] = [TreeOutput(target, tree)]
    # An environment without argocd has no files there: do not create an empty folder.
    if deploy_tree or deploy.exists():
        outputs.append(TreeOutput(deploy, deploy_tree))
    outputs.append(FileOutput(location, location_bytes))
    record = None if cache is None else WriteRecord(cache.directory)
    if held is not None:  # the record its walk compared
        record = held.record
    if arguments.command == "check":
        return _check(
            outputs,
            summary,
            err,
            record,
            held=held,
            command=_writing_command(arguments, "render", DEFAULT_OUT),
        )
    protected = [catalog, Path(arguments.chart)]
    # deploy/ is reserved even when no environment writes there: nothing else may go inside it.
    written = {output.path for output in outputs}
    check_targets(outputs if deploy in written else [*outputs, TreeOutput(deploy, {})], protected)
    changes = write_outputs(outputs, protected=protected, record=record, jobs=_jobs_of(arguments))
    counts = [
        f"{os.path.normpath(output.path)}: {_written_text(changes[output.path], len(output.files))}"
        for output in outputs
        if isinstance(output, TreeOutput)
    ]
    location_text = "wrote {}" if changes[location].files else "{} up to date"
    counts.append(location_text.format(os.path.normpath(location)))
    err.write(f"catalog-gen: {summary}: {'; '.join(counts)}\n")
    return EXIT_OK


def _written_text(written: Written, total: int) -> str:
    """What render changed in a tree of total files: it leaves unchanged files where they are."""
    text = f"{written.files} of {total} file{'' if total == 1 else 's'} written"
    return f"{text}, {written.removed} removed" if written.removed else text


def _check(
    outputs: Sequence[Output],
    summary: str,
    err: TextIO,
    record: WriteRecord | None = None,
    *,
    held: HeldOutputs | None = None,
    command: str = "catalog-gen render",
) -> int:
    """Compare render's outputs with what is on disk, under the writers' lock (shared: held
    since before planning, when it covers every target); files render last wrote and nobody
    touched since are not read (record, write/written.py)."""
    stale = False
    targets = [output.path for output in outputs]
    if held is not None and not held.covers(targets):
        held.close()
        held = None
    with locked(targets, exclusive=False) if held is None else nullcontext():
        for journal, problem in interrupted(targets):
            err.write(
                f"catalog-gen: {problem}\n"
                if problem is not None
                else f"{os.path.normpath(journal)}: a render was interrupted while replacing "
                f"its outputs: run `{command}` to complete it\n"
            )
            stale = True
        for output in outputs:
            display = os.path.normpath(output.path)
            if (refusal := target_refusal(output)) is not None:
                err.write(_refused(display, refusal, "render"))
                stale = True
            elif isinstance(output, TreeOutput):
                difference = diff_tree(output.path, output.files, display, record, held=held)
                if not difference.clean:
                    err.write(difference.summary(display, command=command))
                    stale = True
            elif not output.path.is_file() or output.path.read_bytes() != output.content:
                err.write(f"{display} is stale: run `{command}`\n")
                stale = True
    if stale:
        return EXIT_INVALID
    shown = [os.path.normpath(target) for target in targets]
    err.write(f"catalog-gen: {summary}: {', '.join(shown[:-1])} and {shown[-1]} are up to date\n")
    return EXIT_OK


def _writing_command(arguments: argparse.Namespace, command: str, default_out: str) -> str:
    """The command that writes what check (or backstage --check) compared, with the options
    this run was given that place or shape it (a hint that leaves out --out writes elsewhere)."""
    words = ["catalog-gen", command]
    given = [
        ("--catalog", arguments.catalog, None),
        ("--chart", arguments.chart, DEFAULT_CHART),
        ("--out", arguments.out, default_out),
        ("--gitops-root", getattr(arguments, "gitops_root", None), None),
    ]
    for option, value, default in given:
        if value is not None and value != default:
            words += [option, shlex.quote(str(value))]
    return " ".join(words)


def _refused(display: str, refusal: str, command: str) -> str:
    """check's line for a target that `catalog-gen command` refuses to replace as it is."""
    return (
        f"{display}: {refusal}; `catalog-gen {command}` refuses to replace it until it is moved "
        "away\n"
    )


def _backstage(
    planned: CatalogPlan,
    report: Report,
    arguments: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    leaf_schema = json_schema(CatalogLeaf, "catalog-leaf.schema.json")
    files = backstage.template_tree(
        leaf_schema, planned.environments, planned.environment_documents, report, planned.plans
    )
    if files is None:
        return _print_problems(report, arguments.format, out, err)
    _print_report(report, arguments.format, out)
    target = Path(arguments.out)
    display = os.path.normpath(arguments.out)
    if arguments.check:
        if (refusal := target_refusal(TreeOutput(target, files))) is not None:
            err.write(_refused(display, refusal, "backstage"))
            return EXIT_INVALID
        difference = diff_tree(target, files, display)
        if difference.clean:
            err.write(f"catalog-gen: {display} is up to date\n")
            return EXIT_OK
        err.write(
            difference.summary(
                display, command=_writing_command(arguments, "backstage", DEFAULT_TEMPLATE)
            )
        )
        return EXIT_INVALID
    write_tree(target, files, [Path(arguments.catalog or DEFAULT_CATALOG), Path(arguments.chart)])
    err.write(f"catalog-gen: wrote {len(files)} files to {display}\n")
    return EXIT_OK


def _catalog_of(files: Sequence[Path]) -> str | None:
    """The catalog holding the FILEs, when they all name the same one: three levels up from a
    leaf (<catalog>/<env>/<namespace>/<service>.yaml), two from an environment file. None (the
    default catalog) unless that directory has environments/: a file outside any catalog must
    not make the file-system root the catalog."""
    if not files:
        return None
    roots = {
        os.path.normpath(
            path.parent / ".."
            # the folder's own name, also for a file named from inside it (`dev.yaml`)
            if Path(os.path.abspath(path)).parent.name == ENVIRONMENTS_DIR
            else path.parent / ".." / ".."
        )
        for path in files
    }
    if len(roots) != 1:
        return None
    root = roots.pop()
    return root if (Path(root) / ENVIRONMENTS_DIR).is_dir() else None


def _print_report(report: Report, output_format: str, out: TextIO) -> None:
    """The report's problems (of a clean report: its warnings), text or JSON."""
    if output_format == "json":
        out.write(report.format_json())
    elif report.problems:
        out.write(report.format_text())


def _print_problems(report: Report, output_format: str, out: TextIO, err: TextIO) -> int:
    """The problems of a report with errors, and how many errors: exit 1."""
    _print_report(report, output_format, out)
    count = len(report.errors)
    err.write(f"catalog-gen: {count} problem{'s' if count != 1 else ''} found\n")
    return EXIT_INVALID


def _summary(planned: CatalogPlan) -> str:
    services = len(planned.services)
    environments = len(planned.environments)
    return (
        f"{services} service{'s' if services != 1 else ''} in {environments} "
        f"environment{'s' if environments != 1 else ''}"
    )


def _schema(directory: Path, *, check: bool, out: TextIO, err: TextIO) -> int:
    stale: list[FileOutput] = []
    for file_name, model in sorted(SCHEMA_FILES.items()):
        path = directory / file_name
        content = schema_text(model, file_name).encode("utf-8")
        if not path.is_file() or path.read_bytes() != content:
            stale.append(FileOutput(path, content))
    if check:
        for output in stale:
            err.write(f"{output.path} is stale: run `catalog-gen schema`\n")
        return EXIT_INVALID if stale else EXIT_OK
    if stale:
        write_outputs(stale, protected=[Path(DEFAULT_CATALOG), Path(DEFAULT_CHART)])
    for output in stale:
        out.write(f"wrote {output.path}\n")
    return EXIT_OK


def _lock(
    arguments: argparse.Namespace,
    *,
    catalog: Path,
    display_root: str,
    chart: ChartContract,
    out: TextIO,
    err: TextIO,
) -> int:
    report = Report()
    # The lock is what requireLock asks for, so it is not required here.
    planned = plan_catalog(catalog, display_root, chart, report, enforce_lock=False)
    if not report.ok:
        return _print_problems(report, arguments.format, out, err)
    wanted: list[WantedModel] = []
    for plan in planned.plans:
        for model in plan.models:
            line, column = plan.document.position(model.source)
            wanted.append(
                WantedModel(
                    reference=model.reference,
                    registry=RegistryConfig(insecure=model.insecure),
                    origin=Origin(plan.document.display, line, column, json_path(model.source)),
                )
            )
    lock_display = os.path.join(display_root, "models.lock.yaml")
    return run_lock(
        catalog / "models.lock.yaml",
        wanted,
        check=arguments.check,
        offline=arguments.offline,
        update=arguments.update,
        out=out,
        err=err,
        display=lock_display,
        output_format=arguments.format,
    )
