"""The Argo CD and Backstage files are dumped with libyaml's emitter (CSafeDumper) for speed; it
must give exactly the bytes of PyYAML's pure-Python emitter, which the emitters were reviewed
with."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_gen.emit import argocd
from catalog_gen.write.writer import read_tree
from tests.conftest import REPO_ROOT
from tests.gitops.conftest import CHART_DIR, FIXTURE_CATALOG
from tests.gitops.test_cli import run


def test_the_fast_dumper_is_libyamls() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: render falls back to the slow emitter"
    assert issubclass(argocd.DUMPER, yaml.CSafeDumper)
    assert not issubclass(argocd.PURE_DUMPER, yaml.CSafeDumper)


def render_everything(
    catalog_source: Path, root: Path, dumper: type[yaml.SafeDumper], monkeypatch: Any
) -> dict[str, bytes]:
    """render + backstage into root with the given dumper; every file written, by path."""
    catalog = root / "catalog"
    shutil.copytree(catalog_source, catalog)
    monkeypatch.setitem(argocd.yaml_bytes.__kwdefaults__, "dumper", dumper)
    options = ["--catalog", str(catalog), "--chart", str(CHART_DIR)]
    # --no-cache: every file comes from this dumper, none from a cache.
    code, output = run("render", *options, "--no-cache", "--out", str(root / "generated"))
    assert code == 0, output
    code, output = run("backstage", *options, "--out", str(root / "template"))
    assert code == 0, output
    return {str(path): content for path, content in read_tree(root).items()}


@pytest.mark.parametrize(
    "catalog_source", [REPO_ROOT / "catalog", FIXTURE_CATALOG], ids=["shipped", "gitops-fixture"]
)
def test_libyaml_and_pure_python_dumpers_write_the_same_bytes(
    catalog_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = render_everything(catalog_source, tmp_path / "fast", argocd.DUMPER, monkeypatch)
    pure = render_everything(catalog_source, tmp_path / "pure", argocd.PURE_DUMPER, monkeypatch)
    assert any(path.startswith("deploy/") for path in fast)
    assert any(path.endswith("catalog-info.yaml") for path in fast)
    assert any(path.startswith("template/") for path in fast)
    assert fast == pure


_ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
# Long text too, around the 2048 characters where the fast path stops (quoted scalars longer
# than the 4096 width fold differently).
_LONG = st.text(st.sampled_from("ab \n:#-'\"é\t"), min_size=1900, max_size=2200)
_TEXT = _ANY_TEXT | _LONG
_SCALARS = st.one_of(_TEXT, st.integers(), st.booleans(), st.none())
_DOCUMENTS = st.dictionaries(
    _ANY_TEXT,
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
        max_leaves=6,
    ),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(_DOCUMENTS)
def test_the_output_does_not_depend_on_the_pyyaml_build(document: dict[str, Any]) -> None:
    # Text libyaml would write differently (emoji, controls, an empty key) takes the pure path.
    fast = argocd.yaml_bytes([document], "x", dumper=argocd.DUMPER)
    pure = argocd.yaml_bytes([document], "x", dumper=argocd.PURE_DUMPER)
    assert fast == pure


def test_an_emoji_in_a_description_reads_the_same_with_either_emitter() -> None:
    document = {"metadata": {"description": "Chat \U0001f916 for support\nsecond line"}}
    fast = argocd.yaml_bytes([document], "x", dumper=argocd.DUMPER)
    assert fast == argocd.yaml_bytes([document], "x", dumper=argocd.PURE_DUMPER)
    assert "\U0001f916".encode() in fast  # written as the character, not an escape
