"""The rules across leaves (plan/across.py): a clash between leaves is symmetric, so it is an
error at every leaf involved, each naming the others; `validate FILE`, which keeps one leaf's
problems, then sees it whichever of the leaves it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli

HOST = "model: phi\ningress: {enabled: true, host: chat.example.com}\n"
CLAIM = "model: phi\ncache: {mode: sharedPVC, existingClaim: models}\n"


def test_a_host_three_services_route_is_an_error_at_each_naming_the_others(
    tmp_path: Path,
) -> None:
    make_catalog(
        tmp_path,
        {f"dev/ml/{name}.yaml": leaf(HOST, name=name) for name in ("a", "b", "c")},
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        f"catalog/dev/ml/{name}.yaml:7:32: error: $.ingress.host: host 'chat.example.com' is "
        f"also used by catalog/dev/ml/{one}.yaml (service ml/{one}), catalog/dev/ml/{two}.yaml "
        f"(service ml/{two}); hosts are unique per environment"
        for name, one, two in (("a", "b", "c"), ("b", "a", "c"), ("c", "a", "b"))
    ]


def test_validate_file_reports_a_host_clash_at_the_leaf_that_sorts_first(tmp_path: Path) -> None:
    make_catalog(
        tmp_path, {"dev/ml/a.yaml": leaf(HOST, name="a"), "dev/ml/b.yaml": leaf(HOST, name="b")}
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache", "catalog/dev/ml/a.yaml")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/a.yaml:7:32: error: $.ingress.host: host 'chat.example.com' is also "
        "used by catalog/dev/ml/b.yaml (service ml/b); hosts are unique per environment"
    ]


def test_validate_file_reports_a_shared_claim_at_the_leaf_that_sorts_first(
    tmp_path: Path,
) -> None:
    make_catalog(
        tmp_path,
        {"dev/ml/a.yaml": leaf(CLAIM, name="a"), "dev/ml/b.yaml": leaf(CLAIM, name="b")},
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache", "catalog/dev/ml/a.yaml")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/a.yaml:7:41: error: $.cache.existingClaim: claim 'models' (access modes "
        '["ReadWriteOnce"]) is also used by catalog/dev/ml/b.yaml; a single-attach volume '
        "cannot serve two services"
    ]


@pytest.mark.parametrize(
    ("claim", "clash"),
    [
        ("models-zz-3", True),  # the StatefulSet is named by the fullnameOverride, not the leaf
        ("models-zz-0", True),
        ("models-zz-007", False),  # the controller writes the ordinal as %d: never zero-padded
        ("models-store-0", False),  # the service's own name: not its StatefulSet's
        ("models-zz-x", False),
    ],
)
def test_a_per_replica_claim_of_another_service_is_an_error_at_both_leaves(
    tmp_path: Path, claim: str, clash: bool
) -> None:
    """models-<StatefulSet>-<ordinal> of another service's per-replica cache: its replica's pod
    mounts it already (Multi-Attach; two servers on one model store)."""
    replicas = "model: phi\ncache: {mode: perReplica}\nchartValues: {fullnameOverride: zz}\n"
    user = f"model: phi\ncache: {{mode: sharedPVC, existingClaim: {claim}}}\n"
    make_catalog(
        tmp_path,
        {"dev/ml/store.yaml": leaf(replicas, name="store"), "dev/ml/b.yaml": leaf(user, name="b")},
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    errors = error_lines(outcome.stdout)
    if not clash:
        assert (outcome.code, errors) == (0, []), outcome.stdout
        return
    assert outcome.code == 1
    assert [line.split(": error: ")[0] for line in errors] == [
        "catalog/dev/ml/b.yaml:7:41",
        "catalog/dev/ml/store.yaml:7:15",
    ]
    assert (
        f"claim '{claim}' belongs to a replica of the per-replica StatefulSet of service ml/store"
        in errors[0]
    )


def test_a_claim_the_chart_creates_for_another_service_is_an_error_at_both_leaves(
    tmp_path: Path,
) -> None:
    """An existingClaim naming the claim the chart creates for another service of the
    namespace (<fullname>-models, check/names.py) passed: the creating release owns it, so
    removing that service deleted the other's store. An error at the creator's cache.mode and
    the user's cache.existingClaim, whatever the access modes; `validate FILE` sees it at
    either leaf. Another namespace's claim of that name is another claim."""
    shared = "  accessModes: [ReadWriteMany]\n"
    creator = "model: phi\ncache:\n  mode: sharedPVC\n" + shared
    creator += "chartValues: {fullnameOverride: store}\n"
    user = "model: phi\ncache:\n  mode: sharedPVC\n  existingClaim: store-models\n" + shared
    make_catalog(
        tmp_path,
        {
            "dev/ml/a.yaml": leaf(creator, name="a"),
            "dev/ml/b.yaml": leaf(user, name="b"),
            "dev/other/c.yaml": leaf(user, name="c", namespace="other"),
        },
    )
    at_a = (
        "catalog/dev/ml/a.yaml:8:9: error: $.cache.mode: claim 'store-models', which the chart "
        "creates for this service, is also used by catalog/dev/ml/b.yaml (cache.existingClaim); "
        "a created claim belongs to its service's release (removing the service, renaming it "
        "or changing its cache deletes it with the models): the other service needs a claim of "
        "its own"
    )
    at_b = (
        "catalog/dev/ml/b.yaml:9:18: error: $.cache.existingClaim: claim 'store-models' is the "
        "one the chart creates for service ml/a (catalog/dev/ml/a.yaml); its release owns the "
        "claim and deletes it with the models when that service is removed, renamed or changes "
        "its cache: use a claim no service creates"
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [at_a, at_b]
    for path, line in (("catalog/dev/ml/a.yaml", at_a), ("catalog/dev/ml/b.yaml", at_b)):
        outcome = run_cli(tmp_path, "validate", "--no-cache", path)
        assert outcome.code == 1
        assert error_lines(outcome.stdout) == [line]


def test_a_service_defined_twice_in_a_namespace_is_an_error_at_both_leaves(
    tmp_path: Path,
) -> None:
    # a.yaml names itself b (a path error of its own): both leaves define ml/b.
    make_catalog(
        tmp_path,
        {"dev/ml/a.yaml": leaf(name="b"), "dev/ml/b.yaml": leaf(name="b")},
    )
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    clashes = [line for line in error_lines(outcome.stdout) if "also defined" in line]
    assert clashes == [
        "catalog/dev/ml/a.yaml:2:14: error: $.serviceName: service 'b' is also defined in "
        "namespace 'ml' by catalog/dev/ml/b.yaml; a service is defined once per namespace",
        "catalog/dev/ml/b.yaml:2:14: error: $.serviceName: service 'b' is also defined in "
        "namespace 'ml' by catalog/dev/ml/a.yaml; a service is defined once per namespace",
    ]


def test_a_route_without_hostnames_on_the_shared_gateway_is_an_error(tmp_path: Path) -> None:
    """Gateway API: an HTTPRoute without hostnames matches every host of its listener that no
    other route claims, so `chartValues.httpRoute.hostnames: []` took the other services'
    traffic and escaped the uniqueness rule (found by a differential review: both helms and
    the API server accept it). The chart's own Gateway serves its service alone."""
    body = HOST + "chartValues:\n  httpRoute:\n    hostnames: []\n"
    make_catalog(tmp_path, {"dev/ml/a.yaml": leaf(body, name="a")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/a.yaml:10:16: error: $.chartValues.httpRoute.hostnames: the HTTPRoute "
        "has no hostnames: on a shared Gateway it would take every host of the listener that no "
        "other route claims (other services' traffic); list this service's hosts, or leave "
        "httpRoute.hostnames to the leaf's ingress keys"
    ]
    own = HOST + (
        "chartValues:\n  httpRoute:\n    hostnames: []\n    parentRefs: []\n"
        "  gateway: {enabled: true, className: eg}\n"
    )
    (tmp_path / "catalog/dev/ml/a.yaml").write_text(leaf(own, name="a"))
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 0, outcome.stdout
