"""The invariant, tested: every leaf catalog-gen accepts renders on helm 3.19 and 4.3, into
manifests the API server's own validation accepts (tools/apiserver-validate).

A seeded sample of cases drawn from the chart's own defaults and schema (tests/support/
differential.py); bench/differential.py runs thousands and prints the counts.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import helm_binary
from tests.support.differential import HELMS, Case, chart_env_names, draw_cases, judge

SEED = 14
SAMPLE = 90


def test_no_leaf_catalog_gen_accepts_is_refused_by_helm_or_the_api_server() -> None:
    helms = {version: helm_binary(version) for version in HELMS}
    names = chart_env_names(helms["3.19.0"])
    assert "OIL_SERVER_START_TIMEOUT_SECONDS" in names
    assert "OLLAMA_KEEP_ALIVE" in names
    verdicts = judge(draw_cases(names, SAMPLE, SEED), helms)
    assert verdicts.disagreements() == []
    # The sample exercises both sides: it is not all accepted, nor all refused.
    assert 0 < sum(verdicts.generator) < SAMPLE


def test_the_accepted_cases_custom_resources_pass_their_crds(shared_dir: Path) -> None:
    """The same sample, the custom resources (HTTPRoute, ReferenceGrant, ...) created from the
    real CRDs by the API server's apiextensions code, their CEL rules included."""
    helms = {version: helm_binary(version) for version in HELMS}
    cases = draw_cases(chart_env_names(helms["3.19.0"]), SAMPLE, SEED)
    verdicts = judge(cases, {"3.19.0": helms["3.19.0"]}, crd_dir=shared_dir / "crds")
    assert verdicts.disagreements() == []
    assert any(errors == [] for errors in verdicts.apiserver)


def test_the_issues_three_cases_are_refused_by_catalog_gen() -> None:
    helms = {version: helm_binary(version) for version in HELMS}
    cases = [
        Case(((("probes", "liveness", "timeoutSeconds"), 1),), through_leaf=False),
        Case(((("extraEnv",), [{"name": "OLLAMA_KEEP_ALIVE", "value": "5m"}]),), False),
        Case(
            ((("extraEnv",), [{"name": "OIL_SERVER_START_TIMEOUT_SECONDS", "value": "9"}]),), False
        ),
        Case(((("extraEnv",), [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]),), False),
    ]
    verdicts = judge(cases, helms)
    assert verdicts.generator == [False, False, False, True]
    assert verdicts.helm["4.3.1"][3] is True
