"""The lock file itself: deterministic text, strict parsing with positions, atomic writes."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import pytest
from yamllint import linter
from yamllint.config import YamlLintConfig

from catalog_gen.lock.command import run_lock
from catalog_gen.lock.lockfile import (
    GENERATED_HEADER,
    load_lock,
    parse_lock,
    serialize_lock,
    write_lock,
)
from catalog_gen.lock.model import (
    LockedModel,
    ModelLock,
    Origin,
    WantedModel,
    expected_digest,
    lock_problem,
)
from catalog_gen.lock.registry import RegistryConfig
from catalog_gen.lock.resolve import select_updates
from catalog_gen.problems import Report, Severity
from catalog_gen.references import parse_model_reference

PHI = LockedModel(
    reference="registry.ollama.ai/library/phi:latest",
    registry="https://registry.ollama.ai",
    digest="e2fd6321a5fe6bb3ac8a4e6f1cf04477fd2dea2924cf53237a995387e152ee9c",
    total_size=1_602_463_378,
    model_size=1_602_461_536,
    weights_size=1_602_461_536,
    parameter_size="3B",
    quantization="Q4_0",
    family="phi2",
    media_types=("application/vnd.ollama.image.model", "application/vnd.ollama.image.template"),
)
# All digits: YAML would read it as a number unless the writer quotes it.
NUMERIC = LockedModel(
    reference="registry.example.com:5000/team/embed:v1",
    registry="http://registry.example.com:5000",
    digest="1" * 64,
    total_size=10,
    model_size=10,
    weights_size=10,
)


def test_serialization_is_deterministic_and_sorted() -> None:
    one = serialize_lock(ModelLock({PHI.reference: PHI, NUMERIC.reference: NUMERIC}))
    other = serialize_lock(ModelLock({NUMERIC.reference: NUMERIC, PHI.reference: PHI}))
    assert one == other
    assert one.startswith(GENERATED_HEADER)
    assert one.index(NUMERIC.reference) < one.index(PHI.reference)


def test_round_trip_keeps_every_field() -> None:
    lock = ModelLock({PHI.reference: PHI, NUMERIC.reference: NUMERIC})
    report = Report()
    parsed = parse_lock(serialize_lock(lock).encode(), report, "models.lock.yaml")
    assert report.problems == []
    assert parsed == lock
    assert parsed is not None
    assert parsed.get(NUMERIC.reference) == NUMERIC


@pytest.mark.parametrize(
    "text", ["1e3", "1E5", "+1e3", "-.5e3", "0o17", "1_000", "0x1F", "1:20", "yes", "~", "a\tb"]
)
def test_a_registry_fact_any_yaml_reads_otherwise_is_written_so_it_reads_back(text: str) -> None:
    # The facts come from the registry's config blob (model_type, file_type, model_family): a
    # `1e3` written plain (YAML 1.1 text, YAML 1.2 number) made every later run refuse the lock
    # it had just written, and `catalog-gen lock` wrote the same file again.
    odd = replace(PHI, parameter_size=text, quantization=text, family=text)
    report = Report()
    parsed = parse_lock(serialize_lock(ModelLock({PHI.reference: odd})).encode(), report, "l")
    assert report.problems == []
    assert parsed is not None
    assert parsed.get(PHI.reference) == odd


def test_written_lock_passes_the_repository_yamllint(repo_root: Path) -> None:
    config = YamlLintConfig(file=str(repo_root / ".yamllint.yaml"))
    text = serialize_lock(ModelLock({PHI.reference: PHI, NUMERIC.reference: NUMERIC}))
    assert list(linter.run(text, config)) == []


def test_write_is_skipped_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "catalog" / "models.lock.yaml"
    lock = ModelLock({PHI.reference: PHI})
    assert write_lock(path, lock) is True
    os.utime(path, (1_000_000, 1_000_000))
    assert write_lock(path, lock) is False
    assert path.stat().st_mtime == 1_000_000


def test_failed_write_leaves_the_old_lock_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "models.lock.yaml"
    write_lock(path, ModelLock({PHI.reference: PHI}))
    before = path.read_bytes()

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_lock(path, ModelLock({NUMERIC.reference: NUMERIC}))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.lock.yaml"]


def test_missing_lock_is_none_without_problems(tmp_path: Path) -> None:
    report = Report()
    assert load_lock(tmp_path / "absent.yaml", report) is None
    assert report.problems == []


def problems_of(text: str) -> list[str]:
    report = Report()
    assert parse_lock(text.encode(), report, "models.lock.yaml") is None
    return [problem.format() for problem in report.sorted()]


VALID_ENTRY = f"""\
- reference: registry.ollama.ai/library/phi:latest
  registry: https://registry.ollama.ai
  digest: {PHI.digest}
  totalSize: 10
  modelSize: 10
  weightsSize: 10
