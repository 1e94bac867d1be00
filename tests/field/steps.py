"""The field trial's steps: the CLI calls and HTTP requests whose answers were recorded from the
real `ollama` (tests/field/record.py) and are replayed against the double
(tests/scripts/test_double_contract.py). One list, two runners.

A step is `{"id", "cli": [args]}` or `{"id", "http": [method, path, body]}`, optional `files`
(written to the work folder first) and `phase`: `no-server` steps run before `ollama serve`
starts, `model` steps after the pulls (the generation model is in the store), `loaded` steps
only with a runner that can load models (the v0.24.0 full build).

Placeholders in arguments, bodies and recorded output: `{registry}` the loopback registry
(host:port) holding the test model as `{registry}/oil/tiny:1`, a docker-registry behind a front that
redirects blob downloads (tests/support/blob_redirect.py), `{direct}` the same registry without
the front, `{down}` a loopback port where nothing listens, `{dir}` the work folder, `{models}`
OLLAMA_MODELS, `{home}` HOME, `{host}` OLLAMA_HOST, `{seed}` the store of the server that created
and pushed the model.
"""

from __future__ import annotations

from typing import Any

MODEL = "{registry}/oil/tiny:1"
DERIVED = "oil-derived:1"
DERIVED_MODELFILE = (
    'FROM {registry}/oil/tiny:1\nSYSTEM """You answer in one word."""\nPARAMETER temperature 0\n'
)

Step = dict[str, Any]

NO_SERVER: list[Step] = [
    {"id": "no-server-list", "cli": ["list"]},
    {"id": "no-server-ps", "cli": ["ps"]},
    {"id": "no-server-show", "cli": ["show", MODEL]},
    {"id": "no-server-pull", "cli": ["pull", "--insecure", MODEL]},
]

EMPTY_STORE: list[Step] = [
    {"id": "http-get-root", "http": ["GET", "/", None]},
    {"id": "http-head-root", "http": ["HEAD", "/", None]},
    {"id": "list-empty", "cli": ["list"]},
    {"id": "ps-empty", "cli": ["ps"]},
    {"id": "http-tags-empty", "http": ["GET", "/api/tags", None]},
    {"id": "http-ps-empty", "http": ["GET", "/api/ps", None]},
    {"id": "show-missing", "cli": ["show", "nope"]},
    {"id": "show-missing-tagged", "cli": ["show", "oil/nope:2"]},
    {"id": "http-show-missing", "http": ["POST", "/api/show", {"model": "nope"}]},
    {"id": "rm-missing", "cli": ["rm", "nope"]},
    {"id": "pull-plain-http-without-insecure", "cli": ["pull", "{direct}/oil/tiny:1"]},
    {"id": "pull-registry-down", "cli": ["pull", "--insecure", "{down}/oil/tiny:1"]},
    {"id": "pull-tag-missing", "cli": ["pull", "--insecure", "{registry}/oil/tiny:404"]},
    {
        "id": "http-pull-missing-no-stream",
        "http": [
            "POST",
            "/api/pull",
            {"model": "{registry}/oil/tiny:404", "insecure": True, "stream": False},
        ],
    },
    {
        "id": "http-pull-missing-stream",
        "http": ["POST", "/api/pull", {"model": "{registry}/oil/tiny:404", "insecure": True}],
    },
    {
        "id": "pull-registry-serves-blobs-itself",
        "cli": ["pull", "--insecure", "{direct}/oil/tiny:1"],
    },
    {"id": "list-after-failed-pull", "cli": ["list"]},
    {"id": "pull-cold", "cli": ["pull", "--insecure", MODEL]},
]

MODEL_STEPS: list[Step] = [
    {"id": "pull-warm", "cli": ["pull", "--insecure", MODEL]},
    {"id": "list-one", "cli": ["list"]},
    {"id": "list-prefix-miss", "cli": ["list", "zzz"]},
    {"id": "http-tags-one", "http": ["GET", "/api/tags", None]},
    {"id": "show-model", "cli": ["show", MODEL]},
    {"id": "show-model-lowercase-name", "cli": ["show", "{registry}/OIL/Tiny:1"]},
    {"id": "ps-not-loaded", "cli": ["ps"]},
    {
        "id": "create-derived",
        "cli": ["create", DERIVED, "-f", "{dir}/Modelfile"],
        "files": {"Modelfile": DERIVED_MODELFILE},
    },
    {
        "id": "create-from-unreachable",
        "cli": ["create", "oil-y:1", "-f", "{dir}/Modelfile.bad"],
        "files": {"Modelfile.bad": "FROM {down}/oil/absent:9\n"},
    },
    {"id": "list-two", "cli": ["list"]},
    {"id": "cp-model", "cli": ["cp", DERIVED, "oil-copy:1"]},
    {"id": "cp-missing", "cli": ["cp", "nope", "nope2"]},
    {"id": "rm-copy", "cli": ["rm", "oil-copy:1"]},
    {"id": "stop-not-loaded", "cli": ["stop", DERIVED]},
    {"id": "stop-missing", "cli": ["stop", "nope"]},
    {
        "id": "http-generate-missing",
        "http": ["POST", "/api/generate", {"model": "nope", "stream": False}],
    },
    {"id": "http-embed-missing", "http": ["POST", "/api/embed", {"model": "nope", "input": "x"}]},
]

LOADED_STEPS: list[Step] = [
    {"id": "run-load-forever", "cli": ["run", MODEL, "", "--keepalive=-1m"]},
    {"id": "ps-loaded-forever", "cli": ["ps"]},
    {"id": "http-ps-loaded", "http": ["GET", "/api/ps", None]},
    {
        "id": "http-generate-load",
        "http": ["POST", "/api/generate", {"model": MODEL, "stream": False}],
    },
    {"id": "run-keepalive-no-unit", "cli": ["run", MODEL, "", "--keepalive=-1"]},
    {"id": "run-derived-load", "cli": ["run", DERIVED, "", "--keepalive=10m"]},
    {"id": "ps-derived-shares-runner", "cli": ["ps"]},
    {"id": "stop-loaded", "cli": ["stop", DERIVED]},
    {"id": "ps-after-stop", "cli": ["ps"]},
    {
        "id": "http-generate-unload",
        "http": ["POST", "/api/generate", {"model": MODEL, "keep_alive": 0, "stream": False}],
    },
    {"id": "http-embed-empty", "http": ["POST", "/api/embed", {"model": MODEL, "input": ""}]},
    {"id": "http-embed", "http": ["POST", "/api/embed", {"model": MODEL, "input": "ready"}]},
    {"id": "rm-loaded", "cli": ["rm", DERIVED]},
    {"id": "ps-after-rm", "cli": ["ps"]},
]


def all_steps(loaded: bool) -> list[tuple[str, Step]]:
    """(phase, step) in the order they run."""
    phases = [("no-server", NO_SERVER), ("empty", EMPTY_STORE), ("model", MODEL_STEPS)]
    if loaded:
        phases.append(("loaded", LOADED_STEPS))
    return [(phase, step) for phase, steps in phases for step in steps]
