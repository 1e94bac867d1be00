"""`catalog-gen promote`: the leaf copied into the target environment with its environment-bound
values adapted (and nothing else changed), checked with the target's rules on the whole catalog;
blocked promotions print exactly what blocks them and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.lock.lockfile import write_lock
from catalog_gen.lock.model import ModelLock
from catalog_gen.models import Environment
from catalog_gen.scaffold.promote import Change, adapted
from tests.conftest import REPO_ROOT
from tests.unit.helpers import error_lines, make_catalog, pin, run_cli

MIRROR = "ollama-mirror.internal.example:5000"
PHI = "catalog/dev/ml-workloads/ollama-phi.yaml"
RAG = "catalog/dev/support-assistant/support-rag.yaml"
PHI_REQUIRE_LOCK = (
    "catalog/prod/ml-workloads/ollama-phi.yaml:7:8: error: $.model: model "
    f"{MIRROR}/library/phi:latest is not pinned in catalog/models.lock.yaml, and environment "
    "'prod' requires every model to be (requireLock: true) (run `catalog-gen lock`)"
)
PHI_SCALE_TO_ZERO = (
    "catalog/prod/ml-workloads/ollama-phi.yaml:16:16: error: $.autoscaling.scaleToZero: "
    "environment 'prod' does not allow scale to zero (environments/prod.yaml: "
    "autoscaling.allowScaleToZero is false): the first request after an idle period would wait "
    "for a cold start; keep autoscaling.minReplicas running (remove scaleToZero) or allow it in "
    "the environment"
)


def real_catalog(root: Path, files: dict[str, str] | None = None) -> Path:
    """A copy of the repository's catalog (dev and prod environments, its dev leaves)."""
    return make_catalog(
        root, files, overlay=REPO_ROOT / "catalog", environments=REPO_ROOT / "catalog/environments"
    )


def pin_for_prod(catalog: Path, *names: str) -> None:
    models = {}
    for index, name in enumerate(names):
        reference = f"{MIRROR}/library/{name}"
        models[reference] = pin(reference, f"{index + 10}", registry=f"https://{MIRROR}")
    write_lock(catalog / "models.lock.yaml", ModelLock(models))


def always_on(leaf: Path) -> None:
    """The dev leaf without its scale to zero (prod does not allow it): a promotable leaf."""
    text = leaf.read_text(encoding="utf-8")
    kept = text.replace("  scaleToZero: {afterIdle: 30m}\n", "")
    assert kept != text
    leaf.write_text(kept, encoding="utf-8")


def leaf_text(name: str, namespace: str, body: str) -> str:
    return (
        f"workloadType: OLLAMA_INFERENCE_LOAD\nserviceName: {name}\nserviceCatalog: ml\n"
        f"namespace: {namespace}\nenvironment: dev\nmodel: phi:latest\n{body}"
    )


def test_a_model_missing_from_the_prod_lock_blocks_the_promotion(tmp_path: Path) -> None:
    catalog = real_catalog(tmp_path)
    outcome = run_cli(tmp_path, "promote", "ollama-phi", "--from", "dev", "--to", "prod")
    assert outcome.code == 1
    # Both blockers in one pass: the lock, and dev's scale to zero that prod does not allow.
    assert error_lines(outcome.stdout) == [PHI_REQUIRE_LOCK, PHI_SCALE_TO_ZERO]
    assert "catalog-gen: 2 problems found" in outcome.stderr
    assert not (catalog / "prod").exists()


def test_a_model_prod_has_not_pinned_is_promoted_by_the_documented_steps(tmp_path: Path) -> None:
    """docs/lifecycle.md: `lock` pins only the models of leaves in the catalog, so the leaf is
    written through a file of its own, then its model pinned (played here by writing the pin
    `catalog-gen lock` would write), then validated."""
    catalog = real_catalog(tmp_path)
    always_on(tmp_path / PHI)
    arguments = ("promote", "ml-workloads/ollama-phi", "--from", "dev", "--to", "prod")
    blocked = run_cli(tmp_path, *arguments, "--dry-run")
    assert blocked.code == 1
    assert error_lines(blocked.stderr) == [PHI_REQUIRE_LOCK]
    assert "`catalog-gen lock` pins only the models of leaves already in the catalog" in (
        blocked.stderr
    )
    target = catalog / "prod/ml-workloads/ollama-phi.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(blocked.stdout, encoding="utf-8")
    pin_for_prod(catalog, "phi:latest")
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0


