"""Problems found in the catalog, collected into one report instead of raised one at a time.

Every stage adds Problems to a Report; the CLI prints the whole report and picks the exit code.
Text form: ``path:line:col: error: $.json.path: message`` (sorted, deduplicated), the format
compilers and editors already understand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import SupportsIndex, overload


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


JsonPathPart = str | int


def json_path(parts: Sequence[JsonPathPart]) -> str:
    """['container', 'resources', 0] -> '$.container.resources[0]'."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and not part[:1].isdigit():
            text += f".{part}"
        else:
            text += "[" + json.dumps(part) + "]"
    return text


@dataclass(frozen=True, order=True)
class Problem:
    """One finding. line and column are 1-based; 0 means the file as a whole."""

    path: str
    line: int
    column: int
    json_path: str
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = field(default=None, compare=False)

    def format(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.json_path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        # One problem, one line: a file name holding a line break (or another control
        # character) would otherwise split it, or forge a line of its own.
        return printable(text)


def printable(text: str) -> str:
    """text as one line of plain text: each character that is not printable (a line break, an
    ANSI escape) shown as its escape, not acted on by a terminal or a log reader."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class ProblemList(list[Problem]):
    """A list of Problems that keeps count of its errors as it changes: `error_count` is O(1),
    so a stage can ask "did I add an error?" once per service without rescanning the report."""

    def __init__(self, problems: Iterable[Problem] = ()) -> None:
        super().__init__(problems)
        self.error_count = _count_errors(self)

    def append(self, problem: Problem) -> None:
        super().append(problem)
        self.error_count += problem.severity is Severity.ERROR

    def extend(self, problems: Iterable[Problem]) -> None:
        added = list(problems)
        super().extend(added)
        self.error_count += _count_errors(added)

    def __iadd__(self, problems: Iterable[Problem]) -> ProblemList:  # type: ignore[override, misc]
        self.extend(problems)
        return self

    def insert(self, index: SupportsIndex, problem: Problem) -> None:
        super().insert(index, problem)
        self.error_count += problem.severity is Severity.ERROR

    @overload
    def __setitem__(self, index: SupportsIndex, value: Problem) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[Problem]) -> None: ...
    def __setitem__(self, index: SupportsIndex | slice, value: object) -> None:
        if isinstance(index, slice):
            super().__setitem__(index, list(value))  # type: ignore[call-overload]
            self.error_count = _count_errors(self)
            return
        assert isinstance(value, Problem)  # the overloads say so
        replaced = self[index]
        super().__setitem__(index, value)
        self.error_count += (value.severity is Severity.ERROR) - (
            replaced.severity is Severity.ERROR
        )

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        super().__delitem__(index)
        self.error_count = _count_errors(self)

    def pop(self, index: SupportsIndex = -1) -> Problem:
        problem = super().pop(index)
        self.error_count -= problem.severity is Severity.ERROR
        return problem

    def remove(self, problem: Problem) -> None:
        super().remove(problem)
        self.error_count -= problem.severity is Severity.ERROR

    def clear(self) -> None:
        super().clear()
        self.error_count = 0


def _count_errors(problems: Iterable[Problem]) -> int:
    return sum(1 for problem in problems if problem.severity is Severity.ERROR)


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=ProblemList)

    def __post_init__(self) -> None:
        if not isinstance(self.problems, ProblemList):
            self.problems = ProblemList(self.problems)

    @property
    def error_count(self) -> int:
        """How many errors the report holds, in O(1) (warnings do not count)."""
        if not isinstance(self.problems, ProblemList):  # replaced by a plain list
            self.problems = ProblemList(self.problems)
        return self.problems.error_count

    def add(
        self,
        path: str,
        line: int,
        column: int,
        where: Sequence[JsonPathPart] | str,
        message: str,
        *,
        severity: Severity = Severity.ERROR,
        hint: str | None = None,
    ) -> None:
        location = where if isinstance(where, str) else json_path(where)
        self.problems.append(Problem(path, line, column, location, message, severity, hint))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.sorted() if p.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        """No error (counted, not sorted: a report may hold a warning per leaf)."""
        return self.error_count == 0

    def sorted(self) -> list[Problem]:
        return sorted(set(self.problems), key=_sort_key)

    def format_text(self) -> str:
        return "".join(problem.format() + "\n" for problem in self.sorted())

    def format_json(self) -> str:
        return json.dumps([asdict(p) for p in self.sorted()], indent=2, sort_keys=True) + "\n"


def _sort_key(problem: Problem) -> tuple[str, int, int, str, str, str]:
    return (
        problem.path,
        problem.line,
        problem.column,
        problem.json_path,
        problem.severity,
        problem.message,
    )
