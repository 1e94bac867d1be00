"""How catalog-gen names bytes by their content (a leaf for the cache's key, an emitted file for
the write record and the cache): sha256, in hex. One definition, since a digest taken in one
stage is compared with one taken in another (a file hashed where it was emitted, by the writer)."""

from __future__ import annotations

import hashlib


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