def test_an_invalid_target_environment_blocks_the_promotion(tmp_path: Path) -> None:
    # Invalid, prod's rules (requireLock, no scale to zero) cannot run: the promotion must not
    # pass for want of them.
    catalog = real_catalog(tmp_path)
    prod = catalog / "environments" / "prod.yaml"
    text = prod.read_text(encoding="utf-8")
    prod.write_text(text + "bogusKey: 1\n", encoding="utf-8")
    outcome = run_cli(
        tmp_path, "promote", "ml-workloads/ollama-phi", "--from", "dev", "--to", "prod"
    )
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    line = len(text.splitlines()) + 1
    (error,) = error_lines(outcome.stdout)
    assert error.startswith(
        f"catalog/environments/prod.yaml:{line}:1: error: $.bogusKey: unknown key 'bogusKey'"
    )
    assert not (catalog / "prod").exists()


def test_a_clean_promotion_writes_the_adapted_leaf_and_the_catalog_validates(
    tmp_path: Path,
) -> None:
    catalog = real_catalog(tmp_path)
    always_on(tmp_path / PHI)
    pin_for_prod(catalog, "phi:latest")
    outcome = run_cli(
        tmp_path, "promote", "ml-workloads/ollama-phi", "--from", "dev", "--to", "prod"
    )
    assert outcome.code == 0, outcome.stdout
    source = (tmp_path / PHI).read_text(encoding="utf-8")
    expected = source.replace("\nenvironment: dev\n", '\nenvironment: "prod"\n')
    assert expected != source
    assert (catalog / "prod/ml-workloads/ollama-phi.yaml").read_text(encoding="utf-8") == expected
    assert "catalog-gen: promote: $.environment: 'dev' -> 'prod'\n" in outcome.stderr
    assert outcome.stderr.endswith("catalog/prod/ml-workloads/ollama-phi.yaml: written\n")
    # text.hypermedia.au is not under dev's baseDomain: kept, and said
    assert outcome.stdout == (
        "catalog/prod/ml-workloads/ollama-phi.yaml:9:32: warning: $.ingress.host: kept from "
        "dev: it is a host, and only hosts under dev's baseDomain (dev.inference.example.com) "
        "move; make sure it is right for 'prod'\n"
    )
    assert (tmp_path / PHI).read_text(encoding="utf-8") == source  # the source stays
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0


def test_hosts_move_to_the_target_base_domain_and_comments_stay(tmp_path: Path) -> None:
    catalog = real_catalog(tmp_path)
    pin_for_prod(catalog, "llama3.2:3b", "nomic-embed-text:v1.5")
    outcome = run_cli(tmp_path, "promote", "support-rag", "--from", "dev", "--to", "prod")
    assert outcome.code == 0, outcome.stdout
    source = (tmp_path / RAG).read_text(encoding="utf-8")
    expected = source.replace("\nenvironment: dev\n", '\nenvironment: "prod"\n').replace(
        "    - support-assistant.dev.inference.example.com\n",
        '    - "support-assistant.inference.example.com"\n',
    )
    promoted = catalog / "prod/support-assistant/support-rag.yaml"
    assert promoted.read_text(encoding="utf-8") == expected
    assert expected.count("\n# ") == source.count("\n# ") > 0
    assert (
        "catalog-gen: promote: $.gateway.additionalHostnames[0]: "
        "'support-assistant.dev.inference.example.com' -> "
        "'support-assistant.inference.example.com'\n" in outcome.stderr
    )
    assert outcome.stdout == (
        "catalog/prod/support-assistant/support-rag.yaml:40:17: warning: $.cache.storageClass: "
        "kept from dev: it names a StorageClass of dev's cluster; make sure it is right for "
        "'prod'\n"
    )
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0


