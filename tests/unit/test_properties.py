"""Property tests: whatever a leaf says, catalog-gen answers 0 or 1, never 2 or a traceback; and
render is idempotent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_gen.write.writer import read_tree
from tests.unit.helpers import make_catalog, run_cli

KEYS = [
    "workloadType",
    "serviceName",
    "serviceCatalog",
    "namespace",
    "environment",
    "model",
    "models",
    "derivedModels",
    "gpu",
    "ingress",
    "gateway",
    "container",
    "cache",
    "ollama",
    "owner",
    "description",
    "resourcesPreset",
    "chartValues",
    "replicas",
    "count",
    "enabled",
    "host",
    "name",
    "from",
    "embedding",
    "resources",
    "requests",
    "limits",
    "cpu",
    "memory",
    "mode",
    "size",
    "accessModes",
    "numParallel",
    "keepAlive",
    "parameters",
    "system",
    "parentRef",
    "additionalHostnames",
    "replicaCount",
    "nodeSelector",
    "existingClaim",
]
WORDS = [
    "OLLAMA_INFERENCE_LOAD",
    "svc",
    "ml",
    "dev",
    "phi",
    "phi:latest",
    "llama3.2:3b",
    "a/b/c",
    "x@sha256:00",
    "500m",
    "2Gi",
    "4Gi",
    "-1",
    "1e3",
    "*.example.com",
    "svc.example.com",
    "sharedPVC",
    "perReplica",
    "emptyDir",
    "ReadWriteOnce",
    "ReadWriteMany",
    "group:ml",
    "",
    "\u00e9t\u00e9",
    "auto",
    '"""',
    "temperature",
    "10.0.0.1",
    "UPPER",
    "a" * 70,
]
scalars = st.one_of(
    st.sampled_from(WORDS),
    st.integers(min_value=-3, max_value=10**12),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=20,
)
BASE: dict[str, Any] = {
    "workloadType": "OLLAMA_INFERENCE_LOAD",
    "serviceName": "svc",
    "serviceCatalog": "ml-inference",
    "namespace": "ml",
    "environment": "dev",
    "model": "phi:latest",
}
leaves = st.builds(
    lambda changes, removed: {
        **{key: value for key, value in BASE.items() if key not in removed},
        **changes,
    },
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
    st.sets(st.sampled_from(sorted(BASE)), max_size=2),
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(leaf=leaves)
def test_random_leaves_never_crash(leaf: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_catalog(root, {"dev/ml/svc.yaml": yaml.safe_dump(leaf, allow_unicode=True)})
        outcome = run_cli(root, "validate")
        assert outcome.code in (0, 1), outcome.stderr
        assert "Traceback" not in outcome.stderr + outcome.stdout
        if outcome.code == 1:
            assert outcome.stdout.startswith("catalog/")


@SETTINGS
@given(text=st.text(max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_catalog(root, {"dev/ml/svc.yaml": text})
        outcome = run_cli(root, "validate")
        assert outcome.code == 1, outcome.stderr  # no random text is a complete leaf
        assert "internal error" not in outcome.stderr


@settings(max_examples=25, deadline=None)
@given(
    replicas=st.integers(min_value=0, max_value=3),
    gpus=st.integers(min_value=0, max_value=1),
    mode=st.sampled_from(["emptyDir", "perReplica"]),
    exposed=st.booleans(),
    models=st.lists(
        st.sampled_from(["phi", "qwen2.5:0.5b", "llama3.2:3b"]), min_size=1, max_size=3, unique=True
    ),
)
def test_render_is_idempotent(
    replicas: int, gpus: int, mode: str, exposed: bool, models: list[str]
) -> None:
    leaf = {
        **BASE,
        "model": None,
        "models": models,
        "gpu": {"count": gpus},
        "container": {"replicas": replicas},
        "cache": {"mode": mode},
        "ingress": {"enabled": exposed},
    }
    del leaf["model"]
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_catalog(root, {"dev/ml/svc.yaml": yaml.safe_dump(leaf)})
        assert run_cli(root, "render").code == 0
        first = read_tree(root / "generated")
        assert run_cli(root, "render").code == 0
        assert read_tree(root / "generated") == first
        assert run_cli(root, "check").code == 0
        shutil.rmtree(root / "generated")
