"""catalog-gen reports the chart's rule on HTTPRoute timeouts (templates/_validate.tpl: a
backendRequest longer than a non-zero request, which the Gateway API's CRD refuses) at the leaf
line that set the value, through helm, like the chart's other template rules; the chart's side
is tests/chart/test_route_timeouts.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli

ROUTED = "model: phi\ningress: {enabled: true}\n"
MESSAGE = (
    "$.chartValues.httpRoute.timeouts.backendRequest: httpRoute.timeouts.backendRequest is {} "
    "but httpRoute.timeouts.request is {}: the Gateway API refuses an HTTPRoute whose "
    "backendRequest timeout is longer than its request timeout"
)


def test_a_backend_request_longer_than_the_request_is_an_error_where_the_leaf_sets_it(
    tmp_path: Path,
) -> None:
    both = (
        "chartValues:\n  httpRoute:\n    timeouts:\n      request: 60s\n      backendRequest: 2m\n"
    )
    # Only backendRequest in the leaf: the chart's default request (600s) is the other side.
    alone = "chartValues: {httpRoute: {timeouts: {backendRequest: 20m}}}\n"
    make_catalog(
        tmp_path,
        {
            "dev/ml/both.yaml": leaf(ROUTED + both, name="both"),
            "dev/ml/alone.yaml": leaf(ROUTED + alone, name="alone"),
        },
    )
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 1
    first, second = error_lines(outcome.stdout)
    assert first.startswith("catalog/dev/ml/alone.yaml:8:54: error: ")
    assert MESSAGE.format("20m", "600s") in first
    assert second.startswith("catalog/dev/ml/both.yaml:12:23: error: ")
    assert MESSAGE.format("2m", "60s") in second
    assert "at most 60s" in second


@pytest.mark.parametrize(
    "body",
    [
        ROUTED + "chartValues: {httpRoute: {timeouts: {request: 0s, backendRequest: 2h}}}\n",
        ROUTED + "chartValues: {httpRoute: {timeouts: {request: 1h, backendRequest: 59m60s}}}\n",
        ROUTED + 'chartValues: {httpRoute: {timeouts: {request: "", backendRequest: 2h}}}\n',
        # No route (the leaf asks for none): nothing renders the timeouts.
        "model: phi\nchartValues: {httpRoute: {timeouts: {backendRequest: 2h}}}\n",
    ],
    ids=["zero-request", "equal", "no-request", "no-route"],
)
def test_timeouts_the_crd_accepts_are_valid(tmp_path: Path, body: str) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 0, outcome.stdout
    assert error_lines(outcome.stdout) == []