def test_a_gpu_type_the_target_does_not_offer_blocks(tmp_path: Path) -> None:
    catalog = real_catalog(
        tmp_path, {"dev/ml/typed.yaml": leaf_text("typed", "ml", "gpu: {count: 1, type: l4}\n")}
    )
    pin_for_prod(catalog, "phi:latest")
    outcome = run_cli(tmp_path, "promote", "typed", "--from", "dev", "--to", "prod")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/prod/ml/typed.yaml:7:23: error: $.gpu.type: GPU type 'l4' is not offered by "
        "environment 'prod' (gpu.types: a100-80gb, l40s) (did you mean 'l40s'?)"
    ]
    assert not (catalog / "prod").exists()


def test_the_prod_gpu_budget_blocks(tmp_path: Path) -> None:
    prod_leaf = leaf_text("resident", "ml", "gpu: {count: 4}\n").replace("dev", "prod")
    catalog = real_catalog(
        tmp_path,
        {
            "prod/ml/resident.yaml": prod_leaf,
            "dev/ml/big.yaml": leaf_text("big", "ml", "gpu: {count: 4}\n"),
        },
    )
    pin_for_prod(catalog, "phi:latest")
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0
    outcome = run_cli(tmp_path, "promote", "big", "--from", "dev", "--to", "prod")
    assert outcome.code == 1
    # prod's defaults.replicas is 2: 4 x 2 + 4 x 2 GPUs, and prod spares 2 for rollouts
    assert error_lines(outcome.stdout) == [
        "catalog/environments/prod.yaml:22:11: error: $.gpu.budget: services of environment "
        "'prod' request 16 GPUs (GPUs per pod x replicas) plus gpu.surge 2 spare for rollouts = "
        "18, over the budget of 16; largest: "
        "ml/big 8, ml/resident 8"
    ]
    assert not (catalog / "prod/ml/big.yaml").exists()


def test_a_host_a_target_leaf_sorting_after_it_routes_blocks(tmp_path: Path) -> None:
    # The host is outside dev's baseDomain, so it is kept; prod's ml/b routes it already.
    body = "ingress: {enabled: true, host: chat.example.com}\n"
    prod_leaf = leaf_text("b", "ml", body).replace("dev", "prod")
    catalog = real_catalog(
        tmp_path, {"dev/ml/a.yaml": leaf_text("a", "ml", body), "prod/ml/b.yaml": prod_leaf}
    )
    pin_for_prod(catalog, "phi:latest")
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0
    outcome = run_cli(tmp_path, "promote", "ml/a", "--from", "dev", "--to", "prod")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [
        "catalog/prod/ml/a.yaml:7:32: error: $.ingress.host: host 'chat.example.com' is also "
        "used by catalog/prod/ml/b.yaml (service ml/b); hosts are unique per environment"
    ]
    assert not (catalog / "prod/ml/a.yaml").exists()


def test_an_existing_target_is_never_overwritten(tmp_path: Path) -> None:
    prod_leaf = (REPO_ROOT / PHI).read_text().replace("environment: dev", "environment: prod")
    catalog = real_catalog(tmp_path, {"prod/ml-workloads/ollama-phi.yaml": prod_leaf})
    outcome = run_cli(tmp_path, "promote", "ollama-phi", "--from", "dev", "--to", "prod")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/prod/ml-workloads/ollama-phi.yaml:1:1: error: $: already exists; `catalog-gen "
        "promote` never overwrites a leaf: edit it, or remove it and promote again"
    ]
    assert (catalog / "prod/ml-workloads/ollama-phi.yaml").read_text() == prod_leaf


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (("ollama-ph\udcffi", "--from", "dev", "--to", "prod"), "[NAMESPACE/]SERVICE"),
        (("ollama-phi", "--from", "d\udcffev", "--to", "prod"), "--from"),
        (("ollama-phi", "--from", "dev", "--to", "pr\udcffod"), "--to"),
    ],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error(
    tmp_path: Path, arguments: tuple[str, ...], option: str
) -> None:
    """An undecodable byte (a lone surrogate once Python decodes the argument) is named as the
    option it came in; --to once ended in an internal error."""
    real_catalog(tmp_path)
    outcome = run_cli(tmp_path, "promote", *arguments, "--dry-run")
    assert (outcome.code, outcome.stdout) == (2, "")
    assert outcome.stderr.startswith(f"catalog-gen: {option} '")
    assert "\\xff" in outcome.stderr
    assert outcome.stderr.endswith(" is not valid UTF-8\n")
    assert not (tmp_path / "catalog" / "prod" / "ml-workloads" / "ollama-phi.yaml").exists()


