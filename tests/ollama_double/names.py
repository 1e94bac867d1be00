"""Ollama model names, parsed the way the server does.

Facts (../shared/notes/ollama.md "Model store layout"; ollama/ollama types/model/name.go):
- `ParseNameBare`: the tag follows the last ':' when it comes after the last '/'; then, from the
  right, model, namespace and host (a `scheme://` prefix on the host is dropped). So `a/b` is
  namespace `a`, model `b`, whatever `a` looks like.
- Missing parts default to host `registry.ollama.ai`, namespace `library`, tag `latest`.
- `DisplayShortest` (what `/api/tags`, `/api/ps`, `ollama list` and `ollama ps` print) drops the
  default host with the namespace, or only the default namespace: `phi:latest`,
  `team/phi:latest`, `reg.local:5000/team/phi:latest`.
- Names are matched case-insensitively; the on-disk manifest path is
  `manifests/<host>/<namespace>/<model>/<tag>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
# types/model/name.go isValidPart: a part starts with a letter, digit or '_'; a namespace takes
# no '.', only a host takes ':'.
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")


class InvalidNameError(ValueError):
    pass


@dataclass(frozen=True)
class Name:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def key(self) -> str:
        """Case-insensitive identity."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".lower()

    @property
    def path_parts(self) -> tuple[str, str, str, str]:
        return (self.host, self.namespace, self.model, self.tag)


def parse_name(text: str) -> Name:
    rest = text
    tag = ""
    if rest.rfind(":") > rest.rfind("/"):
        rest, tag = rest.rsplit(":", 1)
    parts = rest.split("/")
    # cutPromised: a separator promises a part; an empty one makes the name invalid.
    if "" in parts or (text.rfind(":") > text.rfind("/") and not tag):
        raise InvalidNameError(f"invalid model name: {text}")
    model = parts[-1]
    namespace = parts[-2] if len(parts) >= 2 else ""
    host = "/".join(parts[:-2]) if len(parts) >= 3 else ""
    if "://" in host:
        host = host.split("://", 1)[1]
    name = Name(
        host=host or DEFAULT_HOST,
        namespace=namespace or DEFAULT_NAMESPACE,
        model=model,
        tag=tag or DEFAULT_TAG,
    )
    if not (
        _HOST.match(name.host)
        and _NAMESPACE.match(name.namespace)
        and _PART.match(name.model)
        and _PART.match(name.tag)
    ):
        raise InvalidNameError(f"invalid model name: {text}")
    return name
