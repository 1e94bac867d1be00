"""`catalog-gen lock` as one call (run_lock) against the real registry."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog_gen.lock.command import run_lock
from catalog_gen.lock.lockfile import load_lock
from catalog_gen.lock.model import Origin, WantedModel
from catalog_gen.lock.registry import RegistryClient, RegistryConfig
from catalog_gen.problems import Report
from catalog_gen.references import parse_model_reference
from tests.lock.local_registry import LocalRegistry
from tests.lock.seeding import TEMPLATE, RegistrySeeder, SeededModel

pytestmark = pytest.mark.registry


@dataclass
class Outcome:
    code: int
    out: str
    err: str


class Catalog:
    """A handful of models seeded under a fresh namespace, and the lock path for them."""

    def __init__(self, registry: LocalRegistry, seeder: RegistrySeeder, tmp_path: Path) -> None:
        self.registry = registry
        self.seeder = seeder
        self.namespace = f"t{uuid.uuid4().hex[:8]}"
        self.lock_path = tmp_path / "catalog" / "models.lock.yaml"

    def push(self, name: str, tag: str = "latest", weights: bytes = b"w" * 64) -> SeededModel:
        return self.seeder.push_model(
            f"{self.namespace}/{name}",
            tag,
            weights=weights,
            config={"model_type": "1B", "file_type": "Q8_0"},
            extra_layers=[(TEMPLATE, f"{name}:{tag}".encode())],
        )

    def wanted(self, *names: str, insecure: bool = True) -> list[WantedModel]:
        return [
            WantedModel(
                parse_model_reference(f"{self.namespace}/{name}", self.registry.host),
                RegistryConfig(insecure=insecure),
                Origin(f"catalog/dev/{self.namespace}/svc.yaml", 4 + index, 11, "$.models[0]"),
            )
            for index, name in enumerate(names)
        ]

    def canonical(self, name: str) -> str:
        tagged = name if ":" in name else f"{name}:latest"
        return f"{self.registry.host}/{self.namespace}/{tagged}"

    def lock(
        self,
        wanted: Sequence[WantedModel],
        *,
        check: bool = False,
        offline: bool = False,
        update: Sequence[str] = (),
        client_factory: type[RegistryClient] = RegistryClient,
    ) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        code = run_lock(
            self.lock_path,
            wanted,
            check=check,
            offline=offline,
            update=update,
            client_factory=client_factory,
            out=out,
            err=err,
            display="catalog/models.lock.yaml",
        )
        return Outcome(code, out.getvalue(), err.getvalue())

    def digests(self) -> dict[str, str]:
        lock = load_lock(self.lock_path, Report())
        assert lock is not None
        return {key: entry.digest for key, entry in lock.models.items()}


class NoNetwork(RegistryClient):
    def resolve(self, *_: object) -> object:  # type: ignore[override]
        raise AssertionError("the registry was contacted although nothing needed resolving")


@pytest.fixture
def catalog(registry: LocalRegistry, seeder: RegistrySeeder, tmp_path: Path) -> Catalog:
    return Catalog(registry, seeder, tmp_path)


def test_lock_pins_every_model_and_reports_them(catalog: Catalog) -> None:
    phi, llama = catalog.push("phi"), catalog.push("llama3", "8b")
    outcome = catalog.lock(catalog.wanted("phi", "llama3:8b", "phi:latest"))
    assert outcome.code == 0, outcome.err
    assert catalog.digests() == {
        catalog.canonical("phi"): phi.digest,
        catalog.canonical("llama3:8b"): llama.digest,
    }
    assert f"locked {catalog.canonical('phi')} {phi.digest[:12]}" in outcome.out
    assert "catalog/models.lock.yaml: 2 model(s), written" in outcome.out


def test_lock_notes_where_a_registry_serves_its_blobs_from(catalog: Catalog) -> None:
    """The registry redirects blob downloads (as Ollama needs) to another origin, here its own
    port under another host name; a NetworkPolicy naming the registry alone would keep the
    pods' pulls from it (review), so the lock says where they go."""
    catalog.push("phi")
    outcome = catalog.lock(catalog.wanted("phi"))
    assert outcome.code == 0, outcome.err
    registry = catalog.registry
    assert (
        f"note: http://{registry.host} serves its blobs from http://localhost:{registry.port} "
        "(a redirect the pods' pulls follow): where a NetworkPolicy limits their egress"
    ) in outcome.out, outcome.out


