"""cli.py: commands, exit codes, output formats and paths as the user typed them."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from catalog_gen import EXIT_INTERRUPTED, INTERRUPTED
from catalog_gen.cli import main
from catalog_gen.lock.lockfile import write_lock
from catalog_gen.lock.model import ModelLock
from tests.conftest import REPO_ROOT
from tests.unit.helpers import (
    CHART,
    default_sigint,
    error_lines,
    leaf,
    make_catalog,
    pin,
    run_cli,
    run_python,
    working_directory,
)


def test_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert (
        "catalog-gen validate catalog/dev/ml-workloads/ollama-phi.yaml" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "argv", [[], ["frobnicate"], ["render", "--bogus"], ["validate", "--format", "xml"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_catalog_or_file_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "validate", "--catalog", "nowhere").code == 2
    make_catalog(tmp_path)
    assert run_cli(tmp_path, "validate", "catalog/dev/ml/none.yaml").code == 2


def test_missing_chart_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "validate", chart=tmp_path / "no-chart")
    assert outcome.code == 2
    assert "cannot read the chart" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_validate_file_finds_the_chart_beside_the_catalog_from_the_leafs_folder(
    tmp_path: Path,
) -> None:
    # An editor runs `validate FILE` in the leaf's folder: the catalog was found from the FILE,
    # the chart's default only in the working directory (exit 2).
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf("model: phi:latest\n")})
    shutil.copytree(CHART, tmp_path / "charts" / "ollama-inference-load")
    out, err = io.StringIO(), io.StringIO()
    with working_directory(tmp_path / "catalog" / "dev" / "ml"):
        code = main(["validate", "svc.yaml"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "valid" in err.getvalue()
    # Given, --chart means the working directory's, even spelled like the default.
    with working_directory(tmp_path / "catalog" / "dev" / "ml"):
        code = main(["validate", "--chart", "charts/ollama-inference-load", "svc.yaml"])
    assert code == 2


def test_render_then_check_is_clean_and_drift_is_reported(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    assert run_cli(tmp_path, "render").code == 0
    assert run_cli(tmp_path, "check").code == 0
    (catalog / "dev/ml/svc.yaml").write_text(leaf("model: phi:3.8b\n"))
    (catalog / "dev/ml/new.yaml").write_text(leaf(name="new"))
    drift = run_cli(tmp_path, "check")
    assert drift.code == 1
    assert "  changed: generated/dev/ml/svc/values.yaml" in drift.stderr
    assert "  added:   generated/dev/ml/new/values.yaml" in drift.stderr
    assert '+  name: "phi:3.8b"' in drift.stderr


def test_invalid_catalog_writes_nothing_and_keeps_the_old_tree(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    assert run_cli(tmp_path, "render").code == 0
    before = (tmp_path / "generated/dev/ml/svc/values.yaml").read_bytes()
    (catalog / "dev/ml/svc.yaml").write_text(leaf("model: phi\ncolour: red\n"))
    (catalog / "dev/ml/other.yaml").write_text(leaf(name="other"))
    outcome = run_cli(tmp_path, "render")
    assert outcome.code == 1
    errors = error_lines(outcome.stdout)
    assert len(errors) == 1
    assert errors[0].startswith("catalog/dev/ml/svc.yaml:7:1: error: $.colour:")
    assert (tmp_path / "generated/dev/ml/svc/values.yaml").read_bytes() == before
    assert not (tmp_path / "generated/dev/ml/other").exists()


def test_render_leaves_the_catalog_and_chart_untouched(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    before = {path: path.read_bytes() for path in catalog.rglob("*") if path.is_file()}
    assert run_cli(tmp_path, "render", "--out", "out/tree").code == 0
    after = {path: path.read_bytes() for path in catalog.rglob("*") if path.is_file()}
    assert after == before
    assert (tmp_path / "out/tree/dev/ml/svc/values.yaml").is_file()


def test_render_refuses_an_output_directory_holding_the_catalog(tmp_path: Path) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    outcome = run_cli(tmp_path, "render", "--out", ".")
    assert outcome.code == 2
    assert "refusing to replace" in outcome.stderr
    assert (tmp_path / "catalog/dev/ml/svc.yaml").is_file()


def test_validate_single_file_uses_its_catalog_and_the_path_as_typed(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf("model: phi\ncontainer: {replica: 1}\n"),
            "dev/ml/other.yaml": leaf("model: phi\nbogus: 1\n", name="other"),
        },
    )
    outcome = run_cli(tmp_path, "validate", "./catalog/dev/ml/svc.yaml")
    assert outcome.code == 1
    assert outcome.stdout == (
        "catalog/dev/ml/svc.yaml:7:13: error: $.container.replica: unknown key 'replica' "
        "(did you mean 'replicas'?)\n"
    )


def test_validate_a_file_outside_the_catalog(tmp_path: Path) -> None:
    make_catalog(tmp_path)
    (tmp_path / "loose.yaml").write_text(leaf())
    outcome = run_cli(tmp_path, "validate", "--catalog", "catalog", "loose.yaml")
    assert outcome.code == 1
    assert outcome.stdout.startswith(
        "loose.yaml:1:1: error: $: not a leaf of the catalog in catalog/:"
    )


@pytest.mark.parametrize("misplaced", ["dev/svc.yaml", "dev/ml/svc.yml", "dev/ml/deep/svc.yaml"])
def test_validate_a_misplaced_file_says_what_the_whole_catalog_says(
    tmp_path: Path, misplaced: str
) -> None:
    make_catalog(tmp_path, {misplaced: leaf()})
    whole = run_cli(tmp_path, "validate", "--no-cache")
    one = run_cli(tmp_path, "validate", "--no-cache", f"catalog/{misplaced}")
    assert whole.code == one.code == 1
    assert one.stdout == whole.stdout
    assert one.stdout.count(f"catalog/{misplaced}:") == 1


def test_validate_the_lock_checks_the_lock(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    (catalog / "models.lock.yaml").write_text("version: 1\nmodels: []\n")
    assert run_cli(tmp_path, "validate", "--no-cache", "catalog/models.lock.yaml").code == 0
    (catalog / "models.lock.yaml").write_text("version: 7\nmodels: []\n")
    whole = run_cli(tmp_path, "validate", "--no-cache")
    one = run_cli(tmp_path, "validate", "--no-cache", "catalog/models.lock.yaml")
    assert whole.code == one.code == 1
    lock_lines = [line for line in whole.stdout.splitlines() if "models.lock.yaml:" in line[:25]]
    assert one.stdout.splitlines() == lock_lines
    assert one.stdout.startswith("catalog/models.lock.yaml:1:")


def test_validate_a_file_outside_any_catalog_never_scans_above_it(tmp_path: Path) -> None:
    # Three levels up from /tmp/.../loose.yaml is near the file-system root: it used to become
    # the catalog (an internal error on /proc). Without environments/ there, the default holds.
    make_catalog(tmp_path)
    (tmp_path / "loose.yaml").write_text(leaf())
    outcome = run_cli(tmp_path, "validate", str(tmp_path / "loose.yaml"))
    assert outcome.code == 1, outcome.stderr
    assert outcome.stdout == (
        f"{tmp_path / 'loose.yaml'}:1:1: error: $: not a leaf of the catalog in catalog/: leaves "
        "live at catalog/<environment>/<namespace>/<serviceName>.yaml\n"
    )
    (tmp_path / "elsewhere").mkdir()
    outcome = run_cli(tmp_path / "elsewhere", "validate", str(tmp_path / "loose.yaml"))
    assert (outcome.code, outcome.stdout) == (2, "")
    assert "catalog directory 'catalog' not found (see --catalog)" in outcome.stderr


def test_validate_an_environment_file_checks_it_with_its_leaves(tmp_path: Path) -> None:
    make_catalog(
        tmp_path,
        {
            "dev/ml/a.yaml": leaf("model: phi\ngpu: {count: 3}\n", name="a"),
            "dev/ml/b.yaml": leaf("model: phi\ngpu: {count: 2}\n", name="b"),
        },
    )
    outcome = run_cli(tmp_path, "validate", "catalog/environments/dev.yaml")
    assert outcome.code == 1, outcome.stderr
    # The environment's own problems, the cross-leaf GPU budget included; not the leaves'
    # (their unpinned-model warnings).
    assert outcome.stdout == (
        "catalog/environments/dev.yaml:10:11: error: $.gpu.budget: services of environment "
        "'dev' request 5 GPUs (GPUs per pod x replicas), over the budget of 4; largest: ml/a 3, "
        "ml/b 2\n"
    )
    # Named from inside environments/ (an editor there), the file finds the same catalog.
    shutil.copytree(CHART, tmp_path / "charts" / "ollama-inference-load")
    out, err = io.StringIO(), io.StringIO()
    with working_directory(tmp_path / "catalog" / "environments"):
        chart = "../../charts/ollama-inference-load"
        code = main(["validate", "--chart", chart, "dev.yaml"], stdout=out, stderr=err)
    assert code == 1, err.getvalue()
    assert out.getvalue().startswith("../environments/dev.yaml:10:11: error: $.gpu.budget:")


def test_validate_a_symlinked_leaf_and_a_directory(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    (catalog / "shared.txt").write_text(leaf("model: phi\nbogus: 1\n"))
    (catalog / "dev" / "ml").mkdir(parents=True)
    (catalog / "dev" / "ml" / "svc.yaml").symlink_to(Path("..") / ".." / "shared.txt")
    outcome = run_cli(tmp_path, "validate", "catalog/dev/ml/svc.yaml")
    assert outcome.code == 1, outcome.stderr
    assert outcome.stdout.startswith("catalog/dev/ml/svc.yaml:7:1: error: $.bogus: unknown key")
    outcome = run_cli(tmp_path, "validate", "catalog/dev")
    assert (outcome.code, outcome.stdout) == (2, "")
    assert "catalog/dev is a directory: name leaf files" in outcome.stderr


def test_validate_a_file_that_is_no_regular_file_says_so(tmp_path: Path) -> None:
    """A device or a FIFO is there (it is no missing file) but is no leaf; usage, exit 2."""
    make_catalog(tmp_path)
    os.mkfifo(tmp_path / "fifo.yaml")
    for named in ("/dev/zero", "fifo.yaml"):
        outcome = run_cli(tmp_path, "validate", named)
        assert (outcome.code, outcome.stdout) == (2, ""), named
        assert outcome.stderr == f"catalog-gen: {named} is not a regular file\n"
    outcome = run_cli(tmp_path, "validate", "missing.yaml")
    assert outcome.stderr == "catalog-gen: missing.yaml: no such file\n"


@pytest.mark.parametrize(
    "command",
    ["validate", "validate FILE", "validate ABSOLUTE", "validate OTHER", "render", "check"],
)
def test_a_leaf_linking_out_of_the_catalog_is_refused_unread(tmp_path: Path, command: str) -> None:
    """Its target (any file on the machine: a credential) is neither quoted nor rendered; the
    error is at the link, for every command and however `validate` names it."""
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    (tmp_path / "credential").write_text("serviceName: SECRET_TOKEN\n")
    (catalog / "dev" / "ml" / "x.yaml").symlink_to(tmp_path / "credential")
    words = command.split()
    named = {
        "FILE": ["catalog/dev/ml/x.yaml"],
        "ABSOLUTE": [str(catalog / "dev" / "ml" / "x.yaml")],
        "OTHER": ["catalog/dev/ml/svc.yaml"],
    }
    outcome = run_cli(tmp_path, words[0], *[part for word in words[1:] for part in named[word]])
    if command == "validate OTHER":  # as any misplaced file: kept to the runs that name it
        assert outcome.code == 0, outcome.stdout
        return
    shown = named["ABSOLUTE"][0] if command == "validate ABSOLUTE" else "catalog/dev/ml/x.yaml"
    assert outcome.code == 1, outcome.stderr
    assert error_lines(outcome.stdout) == [
        f"{shown}:1:1: error: $: not read: a symbolic link to a file outside the catalog "
        "directory; catalog files are read only inside the catalog: move what it links to into "
        "the catalog (a link to a place inside the catalog is followed)"
    ]
    assert "SECRET_TOKEN" not in outcome.stdout + outcome.stderr
    assert not (tmp_path / "generated").exists()


def test_json_format_on_success_lists_only_warnings(tmp_path: Path) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    outcome = run_cli(tmp_path, "validate", "--format", "json")
    assert outcome.code == 0
    assert [(p["severity"], p["json_path"]) for p in json.loads(outcome.stdout)] == [
        ("warning", "$.model")
    ]


def test_json_format_with_every_model_pinned_is_an_empty_list(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    reference = "registry.ollama.ai/library/phi:latest"
    write_lock(catalog / "models.lock.yaml", ModelLock({reference: pin(reference, "ab")}))
    outcome = run_cli(tmp_path, "validate", "--format", "json")
    assert outcome.code == 0
    assert json.loads(outcome.stdout) == []


def test_schema_check_and_write(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "schema", "--out", "s", "--check").code == 1
    assert run_cli(tmp_path, "schema", "--out", "s").code == 0
    assert run_cli(tmp_path, "schema", "--out", "s", "--check").code == 0
    committed = REPO_ROOT / "schemas" / "catalog-leaf.schema.json"
    assert (tmp_path / "s/catalog-leaf.schema.json").read_bytes() == committed.read_bytes()


def test_internal_errors_exit_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import catalog_gen.cache
    import catalog_gen.cli

    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("boom")

    # The tree of files: render_tree without the cache, the cache's tree with it.
    monkeypatch.setattr(catalog_gen.cli, "render_tree", broken)
    monkeypatch.setattr(catalog_gen.cache.LeafCache, "tree", broken)
    for flags in (["--no-cache"], []):
        outcome = run_cli(tmp_path, "render", *flags)
        assert outcome.code == 2
        assert "internal error: KeyError" in outcome.stderr
        assert "Traceback" not in outcome.stderr


def test_a_killed_jobs_process_is_reported_in_one_line_as_the_machines_doing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --jobs process killed (the OOM killer, say) is neither a bug nor the disk's fault."""
    import catalog_gen.cli
    from catalog_gen.plan.parallel import JobsProcessError

    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})

    def killed(*args: object, **kwargs: object) -> object:
        raise JobsProcessError("a --jobs process was ended by signal 9 before its result")

    monkeypatch.setattr(catalog_gen.cli, "plan_catalog", killed)
    outcome = run_cli(tmp_path, "render", "--no-cache")
    assert outcome.code == 1
    assert outcome.stderr == (
        "catalog-gen: a --jobs process was ended by signal 9 before its result\n"
    )


