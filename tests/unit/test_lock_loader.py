"""The model lock is read by the leaves' safe loader: hostile YAML is refused, located, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.lock.lockfile import parse_lock
from catalog_gen.problems import Report
from tests.unit.helpers import leaf, make_catalog, run_cli

ENTRY = (
    "- reference: registry.ollama.ai/library/phi:latest\n"
    "  registry: https://registry.ollama.ai\n"
    f"  digest: {'ab' * 32}\n"
    "  totalSize: 10\n"
    "  modelSize: 9\n"
    "  weightsSize: 9\n"
)


def alias_bomb(levels: int) -> str:
    """Each level refers to the previous one ten times: 10**levels nodes once expanded."""
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"models: *a{levels - 1}")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (alias_bomb(9), 3, "YAML anchors and aliases are not allowed"),
    "one alias": (f"version: 1\nmodels: &m\n{ENTRY}other: *m\n", 9, "anchors and aliases"),
    "deep nesting": ("version: 1\nmodels: " + "[" * 100 + "]" * 100 + "\n", 2, "nested deeper"),
    "very deep nesting": ("version: 1\nmodels: " + "[" * 9000 + "]" * 9000 + "\n", 2, "nesting"),
    "int tag on text": (
        "version: !!int abc\nmodels: []\n",
        1,
        "tagged !!int but is not an integer",
    ),
    "python tag": ("version: 1\nmodels: !!python/object:os.system []\n", 2, "is not allowed"),
    "custom tag": ("version: !custom 1\nmodels: []\n", 1, "is not allowed"),
    "duplicate key": ("version: 1\nversion: 1\nmodels: []\n", 2, "duplicate key 'version'"),
    "merge key": ("version: 1\nmodels:\n- <<: {a: 1}\n", 3, "merge keys"),
    "binary": ("version: !!binary AAAA\nmodels: []\n", 1, "is not allowed"),
    "several documents": ("version: 1\n---\nversion: 1\n", 2, "several YAML documents"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_lock_yaml_is_refused_with_its_location(case: str) -> None:
    text, line, fragment = HOSTILE[case]
    report = Report()
    assert parse_lock(text.encode(), report, "catalog/models.lock.yaml") is None
    problem = report.problems[0]  # the bomb: its first 20 aliases, each where it stands
    assert len(report.problems) == (20 if case == "alias bomb" else 1)
    assert problem.path == "catalog/models.lock.yaml"
    assert problem.line == line, problem.format()
    assert fragment in problem.message, problem.format()
    assert "catalog-gen lock" in (problem.hint or "")


@pytest.mark.parametrize("command", ["validate", "render", "check"])
@pytest.mark.parametrize(
    "case", ["alias bomb", "very deep nesting", "int tag on text", "duplicate key"]
)
def test_every_command_reading_the_lock_exits_1_with_the_located_problem(
    tmp_path: Path, command: str, case: str
) -> None:
    root = tmp_path
    catalog = make_catalog(root, {"dev/ml/svc.yaml": leaf()})
    text, line, fragment = HOSTILE[case]
    (catalog / "models.lock.yaml").write_text(text)
    outcome = run_cli(root, command)
    assert outcome.code == 1, outcome.stderr
    assert f"catalog/models.lock.yaml:{line}:" in outcome.stdout
    assert fragment in outcome.stdout
    assert "internal error" not in outcome.stderr
    assert not (root / "generated").exists()


@pytest.mark.parametrize("command", ["validate", "render", "check", "lock"])
def test_a_lock_linking_out_of_the_catalog_is_not_read(tmp_path: Path, command: str) -> None:
    """As a leaf linking out (load/document.py): a lock whose link leaves the catalog is
    refused at its own place, its target never read nor quoted; `lock` writes no lock over it."""
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    secret = tmp_path / "credential"
    secret.write_text('{"auths": {"SECRET_TOKEN": 1}}\n')
    (catalog / "models.lock.yaml").symlink_to(secret)
    arguments = ["--check", "--offline"] if command == "lock" else []
    outcome = run_cli(tmp_path, command, *arguments)
    assert outcome.code == 1, outcome.stderr
    # `lock` writes its problems on stderr, the other commands on stdout.
    assert (outcome.stderr if command == "lock" else outcome.stdout).startswith(
        "catalog/models.lock.yaml:1:1: error: $: not read: a symbolic link to a file outside "
        "the catalog directory; catalog files are read only inside the catalog: move what it "
        "links to into the catalog (a link to a place inside the catalog is followed)\n"
    )
    assert "SECRET_TOKEN" not in outcome.stdout + outcome.stderr
    assert (catalog / "models.lock.yaml").is_symlink()
    assert not (tmp_path / "generated").exists()


def test_a_lock_size_out_of_bounds_fails_at_the_lock_not_in_the_outputs(tmp_path: Path) -> None:
    """A weightsSize no registry gives (above 1 PiB, above its own totalSize) once rendered a
    CPU leaf's memory as 93132257461547854Gi; it is the lock's error now, at its line."""
    catalog = make_catalog(
        tmp_path, {"dev/ml/svc.yaml": leaf("model: phi:latest\nresourcesPreset: auto\n")}
    )
    oversized = ENTRY.replace("totalSize: 10", "totalSize: 1000").replace(
        "weightsSize: 9", "weightsSize: 99999999999999999999999999"
    )
    (catalog / "models.lock.yaml").write_text(f"version: 1\nmodels:\n{oversized}")
    outcome = run_cli(tmp_path, "render")
    assert outcome.code == 1, outcome.stderr
    assert outcome.stdout.startswith(
        "catalog/models.lock.yaml:8:16: error: $.models[0].weightsSize: weightsSize "
        "99999999999999999999999999 is more than 1125899906842624 bytes (1 PiB): no model\n"
    )
    assert "Gi" not in outcome.stdout
    assert not (tmp_path / "generated").exists()
