"""Generated YAML means the same to every reader: helm's YAML 1.1 (go-yaml, through a probe chart
that prints .Values as JSON), ruamel.yaml in YAML 1.1 and 1.2 mode, and PyYAML."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from catalog_gen.emit.argocd import PURE_DUMPER, yaml_bytes
from catalog_gen.emit.values import COMMENT_WIDTH, dump_commented, dump_yaml
from catalog_gen.emit.yamltext import plain_key
from tests.support.kube import helm_template_text
from tests.support.yaml11 import HOSTILE, hostile_text

_keys = st.one_of(st.sampled_from(HOSTILE), hostile_text).filter(bool)
_documents = st.dictionaries(
    _keys,
    st.recursive(
        st.one_of(hostile_text, st.integers(-(2**31), 2**31), st.booleans()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)
        ),
        max_leaves=12,
    ),
    max_size=6,
)


def _helm_reads(helm: Path, text: str) -> Any:
    with tempfile.TemporaryDirectory() as directory:
        chart = Path(directory) / "probe"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
        (chart / "templates" / "values.yaml").write_text("{{ toJson .Values }}\n")
        values = Path(directory) / "values.yaml"
        values.write_text(text, encoding="utf-8")
        output = helm_template_text(helm, chart, [values])
    body = "\n".join(line for line in output.splitlines() if not line.startswith(("#", "---")))
    return json.loads(body)


def _ruamel_reads(text: str, version: tuple[int, int]) -> Any:
    reader = YAML(typ="safe", pure=True)
    reader.version = version
    return reader.load(io.StringIO(text))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a helm run per step: no shrinking
)
@given(document=_documents)
def test_generated_values_mean_the_same_to_helm(helm: Path, document: dict[str, Any]) -> None:
    text = dump_yaml(document)
    assert _helm_reads(helm, text) == json.loads(json.dumps(document))


@settings(max_examples=200, deadline=None)
@given(document=_documents)
def test_generated_yaml_means_the_same_to_yaml_1_1_and_1_2_readers(
    document: dict[str, Any],
) -> None:
    for text in (dump_yaml(document), yaml_bytes([document], "x", dumper=PURE_DUMPER).decode()):
        assert _ruamel_reads(text, (1, 1)) == document
        assert _ruamel_reads(text, (1, 2)) == document


def test_plain_keys_are_only_words_no_reader_takes_for_anything_else() -> None:
    assert plain_key("fullnameOverride")
    assert plain_key("catalog.ollama-inference-load.io/environment")
    for word in ("y", "N", "on", "Off", "yes", "true", "NULL", "1e3", "a:b", "a b", "-a", "x"):
        assert not plain_key(word), word


def test_strings_are_quoted_and_modelfiles_are_literal_blocks() -> None:
    text = dump_yaml({"serviceName": "y", "catalog": "1e3", "modelfile": "FROM phi\nSYSTEM hi\n"})
    assert 'serviceName: "y"' in text
    assert 'catalog: "1e3"' in text
    assert "modelfile: |\n  FROM phi\n  SYSTEM hi\n" in text


@settings(max_examples=150, deadline=None)
@given(
    document=_documents, comments=st.dictionaries(_keys, hostile_text, max_size=3), data=st.data()
)
def test_comments_above_top_level_keys_change_no_data(
    document: dict[str, Any], comments: dict[str, str], data: st.DataObject
) -> None:
    """values.yaml's comments (emit/values.py dump_commented): the same bytes as dump_yaml once
    the comment lines are taken out, each comment line at most COMMENT_WIDTH long, and nothing a
    YAML reader takes as data (a hostile text cannot end the comment)."""
    if document:
        comments[data.draw(st.sampled_from(sorted(document)))] = "Rollout: why\nnext: 1 # x"
    text = dump_commented(document, comments)
    lines = text.splitlines(keepends=True)
    assert "".join(line for line in lines if not line.startswith("#")) == dump_yaml(document)
    assert all(len(line) <= COMMENT_WIDTH + 1 for line in lines if line.startswith("#"))
    assert YAML(typ="safe", pure=True).load(io.StringIO(text)) == document


def test_a_comment_sits_right_above_its_key() -> None:
    text = dump_commented({"b": 1, "updateStrategy": {"gpuSurge": 0}}, {"updateStrategy": "why"})
    assert text.endswith("# why\nupdateStrategy:\n  gpuSurge: 0\n")
    assert dump_commented({"a": 1}, {}) == dump_yaml({"a": 1})


def test_a_key_that_ends_its_own_dump_ends_the_document_once() -> None:
    """A key YAML writes as a kept block (`? |+`) ends its own dump with `...`: written between
    two keys it would end the document there, so it goes once at the end, as in the whole
    document's dump, and the comments stay (found by the property test above)."""
    document: dict[str, Any] = {"y": [], "0\n\n": []}
    text = dump_commented(document, {"y": "why"})
    assert text == '? |+\n  0\n\n: []\n# why\n"y": []\n...\n'
    assert "".join(line for line in text.splitlines(True) if line[0] != "#") == dump_yaml(document)
    assert YAML(typ="safe", pure=True).load(io.StringIO(text)) == document
