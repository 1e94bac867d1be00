"""OLLAMA_HOST, read as envconfig.Host reads it: `[scheme://]host[:port]`, default
`127.0.0.1:11434` (../shared/notes/ollama.md "Server environment")."""

from __future__ import annotations


def parse_host(value: str | None) -> tuple[str, int]:
    text = (value or "").strip() or "127.0.0.1:11434"
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "11434")
    return (host or "127.0.0.1"), int(port or 11434)
