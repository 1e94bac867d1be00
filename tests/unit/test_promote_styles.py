"""`catalog-gen promote` rewrites a value in every YAML scalar style (plain, quoted, literal and
folded block scalars with their chomping indicators), wherever it stands (before another key, a
comment, blank lines, at the end of the file with or without a final line break): the promoted
leaf parses to the source's data with the adapted values, and every other byte is the source's."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from catalog_gen.load.document import parse_document
from catalog_gen.models import Environment
from catalog_gen.problems import Report
from catalog_gen.scaffold.promote import adapted, spliced
from tests.unit.helpers import FIXTURE_ENVIRONMENTS, make_catalog, run_cli

DEV = Environment.model_validate({"environment": "dev", "baseDomain": "dev.example.com"})
STAGING = Environment.model_validate(
    {"environment": "staging", "baseDomain": "staging.example.com"}
)
HEAD = "workloadType: OLLAMA_INFERENCE_LOAD\nserviceName: p\nserviceCatalog: ml\nnamespace: ml\n"


class Style(NamedTuple):
    """A scalar written in one style ({v} the value, {n} the indentation indicator that means
    4 spaces) and the text promote puts in its place."""

    written: str
    replaced: str
    holds_a_host: bool  # False: the style adds a line break to the value (clip, keep chomping)


STYLES = {
    "plain": Style("{v}", '"{v}"', holds_a_host=True),
    "plain-next-line": Style("\n    {v}", '\n    "{v}"', holds_a_host=True),
    "single": Style("'{v}'", '"{v}"', holds_a_host=True),
    "double": Style('"{v}"', '"{v}"', holds_a_host=True),
    "tagged": Style("!!str {v}", '"{v}"', holds_a_host=True),
    "literal-strip": Style("|-\n    {v}", '"{v}"', holds_a_host=True),
    "folded-strip": Style(">-\n    {v}", '"{v}"', holds_a_host=True),
    "folded-strip-comment": Style(
        ">-  # the host\n    {v}", '"{v}"  # the host', holds_a_host=True
    ),
    "folded-indent-indicator": Style(">{n}-\n    {v}", '"{v}"', holds_a_host=True),
    "tagged-literal-strip": Style("!!str |-\n    {v}", '"{v}"', holds_a_host=True),
    "literal-trailing-blank": Style("|-\n    {v}\n", '"{v}"\n', holds_a_host=True),
    "literal-clip": Style("|\n    {v}", '"{v}"', holds_a_host=False),
    "literal-keep": Style("|+\n    {v}", '"{v}"', holds_a_host=False),
    "folded-clip": Style(">\n    {v}", '"{v}"', holds_a_host=False),
    "folded-keep": Style(">+\n    {v}\n", '"{v}"\n', holds_a_host=False),
}
# What follows the scalar: its line's break is the first character.
AFTER = {
    "key": "\ngpu: {count: 0}\n",
    "comment": "\n# GPUs\ngpu: {count: 0}\n",
    "indented-comment": "\n  # GPUs\ngpu: {count: 0}\n",
    "blank-lines": "\n\n\ngpu: {count: 0}\n",
    "end": "\n",
    "end-without-break": "",
}
# Where the scalar stands: the text before it, and its value before and after the promotion.
KEYS = {
    "environment": (HEAD + "model: phi:latest\nenvironment: ", "dev", "staging"),
    "description": (
        HEAD + "environment: dev\nmodel: phi:latest\ndescription: ",
        "p.dev.example.com",
        "p.staging.example.com",
    ),
    "ingress.host": (
        HEAD + "environment: dev\nmodel: phi:latest\ningress:\n  enabled: true\n  host: ",
        "p.dev.example.com",
        "p.staging.example.com",
    ),
}
CASES = [
    (key, style, after, line_break)
    for key, style, after, line_break in itertools.product(KEYS, STYLES, AFTER, ("\n", "\r\n"))
    if key == "environment" or STYLES[style].holds_a_host
]


def promoted(source: str) -> tuple[str, Any]:
    """source promoted from DEV to STAGING (the text), and the data it must parse to."""
    document = parse_document(source.encode(), Path("p.yaml"), "p.yaml", Report())
    assert document is not None
    changes = adapted(document.data, DEV, STAGING, "staging")
    expected = yaml.safe_load(source)
    for change in changes:
        holder = expected
        for part in change.where[:-1]:
            holder = holder[part]
        holder[change.where[-1]] = change.new
    return spliced(source.encode(), document, changes).decode(), expected


@pytest.mark.parametrize(
    ("key", "style", "after", "line_break"),
    CASES,
    ids=["-".join((*case[:3], repr(case[3])[1:-1])) for case in CASES],
)
def test_a_value_in_any_style_and_place_is_replaced_and_nothing_else(
    key: str, style: str, after: str, line_break: str
) -> None:
    before, old, new = KEYS[key]
    written, replaced, _ = STYLES[style]
    line = before.rpartition("\n")[2]
    indicator = 4 - (len(line) - len(line.lstrip(" ")))  # relative to the key's indentation
    source = before + written.format(v=old, n=indicator) + AFTER[after]
    expected_text = before.replace("environment: dev", 'environment: "staging"')
    expected_text += replaced.format(v=new) + AFTER[after]
    text, data = promoted(source.replace("\n", line_break))
    assert text == expected_text.replace("\n", line_break)
    assert yaml.safe_load(text) == data
    assert data["environment"] == "staging"
    if key != "environment":
        assert data.get("description", data.get("ingress", {}).get("host")) == new


def test_a_byte_order_mark_stays() -> None:
    source = "\ufeff" + HEAD + "environment: >-\n  dev\nmodel: phi:latest\n"
    document = parse_document(source.encode(), Path("p.yaml"), "p.yaml", Report())
    assert document is not None
    changes = adapted(document.data, DEV, STAGING, "staging")
    content = spliced(source.encode(), document, changes)
    assert content.decode() == source.replace(">-\n  dev", '"staging"')


def staging_catalog(root: Path, leaf: str) -> Path:
    """The fixture dev environment, a staging one like it under another baseDomain, one leaf."""
    dev = (FIXTURE_ENVIRONMENTS / "dev.yaml").read_text(encoding="utf-8")
    staging = dev.replace("environment: dev", "environment: staging").replace(
        "baseDomain: dev.example.com", "baseDomain: staging.example.com"
    )
    return make_catalog(root, {"environments/staging.yaml": staging, "dev/ml/p.yaml": leaf})


@pytest.mark.parametrize(
    ("block", "promoted_block"),
    [
        (
            "ingress:\n  enabled: true\n  host: >-\n    p.dev.example.com\n",
            'ingress:\n  enabled: true\n  host: "p.staging.example.com"\n',
        ),
        ("description: >-\n  p.dev.example.com\n", 'description: "p.staging.example.com"\n'),
    ],
    ids=["ingress-host", "description"],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["write", "dry-run"])
def test_promote_rewrites_a_folded_host_before_another_key(
    tmp_path: Path, block: str, promoted_block: str, dry_run: bool
) -> None:
    source = HEAD + "environment: dev\nmodel: phi:latest\n" + block + "gpu: {count: 0}\n"
    catalog = staging_catalog(tmp_path, source)
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0
    flags = ["--dry-run"] if dry_run else []
    outcome = run_cli(tmp_path, "promote", "p", "--from", "dev", "--to", "staging", *flags)
    assert outcome.code == 0, outcome.stderr
    expected = source.replace("environment: dev", 'environment: "staging"').replace(
        block, promoted_block
    )
    target = catalog / "staging/ml/p.yaml"
    if dry_run:
        assert outcome.stdout.startswith(expected)
        assert not target.exists()
    else:
        assert target.read_text(encoding="utf-8") == expected
        assert run_cli(tmp_path, "validate", "--no-cache").code == 0
