"""Building throwaway catalogs and running the CLI in-process for the generator's tests."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.check.chart_templates import ChartTemplates, TemplateMessage
from catalog_gen.cli import main
from catalog_gen.lock.model import LockedModel
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "leaves"
FIXTURE_ENVIRONMENTS = FIXTURES / "environments"
CHART = REPO_ROOT / "charts" / "ollama-inference-load"


def chart_schema() -> dict[str, Any]:
    """The chart's values.schema.json, to change for a test."""
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


def chart_with_schema(directory: Path, schema: dict[str, Any]) -> Path:
    """directory as a chart for ChartContract.load: schema beside the chart's values.yaml."""
    (directory / "values.schema.json").write_text(json.dumps(schema))
    (directory / "values.yaml").write_text((CHART / "values.yaml").read_text())
    return directory


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def make_catalog(
    root: Path,
    files: Mapping[str, str] | None = None,
    *,
    overlay: Path | None = None,
    environments: Path = FIXTURE_ENVIRONMENTS,
) -> Path:
    """root/catalog with the fixture environments, an overlay directory and extra files."""
    catalog = root / "catalog"
    shutil.copytree(environments, catalog / "environments", dirs_exist_ok=True)
    if overlay is not None:
        shutil.copytree(overlay, catalog, dirs_exist_ok=True)
    for relative, text in (files or {}).items():
        path = catalog / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return catalog


FIXTURE_OWNER = (
    "# The Backstage owner of every service whose leaf names none (and its cost label team).\n"
    "owner: group:ml-platform\n"
)


def without_owner(catalog: Path, environment: str = "dev") -> None:
    """The catalog's copy of a fixture environment without its owner (FIXTURE_OWNER): its
    services whose leaf names none get no Backstage Component and no cost label team."""
    path = catalog / "environments" / f"{environment}.yaml"
    text = path.read_text(encoding="utf-8")
    assert FIXTURE_OWNER in text, path
    path.write_text(text.replace(FIXTURE_OWNER, ""), encoding="utf-8")


def helm_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many cases each `helm template` of the chart's template rules is given, from now on
    (the list grows as helm runs)."""
    sent: list[int] = []
    real = ChartTemplates._run

    def counted(self: ChartTemplates, cases: list[str]) -> list[tuple[TemplateMessage, ...]]:
        sent.append(len(cases))
        return real(self, cases)

    monkeypatch.setattr(ChartTemplates, "_run", counted)
    return sent


def run_cli(root: Path, *arguments: str, chart: Path = CHART) -> Outcome:
    """catalog-gen ARGUMENTS run in root, with --chart pointing at the repository's chart."""
    args: Sequence[str] = list(arguments)
    if args and args[0] in ("validate", "render", "check", "lock", "new", "promote", "backstage"):
        args = [args[0], "--chart", str(chart), *args[1:]]
    out, err = io.StringIO(), io.StringIO()
    with working_directory(root):
        code = main(args, stdout=out, stderr=err)
    return Outcome(code, out.getvalue(), err.getvalue())


LEAF_HEAD = """\
workloadType: OLLAMA_INFERENCE_LOAD
serviceName: {name}
serviceCatalog: ml-inference
namespace: {namespace}
environment: {environment}
"""


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    """script run by a fresh interpreter (what a module imports shows only in a new process);
    its output as text, its failure left to the caller to assert."""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )


def error_lines(text: str) -> list[str]:
    """The error lines of a command's problems (warnings left out)."""
    return [line for line in text.splitlines() if ": error: " in line]


def leaf(
    body: str = "model: phi:latest\n",
    *,
    name: str = "svc",
    namespace: str = "ml",
    environment: str = "dev",
) -> str:
    return LEAF_HEAD.format(name=name, namespace=namespace, environment=environment) + body


def pin(
    reference: str,
    digest_byte: str,
    *,
    weights: int = 2**30,
    total: int | None = None,
    parameter_size: str | None = None,
    quantization: str | None = None,
    registry: str = "https://registry.ollama.ai",
) -> LockedModel:
    """A hand-written lock entry: digest is digest_byte (two hex digits) repeated 32 times,
    totalSize defaults to the weights plus a 1 KiB template layer."""
    return LockedModel(
        reference=reference,
        registry=registry,
        digest=digest_byte * 32,
        total_size=weights + 1024 if total is None else total,
        model_size=weights,
        weights_size=weights,
        parameter_size=parameter_size,
        quantization=quantization,
    )


def default_sigint() -> None:
    """preexec_fn for a child that must see a Ctrl-C: one started from a background job (`cmd &`
    in a script) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler,
    so the tests of Ctrl-C would test nothing there."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


_WRITTEN = re.compile(r"\b\d+ of (\d+) (files?) written(?:, \d+ removed)?")
_LOCATION = re.compile(r"; (?:wrote (\S+)|(\S+) up to date)$", re.MULTILINE)


def written_aside(summary: str) -> str:
    """render's summary without how many files it wrote and removed ("3 of 9 files written" ->
    "9 files") or whether it wrote the root location: that depends on what the outputs held
    before, not on the catalog, so two runs that must agree on the rest may differ there."""
    return _LOCATION.sub(r"; \1\2", _WRITTEN.sub(r"\1 \2", summary))
