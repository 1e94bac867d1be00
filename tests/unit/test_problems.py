"""Report.error_count: O(1), and right whatever changes the list of problems."""

from __future__ import annotations

import dataclasses

from catalog_gen.problems import Problem, ProblemList, Report, Severity


def problem(severity: Severity = Severity.ERROR, line: int = 1) -> Problem:
    return Problem("leaf.yaml", line, 1, "$", "message", severity)


def recount(report: Report) -> int:
    return sum(1 for item in report.problems if item.severity is Severity.ERROR)


def test_error_count_follows_every_change_of_the_list() -> None:
    report = Report()
    report.add("leaf.yaml", 1, 1, "$", "an error")
    report.add("leaf.yaml", 2, 1, "$", "a warning", severity=Severity.WARNING)
    report.extend([problem(line=3), problem(Severity.WARNING, 4)])
    report.problems += [problem(line=5)]
    report.problems.insert(0, problem(line=6))
    assert report.error_count == recount(report) == 4
    report.problems[-1] = dataclasses.replace(report.problems[-1], severity=Severity.WARNING)
    assert report.error_count == recount(report) == 3
    report.problems[0] = problem(Severity.WARNING)
    assert report.error_count == recount(report) == 2
    report.problems[:] = [item for item in report.problems if item.line != 3]
    assert report.error_count == recount(report) == 1
    del report.problems[0]
    assert report.error_count == recount(report) == 1
    report.problems.remove(next(p for p in report.problems if p.severity is Severity.ERROR))
    assert report.error_count == recount(report) == 0
    report.problems.append(problem())
    assert report.problems.pop().severity is Severity.ERROR
    assert report.error_count == 0
    report.extend([problem(), problem()])
    report.problems.clear()
    assert report.error_count == 0


def test_a_report_made_from_a_plain_list_counts_it() -> None:
    report = Report([problem(), problem(Severity.WARNING)])
    assert isinstance(report.problems, ProblemList)
    assert report.error_count == 1
    report.problems = [problem(), problem()]
    assert report.error_count == 2
    assert not report.ok


def test_a_problem_is_one_line_whatever_its_file_name_holds() -> None:
    """A file named `x\\nDEV: error: forged line x.yaml` split its problems over two lines, the
    second looking like a problem of its own (an error-reporting review)."""
    problem = Problem("catalog/dev/ml/x\nDEV: error: forged.yaml", 3, 14, "$.serviceName", "m")
    assert (
        problem.format()
        == "catalog/dev/ml/x\\nDEV: error: forged.yaml:3:14: error: $.serviceName: m"
    )
    assert Problem("catalog/dev/ml/é.yaml", 1, 1, "$", "ü").format() == (
        "catalog/dev/ml/é.yaml:1:1: error: $: ü"
    )
