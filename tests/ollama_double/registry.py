"""The double's pull from a real OCI registry (plain http on loopback, e.g. Debian's
docker-registry started by a test), with the error texts of the real server.

Used for names whose host carries a port and is not described in the control file's `registry`.
Facts reproduced (recorded from ollama 0.32.0, tests/fixtures/ollama-real/; ollama/ollama
server/images.go pullModelManifest, server/download.go, net/http):
- the manifest is `GET {scheme}://{host}/v2/{namespace}/{model}/manifests/{tag}`; the scheme is
  `http` with `insecure`, else `https`;
- a 404 is `pull model manifest: file does not exist`;
- nothing listening: `pull model manifest: Get "{url}": dial tcp {host}: connect: connection
  refused`; a host that does not resolve: `... dial tcp: lookup {host}: no such host`;
- https against a plain-http registry: `pull model manifest: Get "{url}": http: server gave HTTP
  response to HTTPS client`. The double never speaks TLS: every registry it reaches is taken
  to be plain http, so without `insecure` a reachable registry always gives this error.
- a blob missing from the store is downloaded only if the registry answers its GET with a
  redirect (307) to another host name, as registry.ollama.ai does (to its CDN); a registry that
  serves the blob itself (docker-registry on a filesystem) fails with `http: no Location header
  in response` (server/download.go; ollama/ollama#7244). Blobs already in the store are not
  fetched, so a warm pull works against any registry.
Blobs are read into memory (test models are small) and checked against their digests by the
caller, as the real download is.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

from tests.ollama_double.names import Name
from tests.ollama_double.store import Blob, RemoteModel

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
TIMEOUT_S = 30


class RegistryError(Exception):
    """The message the real server would report for the pull."""


def _split_host(host: str) -> tuple[str, int]:
    address, _, port = host.rpartition(":")
    return address, int(port)


def _get(host: str, path: str, accept: str | None = None) -> bytes:
    address, port = _split_host(host)
    connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Accept": accept} if accept else {})
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    if answer.status == 404:
        raise RegistryError("file does not exist")
    if answer.status >= 400:  # makeRequestWithRetry: "%d: %s", the status and the body as sent
        raise RegistryError(f"{answer.status}: {data.decode(errors='replace')}")
    if answer.status != 200:
        raise RegistryError(f"{answer.status} {answer.reason}")
    return data


def download_blob(url: str) -> bytes:
    """blobDownload.run (server/download.go): the blob URL must answer with a redirect to another
    host name, whose target is then downloaded; a registry serving the blob itself fails."""
    parts = urllib.parse.urlsplit(url)
    address, port = _split_host(parts.netloc)
    connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", parts.path)
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    location = answer.getheader("Location")
    if answer.status not in (200, 307):
        raise RegistryError(f"unexpected status code {answer.status}")
    if answer.status == 200 or not location:
        raise RegistryError("http: no Location header in response")
    target = urllib.parse.urlsplit(urllib.parse.urljoin(url, location))
    return _get(target.netloc, target.path + (f"?{target.query}" if target.query else ""))


def _connect_error(name: Name, url: str) -> str | None:
    """Go's dial error for the registry, or None when something listens there."""
    address, port = _split_host(name.host)
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT_S):
            return None
    except socket.gaierror:
        return f'Get "{url}": dial tcp: lookup {address}: no such host'
    except ConnectionRefusedError:
        return f'Get "{url}": dial tcp {name.host}: connect: connection refused'
    except OSError as error:
        return f'Get "{url}": dial tcp {name.host}: {error.strerror or error}'


def fetch_remote(name: Name, insecure: bool) -> RemoteModel:
    """The registry's manifest, and its blobs to download on demand; RegistryError with the
    server's message."""
    scheme = "http" if insecure else "https"
    path = f"/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
    url = f"{scheme}://{name.host}{path}"
    dial = _connect_error(name, url)
    if dial is not None:
        raise RegistryError(f"pull model manifest: {dial}")
    if not insecure:
        raise RegistryError(
            f'pull model manifest: Get "{url}": http: server gave HTTP response to HTTPS client'
        )
    try:
        manifest = _get(name.host, path, MANIFEST_ACCEPT)
    except RegistryError as error:
        raise RegistryError(f"pull model manifest: {error}") from error
    body = json.loads(manifest)
    blobs = []
    # pullModel fetches the layers, then the config.
    for layer in [*body["layers"], body["config"]]:
        digest = str(layer["digest"])
        blob_url = f"{scheme}://{name.host}/v2/{name.namespace}/{name.model}/blobs/{digest}"
        blobs.append(Blob(str(layer["mediaType"]), digest, int(layer["size"]), url=blob_url))
    return RemoteModel(name, manifest, tuple(blobs))