def test_an_ambiguous_service_lists_its_namespaces(tmp_path: Path) -> None:
    catalog = real_catalog(
        tmp_path, {"dev/other/ollama-phi.yaml": leaf_text("ollama-phi", "other", "")}
    )
    outcome = run_cli(tmp_path, "promote", "ollama-phi", "--from", "dev", "--to", "prod")
    assert outcome.code == 2
    assert outcome.stderr == (
        "catalog-gen: service 'ollama-phi' is in several namespaces of 'dev': "
        "ml-workloads/ollama-phi, other/ollama-phi; name one as NAMESPACE/SERVICE\n"
    )
    pin_for_prod(catalog, "phi:latest")
    named = run_cli(tmp_path, "promote", "other/ollama-phi", "--from", "dev", "--to", "prod")
    assert named.code == 0, named.stdout
    assert (catalog / "prod/other/ollama-phi.yaml").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("nope", "--from", "dev", "--to", "prod"),
         "no service 'nope' in environment 'dev' (catalog/dev/*/nope.yaml)"),
        (("ml/nope", "--from", "dev", "--to", "prod"), "catalog/dev/ml/nope.yaml: no such leaf"),
        (("ollama-phi", "--from", "dev", "--to", "dev"), "--from and --to both name 'dev'"),
        (("a/b/c", "--from", "dev", "--to", "prod"), "'a/b/c' is not SERVICE or NAMESPACE/SERVICE"),
        (("ollama-phi", "--from", "dev", "--to", ".."), "environment '..' is not a name"),
        # SERVICE is a name, not a pattern: these match existing leaves as globs
        (("ollama-ph[i]", "--from", "dev", "--to", "prod"),
         "no service 'ollama-ph[i]' in environment 'dev' (catalog/dev/*/ollama-ph[i].yaml)"),
        (("*", "--from", "dev", "--to", "prod"),
         "no service '*' in environment 'dev' (catalog/dev/*/*.yaml)"),
    ],
)  # fmt: skip
def test_arguments_that_name_no_leaf_are_usage_errors(
    tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    catalog = real_catalog(tmp_path)
    outcome = run_cli(tmp_path, "promote", *arguments)
    assert outcome.code == 2
    assert outcome.stderr == f"catalog-gen: {message}\n"
    assert not (catalog / "prod").exists()


def test_an_unknown_target_environment_is_reported_at_the_target(tmp_path: Path) -> None:
    catalog = real_catalog(tmp_path)
    outcome = run_cli(tmp_path, "promote", "ollama-phi", "--from", "dev", "--to", "staging")
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/staging/ml-workloads/ollama-phi.yaml:6:14: error: $.environment: unknown "
        "environment 'staging': catalog-gen found no environments/staging.yaml in the catalog "
        "(known: dev, prod)"
    ]
    assert not (catalog / "staging").exists()


def test_dry_run_prints_the_target_leaf_and_writes_nothing(tmp_path: Path) -> None:
    catalog = real_catalog(tmp_path)
    always_on(tmp_path / PHI)
    pin_for_prod(catalog, "phi:latest")
    outcome = run_cli(
        tmp_path, "promote", "ollama-phi", "--from", "dev", "--to", "prod", "--dry-run"
    )
    assert outcome.code == 0
    assert 'environment: "prod"\n' in outcome.stdout
    assert outcome.stdout.startswith("# yaml-language-server: $schema=")
    assert not (catalog / "prod").exists()


