"""Integers in chart values as helm 3 and helm 4 hold them: JSON numbers, 64-bit floats, whatever
the values file says. catalog-gen refuses a chartValues integer exactly when helm does not render
it back unchanged, both where the chart converts it with `int` (terminationGracePeriodSeconds)
and where it copies it with toYaml (extraVolumes): the bound is 2^53 (check/rules.py
HELM_EXACT_INTEGER)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog_gen.check.rules import check_helm_numbers
from catalog_gen.load.document import parse_document
from catalog_gen.problems import Report
from tests.chart.conftest import pod_spec, render
from tests.support.kube import HelmError, select

INTEGERS = (
    2**53,
    -(2**53),
    2**53 + 1,  # rounded to 2^53
    -(2**53) - 1,
    2**63 - 1,  # rounded to 2^63: toYaml writes 9223372036854776000, `int` -2^63
    2**63,
    -(2**63),  # `int` keeps it, toYaml writes -9.223372036854776e+18 (a float)
    99999999999999999999,
)


def _rendered(helm: Path, value: int, tmp_path: Path) -> list[Any]:
    """The value as helm renders it: through toYaml, and through `int` where the schema allows."""
    volume = {"name": "extra", "secret": {"secretName": "s", "defaultMode": value}}
    values: dict[str, Any] = {"extraVolumes": [volume]}
    # terminationGracePeriodSeconds has minimum 0 and maximum 2^53 (what helm holds exactly:
    # test_a_larger_integer_is_refused_where_the_chart_converts_it)
    through_int = 0 <= value <= 2**53
    if through_int:
        values["terminationGracePeriodSeconds"] = value
    (workload,) = select(render(helm, values, tmp_path), "Deployment")
    spec = pod_spec(workload)
    (copied,) = (item for item in spec["volumes"] if item["name"] == "extra")
    found = [copied["secret"]["defaultMode"]]
    if through_int:
        found.append(spec["terminationGracePeriodSeconds"])
    return found


def _accepted(value: int) -> bool:
    report = Report()
    raw = f"chartValues: {{terminationGracePeriodSeconds: {value}}}\n".encode()
    document = parse_document(raw, Path("svc.yaml"), "svc.yaml", report)
    assert document is not None
    check_helm_numbers(document, ("chartValues",), document.data["chartValues"], report)
    return report.ok


@pytest.mark.parametrize("value", INTEGERS, ids=str)
def test_catalog_gen_accepts_an_integer_exactly_when_helm_renders_it_unchanged(
    helm: Path, tmp_path: Path, value: int
) -> None:
    rendered = _rendered(helm, value, tmp_path)
    unchanged = all(type(item) is int and item == value for item in rendered)
    assert _accepted(value) == unchanged, rendered


@pytest.mark.parametrize("text", ["1.0e+19", "-1.0e+19", "9.1e+15", "1.5e+300"])
def test_a_whole_number_written_as_a_float_is_bounded_as_an_integer(
    helm: Path, tmp_path: Path, text: str
) -> None:
    """JSON Schema's integer and the chart's `int` take 1.0e+19 as the integer it is: helm wraps
    it to -2^63 like the integer written out, and catalog-gen refuses both alike."""
    value = float(text)
    report = Report()
    raw = f"chartValues: {{terminationGracePeriodSeconds: {text}}}\n".encode()
    document = parse_document(raw, Path("svc.yaml"), "svc.yaml", report)
    assert document is not None
    check_helm_numbers(document, ("chartValues",), document.data["chartValues"], report)
    assert [problem.message.split(" is an integer")[0] for problem in report.errors] == [
        repr(value)
    ]
    if value > 2**53:  # the schema's maximum: once rendered through `int` as -2^63
        with pytest.raises(HelmError, match="maximum"):
            render(helm, {"terminationGracePeriodSeconds": value}, tmp_path)


@pytest.mark.parametrize("value", [2**53 + 2, 2**63, 99999999999999999999])
def test_a_larger_integer_is_refused_where_the_chart_converts_it(
    helm: Path, tmp_path: Path, value: int
) -> None:
    """Where the chart converts a value with `int`, one beyond 2^53 was rendered rounded or as
    -2^63 (which the API server refuses); the schema's maximum refuses it now, naming it. (2^53
    + 1 reaches helm as 2^53 already: only catalog-gen, which reads the text, can refuse it.)"""
    with pytest.raises(HelmError) as failure:
        render(helm, {"terminationGracePeriodSeconds": value}, tmp_path)
    assert "at '/terminationGracePeriodSeconds': maximum" in failure.value.stderr