def test_output_is_byte_for_byte_deterministic(catalog: Catalog, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        catalog.push(name)
    first = catalog.lock(catalog.wanted("c", "a", "b"))
    text = catalog.lock_path.read_bytes()
    catalog.lock_path = tmp_path / "again" / "models.lock.yaml"
    second = catalog.lock(catalog.wanted("b", "c", "a"))
    assert (first.code, second.code) == (0, 0)
    assert catalog.lock_path.read_bytes() == text


def test_a_complete_lock_is_not_re_resolved(catalog: Catalog) -> None:
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    outcome = catalog.lock(catalog.wanted("phi"), client_factory=NoNetwork)
    assert outcome.code == 0, outcome.err
    assert "1 model(s), unchanged" in outcome.out


def test_failure_leaves_the_lock_untouched_and_names_each_model(catalog: Catalog) -> None:
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    before = catalog.lock_path.read_bytes()

    outcome = catalog.lock(catalog.wanted("phi", "ghost", "phantom:7b"))

    assert outcome.code == 1
    assert catalog.lock_path.read_bytes() == before
    lines = outcome.err.splitlines()
    assert lines[0].startswith(
        f"catalog/dev/{catalog.namespace}/svc.yaml:5:11: error: $.models[0]: "
        f"{catalog.canonical('ghost')}: fetching the manifest failed: not found"
    )
    assert catalog.canonical("phantom:7b") in lines[1]
    assert lines[2] == "catalog/models.lock.yaml left unchanged: 2 model(s) could not be resolved"


def test_unused_pins_are_dropped(catalog: Catalog) -> None:
    catalog.push("phi")
    catalog.push("old")
    assert catalog.lock(catalog.wanted("phi", "old")).code == 0
    outcome = catalog.lock(catalog.wanted("phi"), client_factory=NoNetwork)
    assert outcome.code == 0
    assert f"removed {catalog.canonical('old')}" in outcome.out
    assert list(catalog.digests()) == [catalog.canonical("phi")]


def test_check_passes_on_a_fresh_lock(catalog: Catalog) -> None:
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    outcome = catalog.lock(catalog.wanted("phi"), check=True)
    assert outcome.code == 0, outcome.err
    assert "is up to date (1 model(s))" in outcome.out


def test_check_fails_on_missing_and_unused_entries_without_writing(catalog: Catalog) -> None:
    catalog.push("phi")
    catalog.push("mistral")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    before = catalog.lock_path.read_bytes()

    missing = catalog.lock(catalog.wanted("phi", "mistral"), check=True, offline=True)
    unused = catalog.lock([], check=True, offline=True)

    assert missing.code == 1
    assert f"{catalog.canonical('mistral')}: not in the lock" in missing.err
    assert unused.code == 1
    assert f"{catalog.canonical('phi')}: locked but no longer used by the catalog" in unused.err
    assert catalog.lock_path.read_bytes() == before


def test_check_without_a_lock_fails(catalog: Catalog) -> None:
    outcome = catalog.lock(catalog.wanted("phi"), check=True, offline=True)
    assert outcome.code == 1
    assert "the lock does not exist" in outcome.err
    assert not catalog.lock_path.exists()


def test_check_detects_a_moved_tag_unless_offline(catalog: Catalog) -> None:
    first = catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    moved = catalog.push("phi", weights=b"republished")

    offline = catalog.lock(catalog.wanted("phi"), check=True, offline=True)
    online = catalog.lock(catalog.wanted("phi"), check=True)

    assert offline.code == 0
    assert online.code == 1
    assert f"locked {first.digest[:12]}, the registry now serves {moved.digest[:12]}" in online.err
    assert f"catalog-gen lock --update {catalog.canonical('phi')}" in online.err


def test_check_fails_on_a_hand_edited_lock(catalog: Catalog) -> None:
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    text = catalog.lock_path.read_text()
    catalog.lock_path.write_text(text.replace("version: 1", "version:  1"))
    outcome = catalog.lock(catalog.wanted("phi"), check=True, offline=True)
    assert outcome.code == 1
    assert "not in the form catalog-gen writes" in outcome.err


def test_check_fails_when_the_registry_scheme_changed(catalog: Catalog) -> None:
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    outcome = catalog.lock(catalog.wanted("phi", insecure=False), check=True, offline=True)
    assert outcome.code == 1
    assert f"locked from http://{catalog.registry.host}" in outcome.err


def test_a_scheme_change_is_one_problem_online_too(catalog: Catalog) -> None:
    # The pin's registry differs, nothing else: no second "sizes or facts differ" problem.
    catalog.push("phi")
    assert catalog.lock(catalog.wanted("phi")).code == 0
    text = catalog.lock_path.read_text()
    catalog.lock_path.write_text(text.replace("http://", "https://"))
    outcome = catalog.lock(catalog.wanted("phi"), check=True)
    assert outcome.code == 1
    assert f"locked from https://{catalog.registry.host}" in outcome.err
    assert "recorded sizes or facts differ" not in outcome.err


def test_update_refreshes_only_the_named_model(catalog: Catalog) -> None:
    catalog.push("phi")
    llama = catalog.push("llama3", "8b")
    assert catalog.lock(catalog.wanted("phi", "llama3:8b")).code == 0
    new_phi = catalog.push("phi", weights=b"phi v2")
    catalog.push("llama3", "8b", weights=b"llama v2")

    outcome = catalog.lock(
        catalog.wanted("phi", "llama3:8b"), update=[f"{catalog.namespace}/phi:latest"]
    )

    assert outcome.code == 0, outcome.err
    assert catalog.digests() == {
        catalog.canonical("phi"): new_phi.digest,
        catalog.canonical("llama3:8b"): llama.digest,
    }
    assert "updated (was " in outcome.out
    assert f"unchanged {catalog.canonical('llama3:8b')}" not in outcome.out


def test_update_without_tag_matches_every_tag(catalog: Catalog) -> None:
    catalog.push("qwen", "0.5b")
    catalog.push("qwen", "7b")
    assert catalog.lock(catalog.wanted("qwen:0.5b", "qwen:7b")).code == 0
    new_small = catalog.push("qwen", "0.5b", weights=b"v2 small")
    new_big = catalog.push("qwen", "7b", weights=b"v2 big")
    outcome = catalog.lock(
        catalog.wanted("qwen:0.5b", "qwen:7b"), update=[f"{catalog.namespace}/qwen"]
    )
    assert outcome.code == 0, outcome.err
    assert set(catalog.digests().values()) == {new_small.digest, new_big.digest}


def test_update_of_an_unknown_model_is_a_usage_error(catalog: Catalog) -> None:
    catalog.push("phi")
    outcome = catalog.lock(catalog.wanted("phi"), update=["nothere:1b"])
    assert outcome.code == 2
    assert "--update nothere:1b: no model in the catalog matches" in outcome.err
    assert not catalog.lock_path.exists()


def test_check_and_update_together_is_a_usage_error(catalog: Catalog) -> None:
    outcome = catalog.lock(catalog.wanted("phi"), check=True, update=["phi"])
    assert outcome.code == 2


def test_one_host_both_secure_and_insecure_is_an_error(catalog: Catalog) -> None:
    catalog.push("phi")
    wanted = catalog.wanted("phi") + catalog.wanted("phi", insecure=False)
    outcome = catalog.lock(wanted, client_factory=NoNetwork)
    assert outcome.code == 1
    assert "must be either insecure or not everywhere" in outcome.err


def test_two_models_of_one_host_one_secure_one_insecure_is_an_error(catalog: Catalog) -> None:
    # The host is the unit (docs/model-lock.md): mirror:5000/phi over http and mirror:5000/qwen
    # over https were both pinned, each over its own scheme.
    catalog.push("phi")
    catalog.push("qwen")
    wanted = catalog.wanted("phi") + catalog.wanted("qwen", insecure=False)
    outcome = catalog.lock(wanted, client_factory=NoNetwork)
    assert outcome.code == 1
    assert "must be either insecure or not everywhere" in outcome.err


def test_corrupt_lock_is_an_error_not_overwritten(catalog: Catalog) -> None:
    catalog.lock_path.parent.mkdir(parents=True)
    catalog.lock_path.write_text("version: 1\nmodels: {\n")
    outcome = catalog.lock(catalog.wanted("phi"), client_factory=NoNetwork)
    assert outcome.code == 1
    assert "invalid YAML" in outcome.err
    assert catalog.lock_path.read_text() == "version: 1\nmodels: {\n"