def test_module_entry_point_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "catalog_gen", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("catalog-gen ")


# sitecustomize for a child Python: a real Ctrl-C (SIGINT) as the named module is first imported,
# raised in code run by exec (as in a dataclass being made: CPython then remembers it as unhandled
# and, at the exit of `python -m`, kills itself with SIGINT unless the process ends by os._exit).
INTERRUPT_AT = """\
import os, signal, sys


class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["CATALOG_GEN_TEST_INTERRUPT_AT"]:
            sys.meta_path.remove(self)
            exec("os.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10 ** 6): pass\\n")
        return None


sys.meta_path.insert(0, Interrupt())
"""


def console_script(directory: Path) -> Path:
    """The `catalog-gen` console script as an installer writes it from pyproject.toml."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module, function = project["project"]["scripts"]["catalog-gen"].split(":")
    path = directory / "catalog-gen"
    path.write_text(
        f"import sys\nfrom {module} import {function}\n"
        f"if __name__ == '__main__':\n    sys.exit({function}())\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("entry", ["module", "console-script"])
@pytest.mark.parametrize("module", ["catalog_gen.cli", "catalog_gen.plan.pipeline", "yaml"])
def test_a_ctrl_c_while_the_command_line_is_imported_ends_as_during_a_command(
    tmp_path: Path, entry: str, module: str
) -> None:
    """Importing the command line is most of a short command's time: a Ctrl-C then prints the
    interrupted line and exits 130, through either entry point, never a traceback."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(INTERRUPT_AT, encoding="utf-8")
    command = (
        [sys.executable, "-m", "catalog_gen"]
        if entry == "module"
        else [sys.executable, str(console_script(tmp_path))]
    )
    paths = [str(hook), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "CATALOG_GEN_TEST_INTERRUPT_AT": module,
    }
    result = subprocess.run(
        [*command, "validate"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=environment,
        preexec_fn=default_sigint,
    )
    assert (result.returncode, result.stderr) == (EXIT_INTERRUPTED, INTERRUPTED)


def test_the_entry_point_imports_nothing_before_it_can_catch_a_ctrl_c() -> None:
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import catalog_gen.__main__\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['catalog_gen', 'catalog_gen.__main__']\n"


@pytest.mark.parametrize("broken", [False, True])
def test_the_command_ends_with_its_whole_output_and_exit_status(
    tmp_path: Path, broken: bool
) -> None:
    """The console command ends with os._exit (cli.main_entry: nothing is freed object by
    object): its output, block-buffered into a file, is still whole, and its status kept."""
    files = {f"dev/ml/svc{index}.yaml": leaf(name=f"svc{index}") for index in range(40)}
    if broken:
        files["dev/ml/svc0.yaml"] = leaf("model: phi:latest\ngpu: {count: many}\n", name="svc0")
    make_catalog(tmp_path, files)
    out, err = tmp_path / "out.json", tmp_path / "err.txt"
    command = [sys.executable, "-m", "catalog_gen", "validate", "--chart", str(CHART)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run(
            [*command, "--format", "json"],
            stdout=stdout,
            stderr=stderr,
            check=False,
            cwd=tmp_path,
        ).returncode
    problems = json.loads(out.read_text(encoding="utf-8"))
    assert code == (1 if broken else 0), err.read_text(encoding="utf-8")
    unpinned = [problem for problem in problems if "not pinned" in problem["message"]]
    assert len(unpinned) == (39 if broken else 40)  # the broken leaf gets no further
    assert err.read_text(encoding="utf-8").endswith("\n")


def test_the_command_hands_its_large_objects_to_keep_alive(tmp_path: Path) -> None:
    """main_entry ends the process with the command's objects unfreed: main hands them over
    (the plan, the cache and the report), and the output is the same as without."""
    from catalog_gen.cache import LeafCache
    from catalog_gen.plan.pipeline import CatalogPlan
    from catalog_gen.problems import Report
    from tests.unit.helpers import working_directory

    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    kept: list[object] = []
    out, err = io.StringIO(), io.StringIO()
    with working_directory(tmp_path):
        code = main(["render", "--chart", str(CHART)], stdout=out, stderr=err, keep_alive=kept)
    assert code == 0, err.getvalue()
    assert {CatalogPlan, LeafCache, Report} <= {type(found) for found in kept}
    assert run_cli(tmp_path, "check").code == 0


def test_shipped_catalog_is_valid_and_generated_is_up_to_date() -> None:
    from catalog_gen.check.chart_contract import ChartContract
    from catalog_gen.emit import render_tree
    from catalog_gen.lock.lockfile import load_lock_models
    from catalog_gen.plan.pipeline import plan_catalog
    from catalog_gen.problems import Report
    from catalog_gen.write.writer import KnownFiles, diff_tree

    report = Report()
    planned = plan_catalog(
        REPO_ROOT / "catalog",
        "catalog",
        ChartContract.load(REPO_ROOT / "charts/ollama-inference-load"),
        report,
        lock_loader=load_lock_models,
    )
    assert report.ok, report.format_text()
    difference = diff_tree(
        REPO_ROOT / "generated", KnownFiles.of(render_tree(planned)), "generated"
    )
    assert difference.clean, difference.summary("generated")


def test_the_shipped_catalog_without_a_lock_warns_and_lock_check_names_every_model(
    tmp_path: Path,
) -> None:
    source = REPO_ROOT / "catalog"
    make_catalog(tmp_path, environments=source / "environments", overlay=source)
    assert not (tmp_path / "catalog/models.lock.yaml").exists()
    for command in ("validate", "render"):
        outcome = run_cli(tmp_path, command)
        assert outcome.code == 0, outcome.stdout + outcome.stderr
        lines = outcome.stdout.splitlines()
        assert len(lines) == 3
        assert all(": warning: " in line and "is not pinned" in line for line in lines)
    outcome = run_cli(tmp_path, "lock", "--check", "--offline")
    assert outcome.code == 1
    assert "the lock does not exist" in outcome.stderr
    for model in ("phi:latest", "llama3.2:3b", "nomic-embed-text:v1.5"):
        assert f"registry.ollama.ai/library/{model}: not in the lock" in outcome.stderr
    # Each at the leaf line that names it (where `validate` warns), not at the absent lock.
    assert (
        "catalog/dev/ml-workloads/ollama-phi.yaml:7:8: error: $.model: "
        "registry.ollama.ai/library/phi:latest: not in the lock"
    ) in outcome.stderr


def test_lock_check_prints_its_problems_as_json_on_request(tmp_path: Path) -> None:
    source = REPO_ROOT / "catalog"
    make_catalog(tmp_path, environments=source / "environments", overlay=source)
    text = run_cli(tmp_path, "lock", "--check", "--offline")
    outcome = run_cli(tmp_path, "lock", "--check", "--offline", "--format", "json")
    assert outcome.code == text.code == 1
    problems = json.loads(outcome.stdout)
    assert {p["message"] for p in problems} >= {
        "the lock does not exist",
        "registry.ollama.ai/library/phi:latest: not in the lock",
    }
    as_text = [
        f"{p['path']}:{p['line']}:{p['column']}: {p['severity']}: {p['json_path']}: {p['message']}"
        + (f" ({p['hint']})" if p["hint"] else "")
        for p in problems
    ]
    assert "".join(line + "\n" for line in as_text) == text.stderr


def test_a_clean_lock_check_prints_only_json_on_stdout(tmp_path: Path) -> None:
    # Tools parse stdout: the human "is up to date" line goes to stderr with --format json.
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    reference = "registry.ollama.ai/library/phi:latest"
    write_lock(catalog / "models.lock.yaml", ModelLock({reference: pin(reference, "ab")}))
    outcome = run_cli(tmp_path, "lock", "--check", "--offline", "--format", "json")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert json.loads(outcome.stdout) == []
    assert "catalog/models.lock.yaml is up to date (1 model(s))" in outcome.stderr
    text = run_cli(tmp_path, "lock", "--check", "--offline")
    assert text.stdout == "catalog/models.lock.yaml is up to date (1 model(s))\n"


def test_the_commands_load_the_registry_client_and_diff_only_when_they_run() -> None:
    """Every command pays for what the command line imports (an editor runs `validate FILE` on
    each save): the HTTP client only `lock` uses and what only `diff` uses are imported by
    them, where they run."""
    script = (
        "import sys\n"
        "import catalog_gen.cli\n"
        "late = {'http.client', 'ssl', 'catalog_gen.diff.command'}\n"
        "assert not late & set(sys.modules), sorted(late & set(sys.modules))\n"
        "from catalog_gen.lock.registry import RegistryClient\n"
        "RegistryClient().close()\n"
        "assert 'ssl' in sys.modules\n"
    )
    result = run_python(script)
    assert result.returncode == 0, result.stderr