"""


def test_duplicate_key_is_reported_with_its_position() -> None:
    text = f"version: 1\nmodels:\n{VALID_ENTRY}  totalSize: 11\n"
    assert problems_of(text) == [
        "models.lock.yaml:9:3: error: $.models[0].totalSize: duplicate key 'totalSize' (first "
        "defined on line 6); YAML keeps only the last of them, so say it once (regenerate it: "
        "delete the file and run `catalog-gen lock`)"
    ]


def test_every_bad_field_is_reported_in_one_pass() -> None:
    text = (
        "version: 1\n"
        "models:\n"
        "- reference: phi\n"
        "  registry: ftp://x\n"
        "  digest: sha256:abc\n"
        "  totalSize: -1\n"
        "  modelSize: 1.5\n"
        "  colour: blue\n"
        "  digests: []\n"
    )
    assert problems_of(text) == [
        "models.lock.yaml:3:3: error: $.models[0].weightsSize: weightsSize is missing",
        "models.lock.yaml:3:14: error: $.models[0].reference: 'phi' is not canonical; "
        "expected 'registry.ollama.ai/library/phi:latest'",
        "models.lock.yaml:4:13: error: $.models[0].registry: registry 'ftp://x' is not "
        "http(s)://host",
        "models.lock.yaml:5:11: error: $.models[0].digest: digest 'sha256:abc' is not 64 "
        "lowercase hex characters",
        "models.lock.yaml:6:14: error: $.models[0].totalSize: totalSize -1 is not a byte count",
        "models.lock.yaml:7:14: error: $.models[0].modelSize: modelSize 1.5 is not a byte count",
        # Unknown keys are located at the key itself, with a hint for a near miss.
        "models.lock.yaml:8:3: error: $.models[0].colour: unknown key 'colour'",
        "models.lock.yaml:9:3: error: $.models[0].digests: unknown key 'digests' "
        "(did you mean 'digest'?)",
    ]


def sized_entry(total: object, model: object, weights: object) -> str:
    return (
        VALID_ENTRY.replace("totalSize: 10", f"totalSize: {total}")
        .replace("modelSize: 10", f"modelSize: {model}")
        .replace("weightsSize: 10", f"weightsSize: {weights}")
    )


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        (
            (1000, 10, 99999999999999999999999999),
            [
                "models.lock.yaml:8:16: error: $.models[0].weightsSize: weightsSize "
                f"99999999999999999999999999 is more than {2**50} bytes (1 PiB): no model",
            ],
        ),
        (
            (2**50 + 1, 10, 10),
            [
                "models.lock.yaml:6:14: error: $.models[0].totalSize: totalSize "
                f"{2**50 + 1} is more than {2**50} bytes (1 PiB): no model",
            ],
        ),
        (
            (1000, 10, 2000),
            [
                "models.lock.yaml:8:16: error: $.models[0].weightsSize: weightsSize 2000 is more "
                "than totalSize 1000: the weights are part of what a pull downloads",
            ],
        ),
        (
            (1000, 20, 10),
            [
                "models.lock.yaml:7:14: error: $.models[0].modelSize: modelSize 20 is more than "
                "weightsSize 10: the model layers are part of the weights",
            ],
        ),
    ],
)
def test_a_size_no_manifest_gives_is_refused_at_its_line(
    sizes: tuple[int, int, int], expected: list[str]
) -> None:
    """Sizes as `lock` computes them from a manifest's layers: at most 1 PiB, and
    modelSize <= weightsSize <= totalSize (a hand edit that breaks it would size a service's
    memory from it, or fail at the leaf instead of here)."""
    assert problems_of(f"version: 1\nmodels:\n{sized_entry(*sizes)}") == expected


def test_the_largest_sizes_in_order_are_read() -> None:
    text = f"version: 1\nmodels:\n{sized_entry(2**50, 2**50, 2**50)}"
    lock = parse_lock(text.encode(), Report(), "models.lock.yaml")
    assert lock is not None
    assert lock.models[PHI.reference].total_size == 2**50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"check": True, "update": ["phi"]}, "--check and --update cannot be combined"),
        ({"offline": True}, "--offline only goes with --check"),
    ],
)
def test_usage_errors_come_before_reading_a_broken_lock(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    lock_path = tmp_path / "models.lock.yaml"
    lock_path.write_text("version: [\n")
    out, err = io.StringIO(), io.StringIO()
    code = run_lock(lock_path, [], out=out, err=err, **options)  # type: ignore[arg-type]
    assert (code, out.getvalue()) == (2, "")
    assert message in err.getvalue()


def test_unknown_version_is_refused() -> None:
    assert problems_of("version: 2\nmodels: []\n") == [
        "models.lock.yaml:1:10: error: $.version: lock version is 2; this catalog-gen reads "
        "version 1"
    ]


def test_a_lock_without_version_says_the_key_is_missing() -> None:
    (problem,) = problems_of("models: []\n")
    assert "$.version: missing required key 'version'; this catalog-gen reads version 1" in (
        problem
    )


def test_the_same_reference_twice_is_an_error() -> None:
    text = f"version: 1\nmodels:\n{VALID_ENTRY}{VALID_ENTRY}"
    assert problems_of(text) == [
        "models.lock.yaml:9:14: error: $.models[1].reference: "
        "registry.ollama.ai/library/phi:latest is locked twice"
    ]


def test_invalid_yaml_points_at_the_error() -> None:
    [message] = problems_of("version: 1\nmodels: [\n")
    assert message.startswith("models.lock.yaml:3:1: error: $: invalid YAML")
    assert "delete the file and run `catalog-gen lock`" in message


def wanted(text: str, *, insecure: bool = False) -> WantedModel:
    return WantedModel(
        parse_model_reference(text),
        RegistryConfig(insecure=insecure),
        Origin("catalog/prod/team/chat.yaml", 7, 9, "$.models[0].name"),
    )


def test_render_gets_the_digest_or_empty() -> None:
    lock = ModelLock({PHI.reference: PHI})
    assert expected_digest(lock, parse_model_reference("phi")) == PHI.digest
    assert expected_digest(lock, parse_model_reference("phi:2.7b")) == ""
    assert expected_digest(None, parse_model_reference("phi")) == ""


def test_unpinned_model_is_an_error_only_where_the_lock_is_required() -> None:
    lock = ModelLock({PHI.reference: PHI})
    assert lock_problem(lock, wanted("phi"), require_lock=True) is None
    error = lock_problem(lock, wanted("llama3:8b"), require_lock=True, environment="prod")
    warning = lock_problem(lock, wanted("llama3:8b"), require_lock=False)
    assert error is not None
    assert warning is not None
    assert error.severity is Severity.ERROR
    assert warning.severity is Severity.WARNING
    assert error.format() == (
        "catalog/prod/team/chat.yaml:7:9: error: $.models[0].name: model llama3:8b is not pinned "
        "in catalog/models.lock.yaml, and environment 'prod' requires every model to be "
        "(requireLock: true) (run `catalog-gen lock`)"
    )
    assert warning.format() == (
        "catalog/prod/team/chat.yaml:7:9: warning: $.models[0].name: model llama3:8b is not "
        'pinned in catalog/models.lock.yaml: it deploys unpinned (digest "") (run '
        "`catalog-gen lock`; required where requireLock: true)"
    )


def test_pin_from_another_scheme_counts_as_unpinned() -> None:
    lock = ModelLock({PHI.reference: replace(PHI, registry="http://registry.ollama.ai")})
    problem = lock_problem(lock, wanted("phi"), require_lock=True)
    assert problem is not None
    assert "pinned from http://registry.ollama.ai" in problem.message


@pytest.mark.parametrize(
    "name",
    [
        "phi",
        "phi:latest",
        "library/phi",
        "library/phi:latest",
        "registry.ollama.ai/library/phi:latest",
    ],
)
def test_update_names_are_read_like_catalog_references(name: str) -> None:
    models = [wanted("phi"), wanted("phi:2.7b"), wanted("llama3:8b")]
    selected, unmatched = select_updates([name], models)
    expected = {PHI.reference}
    if ":" not in name.rsplit("/", 1)[-1]:
        expected.add("registry.ollama.ai/library/phi:2.7b")
    assert (selected, unmatched) == (expected, [])


def test_update_name_matching_nothing_is_returned_with_why() -> None:
    selected, unmatched = select_updates(["phi:9b", "Not A Name"], [wanted("phi")])
    assert selected == set()
    assert [name for name, _ in unmatched] == ["phi:9b", "Not A Name"]
    assert unmatched[0][1] == "no model in the catalog matches"
    # Not "matches nothing": the name cannot be read at all, and the reader says why.
    assert unmatched[1][1].startswith("not a model reference: ")


def test_catalog_models_keep_their_insecure_flag() -> None:
    reference = parse_model_reference("registry.example.com:5000/team/embed:v1")
    assert WantedModel.from_catalog(reference, insecure=True).registry.insecure is True
    assert WantedModel.from_catalog(reference, insecure=False).registry.insecure is False


def test_locked_model_gives_sizing_its_facts() -> None:
    size = PHI.sizing("phi")
    assert (size.name, size.weights_bytes, size.download_bytes) == (
        "phi",
        PHI.weights_size,
        PHI.total_size,
    )
    assert (size.parameter_size, size.quantization) == ("3B", "Q4_0")