def test_adaptation_is_generic_over_the_leaf() -> None:
    """Every string that is a host under the source's baseDomain moves, whatever key holds it
    (a key a later leaf schema adds included); other strings stay."""
    source = Environment.model_validate({"environment": "dev", "baseDomain": "dev.example.com"})
    target = Environment.model_validate({"environment": "prod", "baseDomain": "example.org"})
    data = {
        "environment": "dev",
        "description": "served at a.dev.example.com",
        "ingress": {"enabled": True, "host": "a.dev.example.com"},
        "gateway": {"additionalHostnames": ["*.b.dev.example.com", "c.other.com"]},
        "chartValues": {"httpRoute": {"hostnames": ["dev.example.com", "notdev.example.com"]}},
        "someFutureField": {"origin": "api.dev.example.com", "count": 3},
    }
    assert adapted(data, source, target, "prod") == (
        Change(("environment",), "dev", "prod"),
        Change(("ingress", "host"), "a.dev.example.com", "a.example.org"),
        Change(("gateway", "additionalHostnames", 0), "*.b.dev.example.com", "*.b.example.org"),
        Change(("chartValues", "httpRoute", "hostnames", 0), "dev.example.com", "example.org"),
        Change(("someFutureField", "origin"), "api.dev.example.com", "api.example.org"),
    )
    without_domain = Environment.model_validate({"environment": "edge"})
    assert adapted(data, source, without_domain, "edge") == (
        Change(("environment",), "dev", "edge"),
    )


@pytest.mark.parametrize(
    ("base_domain", "reason"),
    [
        (None, "staging sets no baseDomain to move it under"),
        ("dev.inference.example.com",
         "dev and staging share the baseDomain dev.inference.example.com"),
    ],
)  # fmt: skip
def test_a_host_kept_says_why_it_was_not_moved(
    tmp_path: Path, base_domain: str | None, reason: str
) -> None:
    """A host under dev's baseDomain stays when the target has none or the same one: the
    warning names that, not "only hosts under dev's baseDomain move"."""
    catalog = real_catalog(tmp_path)
    text = (catalog / "environments/dev.yaml").read_text(encoding="utf-8")
    staging = text.replace("environment: dev\n", "environment: staging\n")
    staging = staging.replace(
        "baseDomain: dev.inference.example.com\n",
        "" if base_domain is None else f"baseDomain: {base_domain}\n",
    )
    assert staging.count("staging") == 1
    (catalog / "environments/staging.yaml").write_text(staging, encoding="utf-8")
    outcome = run_cli(tmp_path, "promote", "support-rag", "--from", "dev", "--to", "staging")
    kept = [line for line in outcome.stdout.splitlines() if "additionalHostnames[0]" in line]
    assert kept, outcome.stdout
    assert f"kept from dev: it is a host, and {reason}; make sure" in kept[0]


def test_a_host_kept_for_a_missing_target_environment_says_so(tmp_path: Path) -> None:
    """A host under dev's baseDomain is kept when the target has no environment file: the
    warning said "only hosts under dev's baseDomain move", which it is (review)."""
    real_catalog(tmp_path)
    outcome = run_cli(tmp_path, "promote", "support-rag", "--from", "dev", "--to", "nope")
    assert outcome.code == 1  # the missing environment is an error of its own
    kept = [line for line in outcome.stdout.splitlines() if "additionalHostnames[0]" in line]
    assert kept, outcome.stdout
    assert (
        "kept from dev: it is a host, and nope has no valid environment file to move it under"
        in kept[0]
    )


def test_a_source_leaf_linking_outside_the_catalog_is_not_read(tmp_path: Path) -> None:
    """The catalog reads no file outside it (load/document.py); promote did, and printed, or
    wrote into the catalog, what the link pointed at (a review)."""
    catalog = real_catalog(tmp_path)
    outside = tmp_path / "outside.yaml"
    text = (catalog / "dev/ml-workloads/ollama-phi.yaml").read_text(encoding="utf-8")
    outside.write_text(
        text.replace("ollama-phi", "leak") + 'description: "TOPSECRET"\n', encoding="utf-8"
    )
    (catalog / "dev/ml-workloads/leak.yaml").symlink_to(outside)
    outcome = run_cli(tmp_path, "promote", "leak", "--from", "dev", "--to", "prod", "--dry-run")
    assert outcome.code == 1
    assert "TOPSECRET" not in outcome.stdout + outcome.stderr
    assert "catalog/dev/ml-workloads/leak.yaml:1:1: error: $: not read: a symbolic link" in (
        outcome.stdout + outcome.stderr
    )
    assert not (catalog / "prod/ml-workloads/leak.yaml").exists()
