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
        return text


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)

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
        return not self.errors

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
