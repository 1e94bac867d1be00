"""The generator's layout shows the pipeline: imports only go down the stages, no import cycle,
no function longer than a screen.

Stages, lowest first (README "Map of the code"): the vocabulary every stage shares (the top-level
modules problems, models, fields, references, sizing, digests) < load < lock < check < plan < emit
< write < diff < cache < snapshot < scaffold < cli. A module may import its own stage and the
stages below it, never one above; nothing imports the CLI. Every import counts: module level,
inside functions and under TYPE_CHECKING alike.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "catalog_gen"
STAGES = (
    "",
    "load",
    "lock",
    "check",
    "plan",
    "emit",
    "write",
    "diff",
    "cache",
    "snapshot",
    "scaffold",
    "cli",
)
VOCABULARY = {"__init__", "problems", "models", "fields", "references", "sizing", "digests"}
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> str:
    """The stage of catalog_gen.X[.Y]: X for a stage package or module, "" for the vocabulary."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in VOCABULARY:
        return ""
    if parts[1] == "__main__":
        return "cli"
    assert parts[1] in STAGES, f"{module} belongs to no stage: add it to STAGES or VOCABULARY"
    return parts[1]


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every catalog_gen module path imports, wherever the import is."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "catalog_gen":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            if node.module.split(".")[0] != "catalog_gen":
                continue
            for alias in node.names:  # `from catalog_gen.x import y`: y may be a module
                candidate = f"{node.module}.{alias.name}"
                known = candidate in MODULES
                yield node.lineno, candidate if known else node.module


SOURCES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(path): path for path in SOURCES}
GRAPH = {module_name(path): {target for _, target in imports(path)} for path in SOURCES}


def test_every_module_is_in_a_stage() -> None:
    assert {stage(module) for module in MODULES} == set(STAGES)


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(path) for path in SOURCES])
def test_imports_only_go_down_the_stages(path: Path) -> None:
    importer = module_name(path)
    wrong = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {importer} ({stage(importer) or 'vocabulary'}) "
        f"imports {target} ({stage(target) or 'vocabulary'})"
        for line, target in imports(path)
        if STAGES.index(stage(target)) > STAGES.index(stage(importer))
        or (stage(target) == "cli" and importer != "catalog_gen.__main__")
    ]
    assert not wrong, "\n".join(wrong)


def test_the_vocabulary_imports_only_itself() -> None:
    for module, targets in GRAPH.items():
        if stage(module) == "":
            assert all(stage(target) == "" for target in targets), module


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of graph, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycle() -> None:
    found = cycle(GRAPH)
    assert found is None, " -> ".join(found or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def long_functions(source: str, limit: int) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function or method longer than limit lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                found.append((node.name, node.lineno, lines))
    return found


def test_the_length_check_sees_a_long_function() -> None:
    body = "".join(f"    x{index} = {index}\n" for index in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}", MAX_FUNCTION_LINES) == [
        ("f", 1, MAX_FUNCTION_LINES + 1)
    ]
    assert long_functions("def f():\n    pass\n", MAX_FUNCTION_LINES) == []


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(path) for path in SOURCES])
def test_no_function_is_longer_than_a_screen(path: Path) -> None:
    found = long_functions(path.read_text(encoding="utf-8"), MAX_FUNCTION_LINES)
    assert not found, "\n".join(
        f"{path.relative_to(REPO_ROOT)}:{line}: {name} has {lines} lines "
        f"(at most {MAX_FUNCTION_LINES}: split it into named steps)"
        for name, line, lines in found
    )
