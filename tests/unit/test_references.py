"""Ollama model references parse and normalize the way Ollama's own name parser does."""

from __future__ import annotations

import pytest

from catalog_gen.references import InvalidReferenceError, parse_model_reference


@pytest.mark.parametrize(
    ("text", "canonical", "short"),
    [
        ("phi", "registry.ollama.ai/library/phi:latest", "phi:latest"),
        ("phi:latest", "registry.ollama.ai/library/phi:latest", "phi:latest"),
        ("library/phi:2.7b", "registry.ollama.ai/library/phi:2.7b", "phi:2.7b"),
        ("team/phi", "registry.ollama.ai/team/phi:latest", "team/phi:latest"),
        (
            "Registry.Example.com/team/llama3:8b",
            "registry.example.com/team/llama3:8b",
            "registry.example.com/team/llama3:8b",
        ),
        ("localhost:5000/m/x:1", "localhost:5000/m/x:1", "localhost:5000/m/x:1"),
        (
            "qwen2.5:0.5b-instruct-q4_K_M",
            "registry.ollama.ai/library/qwen2.5:0.5b-instruct-q4_K_M",
            "qwen2.5:0.5b-instruct-q4_K_M",
        ),
    ],
)
def test_normalizes_like_ollama(text: str, canonical: str, short: str) -> None:
    reference = parse_model_reference(text)
    assert reference.canonical == canonical
    assert reference.short == short


def test_default_registry_applies_to_names_without_a_host() -> None:
    mirror = "mirror.internal.example:5000"
    assert parse_model_reference("phi", mirror).canonical == f"{mirror}/library/phi:latest"
    assert parse_model_reference("a.example/ns/phi", mirror).registry == "a.example"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("phi@sha256:" + "a" * 64, "cannot pull by digest"),
        ("myreg.io/phi", "as namespace 'myreg.io' on the default registry"),
        ("localhost:5000/phi", "name the namespace too"),
        ("", "not a valid Ollama model name"),
        ("phi:", "not a valid Ollama model name"),
        ("-phi", "not a valid Ollama model name"),
        ("a/b/c/d", "not a valid Ollama model name"),
        ("phi:tag with space", "not a valid Ollama model name"),
    ],
)
def test_rejects_what_ollama_would_misread(text: str, reason: str) -> None:
    with pytest.raises(InvalidReferenceError, match=reason):
        parse_model_reference(text)
