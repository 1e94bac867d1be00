"""A small OCI distribution client: resolve an Ollama model tag to its manifest digest and facts.

Standard library only (http.client), so the generator gains no runtime dependency. What it does,
and why:

* ``GET /v2/<namespace>/<name>/manifests/<tag>`` with the Docker v2 manifest Accept header
  alone (what Ollama's own pull sends, server/images.go pullModelManifest: a registry that varies
  by Accept serves the lock what it serves the pod).
* The digest is the sha256 of the exact manifest bytes: that is what Ollama stores and reports in
  ``/api/tags``. A ``Docker-Content-Digest`` header that disagrees is an error, not a warning.
* Token auth as Ollama 0.32.0's pull does it (server/auth.go getAuthorizationToken), so that
  what the lock pins is what the pods can pull: a 401 with ``WWW-Authenticate: Bearer
  realm=...,service=...,scope=...`` is answered by fetching a token anonymously from the realm
  (redirects followed) and retrying once. What Ollama's pull cannot do is an error, not a pin:
  a realm on another host (or port) than the registry's, a token answer without ``token``
  (``access_token`` alone), a Basic challenge, a registry or token service that wants
  credentials (Ollama sends none). Tokens are cached per realm, service and scope.
* Connections are kept alive per (scheme, host, port) and shared by a bounded worker pool.
* Transient failures (connection errors, timeouts, 429, 500, 502, 503, 504) are retried on a
  deterministic exponential schedule; ``Retry-After`` on 429/503 is honoured up to a cap.
* The config blob (``GET /v2/<repo>/blobs/<digest>``, redirects followed) is read for the facts
  Ollama shows as family, parameter size and quantization (types/model/config.go ConfigV2:
  ``model_family``, ``model_type``, ``file_type``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where a connection is made instead: every command imports this module (the
    # lock's types), only `lock` talks to a registry, and these cost the others 15 ms at start.
    import http.client
    import ssl

from catalog_gen.problems import printable
from catalog_gen.references import ModelReference

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST_V1 = "application/vnd.oci.image.manifest.v1+json"
# Exactly what Ollama 0.32.0 asks for (server/images.go pullModelManifest): a registry that holds
# only an OCI manifest refuses Ollama's pull (Distribution: 404 "OCI manifest found, but accept
# header does not support OCI manifests"), so the lock must not pin it either. An OCI manifest
# served anyway (a registry that ignores Accept) is what Ollama gets too, and is read.
MANIFEST_ACCEPT = DOCKER_MANIFEST_V2
_MANIFEST_LISTS = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)

# Layer media types Ollama reads (server/images.go GetModel, manifest/layer.go, x/create). A media
# type may carry parameters ("application/vnd.ollama.image.tensor; name=..."); only the base is
# checked. "prompt" and "embed" are legacy types Ollama still accepts.
WEIGHT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.ollama.image.model",
        "application/vnd.ollama.image.projector",
        "application/vnd.ollama.image.adapter",
        "application/vnd.ollama.image.draft",
        "application/vnd.ollama.image.tensor",
    }
)
OLLAMA_LAYER_MEDIA_TYPES = WEIGHT_MEDIA_TYPES | frozenset(
    {
        "application/vnd.ollama.image.template",
        "application/vnd.ollama.image.params",
        "application/vnd.ollama.image.license",
        "application/vnd.ollama.image.system",
        "application/vnd.ollama.image.messages",
        "application/vnd.ollama.image.json",
        "application/vnd.ollama.image.prompt",
        "application/vnd.ollama.image.embed",
    }
)
MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
TENSOR_MEDIA_TYPE = "application/vnd.ollama.image.tensor"
# A runnable model has GGUF weights ("model") or safetensors tensors ("tensor").
_RUNNABLE_MEDIA_TYPES = frozenset({MODEL_MEDIA_TYPE, TENSOR_MEDIA_TYPE})
CONFIG_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.ollama.image.config",
    }
)

# The distribution spec lets registries refuse manifests over 4 MiB; configs are a few hundred
# bytes. Anything bigger is not an Ollama model and is not read into memory.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# The most bytes a model (all its layers together) may have: 1 PiB. The largest published models
# are about 2**40 bytes (a 671B-parameter model at 16 bits: 1.3 TB), so a thousand times that is
# no model but a damaged manifest or lock; sizing turns these bytes into memory requests and
# volume sizes, and a value of 2**53 or more would no longer be exact as a JSON number (Helm's
# values, Go's float64).
MAX_MODEL_BYTES = 2**50
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_TOKEN_BYTES = 1024 * 1024
_MAX_REDIRECTS = 5
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')
USER_AGENT = "catalog-gen (ollama-inference-load)"
# Why a registry Ollama cannot pull from anonymously is an error: what the lock pins must be what
# the pods' `ollama pull` can fetch, and Ollama 0.32.0 sends no credentials (api/types.go marks
# PullRequest's Username and Password "Deprecated: ignored").
_ANONYMOUS = "Ollama's pull sends no credentials, so the pods could not pull it either"


class RegistryError(Exception):
    """One model could not be resolved; the message says why in words a user can act on."""


@dataclass(frozen=True)
class RegistryConfig:
    """How to reach the registry a reference names (the host comes from the reference)."""

    insecure: bool = False  # plain http, as Ollama's `pull --insecure`


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries on a fixed schedule (no jitter, so tests and logs are reproducible).

    Delay before retry n (0-based) is min(first_delay * multiplier**n, max_delay); a Retry-After
    header on 429/503 replaces it, capped at retry_after_cap.
    """

    attempts: int = 4
    first_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 8.0
    retry_after_cap: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        return min(self.first_delay * self.multiplier**retry, self.max_delay)


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str  # sha256:<hex>
    size: int

    @property
    def base_media_type(self) -> str:
        return self.media_type.split(";", 1)[0].strip()


@dataclass(frozen=True)
class ModelConfigFacts:
    """What Ollama's config blob says (ConfigV2); each fact is None when absent."""

    family: str | None = None
    parameter_size: str | None = None  # ConfigV2.model_type, e.g. "8.0B"
    quantization: str | None = None  # ConfigV2.file_type, e.g. "Q4_K_M"


@dataclass(frozen=True)
class RemoteModel:
    reference: ModelReference
    registry_url: str  # scheme://host, where it was resolved
    digest: str  # 64 hex, no "sha256:" prefix, as /api/tags reports it
    config: Layer
    layers: tuple[Layer, ...]
    facts: ModelConfigFacts


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    url: str


class _TransientError(Exception):
    """A failure worth retrying; carries the Retry-After the server asked for, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_Key = tuple[str, str, int]  # scheme, host, port


class _ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port); a connection serves one thread."""

    def __init__(self, timeout: float, reuse: bool, ssl_context: ssl.SSLContext) -> None:
        self._timeout = timeout
        self._reuse = reuse
        self._ssl_context = ssl_context
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, key: _Key) -> tuple[http.client.HTTPConnection, bool]:
        import http.client  # noqa: PLC0415 - see the imports at the top

        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        scheme, host, port = key
        if scheme == "https":
            return (
                http.client.HTTPSConnection(
                    host, port, timeout=self._timeout, context=self._ssl_context
                ),
                False,
            )
        return http.client.HTTPConnection(host, port, timeout=self._timeout), False

    def give_back(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        if not self._reuse:
            connection.close()
            return
        with self._lock:
            self._idle.setdefault(key, []).append(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


class RegistryClient:
    """Thread-safe; share one per `catalog-gen lock` run and close it (or use `with`)."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        reuse_connections: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        import ssl  # noqa: PLC0415 - see the imports at the top

        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._pool = _ConnectionPool(
            timeout, reuse_connections, ssl_context or ssl.create_default_context()
        )
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._tokens_lock = threading.Lock()
        # Registry (scheme, host[:port]) -> where its blobs were served from after a redirect to
        # another origin (blob storage, a CDN): what a NetworkPolicy must let the pods reach.
        self.blob_origins: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._origins_lock = threading.Lock()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()

    # -- public API -----------------------------------------------------------------------------

    def resolve(self, reference: ModelReference, config: RegistryConfig) -> RemoteModel:
        """Manifest digest, layers and config facts of one tag; raises RegistryError."""
        base = registry_base_url(reference.registry, insecure=config.insecure)
        repository = urllib.parse.quote(reference.repository, safe="/")
        tag = urllib.parse.quote(reference.tag, safe="")
        url = f"{base}/v2/{repository}/manifests/{tag}"
        response = self._get(
            url, config, accept=MANIFEST_ACCEPT, max_body=MAX_MANIFEST_BYTES, what="manifest"
        )
        digest = _verify_manifest_digest(response)
        manifest_config, layers = parse_manifest(response.body, response.headers)
        # server/images.go hasTensorLayers: the exact media type, no parameters.
        tensors = any(layer.media_type == TENSOR_MEDIA_TYPE for layer in layers)
        facts = self._read_config(base, repository, manifest_config, config, tensors=tensors)
        return RemoteModel(reference, base, digest, manifest_config, layers, facts)

    # -- internals ------------------------------------------------------------------------------

    def _read_config(
        self,
        base: str,
        repository: str,
        config_layer: Layer,
        config: RegistryConfig,
        *,
        tensors: bool = False,
    ) -> ModelConfigFacts:
        """The config blob's facts, fetched as Ollama's pull fetches a blob (tensors: a model of
        tensor layers, which Ollama fetches through x/transfer, without blobDownload's rule)."""
        if config_layer.size > MAX_CONFIG_BYTES:
            raise RegistryError(
                f"config blob {config_layer.digest} is {config_layer.size} bytes, more than an "
                f"Ollama model config ({MAX_CONFIG_BYTES} bytes at most)"
            )
        url = f"{base}/v2/{repository}/blobs/{config_layer.digest}"
        response = self._get(
            url,
            config,
            accept="*/*",
            max_body=MAX_CONFIG_BYTES,
            what="config",
            by_digest=True,
            ollama_blob=not tensors,
        )
        actual = "sha256:" + hashlib.sha256(response.body).hexdigest()
        if actual != config_layer.digest:
            raise RegistryError(
                f"config blob content does not match its digest: manifest says "
                f"{config_layer.digest}, content hashes to {actual}"
            )
        return parse_config_facts(response.body)

    def _note_blob_origin(self, registry: tuple[str, str], url: str, ollama_blob: bool) -> None:
        """Where a blob was served from, when not the registry's own origin (blob_origins)."""
        if ollama_blob and _origin(url) != registry:
            with self._origins_lock:
                self.blob_origins.setdefault(registry, set()).add(_origin(url))

    def _get(
        self,
        url: str,
        config: RegistryConfig,
        *,
        accept: str,
        max_body: int,
        what: str,
        by_digest: bool = False,
        ollama_blob: bool = False,
    ) -> _Response:
        """GET with auth challenges and redirects handled; any non-200 becomes a RegistryError.
        by_digest: the caller checks the bytes against a digest it already trusts (a blob), so
        a redirect from https to plain http cannot change what is pinned. ollama_blob: the
        redirects Ollama's blob downloader needs (_Hops)."""
        origin = _origin(url)
        authorization = ""
        challenges = 0  # a second one after a cached token: it expired, fetch a new one
        hops = _Hops(url, what, ollama_blob)
        while True:
            headers = {"Accept": accept, "User-Agent": USER_AGENT}
            # The token goes only to the registry itself, never to a redirect target (blob
            # storage such as S3 or a CDN rejects them, and must not see them).
            if authorization and _origin(url) == origin:
                headers["Authorization"] = authorization
            response = self._send_with_retries(url, headers, max_body, what)
            if response.status == 200:
                if (onward := hops.served(url, response)) is None:
                    self._note_blob_origin(origin, url, ollama_blob)
                    return response
                url = onward
                continue
            if response.status in _REDIRECT_STATUS and "location" in response.headers:
                target = hops.redirected(url, response)
                if url.startswith("https:") and not target.startswith("https:") and not by_digest:
                    # The pin is what pull-models trusts later: bytes fetched in the clear could
                    # be anyone's (a plain-http token realm is refused for the same reason).
                    raise RegistryError(
                        f"the registry redirected the {what} from {url} to {target}, which is "
                        "not https: refusing to pin bytes fetched over an unencrypted "
                        "connection (mark the registry insecure if it is meant to be plain http)"
                    )
                url = target
                continue
            # A second challenge only after a token (it may have expired since it was cached):
            # a password the registry refused is refused again, and some lock accounts out.
            retry = challenges == 0 or (challenges == 1 and authorization.startswith("Bearer "))
            if response.status == 401 and retry and _origin(url) == origin:
                challenges += 1
                authorization = self._answer_challenge(response, config, fresh=challenges > 1)
                continue
            message = _status_message(response, what)
            if response.status == 401 and _origin(url) == origin:
                message += "; " + _anonymous_verdict(response)
            elif response.status == 401:  # a redirect target: it never gets the token
                message += (
                    f"; the registry redirected the {what} to {_origin(url)[1]}, which wants "
                    "credentials; the registry's token goes only to the registry itself"
                )
            raise RegistryError(message)

    def _answer_challenge(
        self, response: _Response, config: RegistryConfig, *, fresh: bool = False
    ) -> str:
        """The Authorization header a 401's Bearer challenge asks for (fresh: not a cached
        token); any other challenge is one Ollama's pull cannot answer."""
        header = response.headers.get("www-authenticate", "")
        scheme, params = _challenge(header)
        if scheme.lower() == "bearer" and params.get("realm") and 'realm="' not in header:
            # Ollama reads the realm after `realm="` up to the next quote (server/images.go
            # getValue): an unquoted realm becomes a URL it cannot fetch.
            raise RegistryError(
                f"the registry answered 401 at {response.url} with an unquoted realm "
                f"({header}): Ollama's pull reads the realm only between quotes, so the pods "
                "could not fetch a token from it"
            )
        if scheme.lower() != "bearer" or not params.get("realm"):
            host = urllib.parse.urlsplit(response.url).netloc
            raise RegistryError(
                f"the registry at {host} answered 401 at {response.url} with "
                f"{header or 'no WWW-Authenticate challenge'}: Ollama's pull answers only a "
                f"Bearer token challenge, and {_ANONYMOUS}; serve the models from a registry "
                "that allows anonymous pulls"
            )
        return "Bearer " + self._token(
            params["realm"],
            params.get("service", ""),
            params.get("scope", ""),
            config,
            registry=response.url,
            fresh=fresh,
        )

    def _token(
        self,
        realm: str,
        service: str,
        scope: str,
        config: RegistryConfig,
        *,
        registry: str,
        fresh: bool = False,
    ) -> str:
        """An anonymous token for scope from realm, for the registry at the URL registry, cached
        for the run; fresh: the cached one was refused (tokens expire, Distribution's after 60 s
        by default), so a new one is fetched."""
        key = (realm, service, scope)
        with self._tokens_lock:
            cached = None if fresh else self._tokens.get(key)
        if cached is not None:
            return cached
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise RegistryError(f"token realm {realm!r} is not an http(s) URL")
        host = urllib.parse.urlsplit(registry).netloc
        if parsed.netloc.rpartition("@")[2] != host:
            raise RegistryError(
                f"the registry at {host} hands out tokens from {realm}, on another host: "
                "Ollama's pull refuses a token realm whose host (and port) is not the "
                "registry's (server/auth.go: realm host does not match original host), so the "
                "pods could not pull from it; serve the models from a registry that answers "
                "its own token requests, or allows anonymous pulls"
            )
        response = self._token_response(_token_url(parsed, service, scope), config, realm)
        if response.status == 401:
            raise RegistryError(
                f"token service {realm} refused an anonymous token (HTTP 401): {_ANONYMOUS}"
            )
        if response.status != 200:
            raise RegistryError(_status_message(response, "token"))
        try:
            document = json.loads(response.body)
        except ValueError as error:
            raise RegistryError(f"token service {realm} answered with invalid JSON") from error
        token = document.get("token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            also = isinstance(document, dict) and document.get("access_token")
            raise RegistryError(
                f"token service {realm} answered without a `token`"
                + (
                    " (with an `access_token` only, which Ollama's pull does not read: it would "
                    "pull without a token and be refused)"
                    if also
                    else ""
                )
            )
        with self._tokens_lock:
            self._tokens[key] = token
        return token

    def _token_response(self, url: str, config: RegistryConfig, realm: str) -> _Response:
        """The token service's answer, its redirects followed (as Go's client follows them);
        a token is never fetched over plain http from a registry that is not insecure."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        for _ in range(_MAX_REDIRECTS + 1):
            if url.startswith("http:") and not config.insecure:
                raise RegistryError(
                    f"token realm {realm} leads to {url}, plain http, but the registry is not "
                    "marked insecure; refusing to fetch a token over an unencrypted connection"
                )
            response = self._send_with_retries(url, headers, MAX_TOKEN_BYTES, "token")
            location = response.headers.get("location")
            if response.status not in _REDIRECT_STATUS or not location:
                return response
            url = urllib.parse.urljoin(url, location)
        raise RegistryError(f"more than {_MAX_REDIRECTS} redirects fetching a token from {realm}")

    def _send_with_retries(
        self, url: str, headers: Mapping[str, str], max_body: int, what: str
    ) -> _Response:
        attempts = max(1, self.retry.attempts)
        last: _TransientError | None = None
        for attempt in range(attempts):
            if last is not None:
                self._sleep(self.retry.delay(attempt - 1, last.retry_after))
            try:
                response = self._send_once(url, headers, max_body)
            except _TransientError as error:
                last = error
                continue
            if response.status not in _RETRYABLE_STATUS:
                return response
            last = _TransientError(_status_message(response, what), _retry_after(response))
        assert last is not None
        raise RegistryError(f"{last} (gave up after {attempts} attempts)")

    def _send_once(self, url: str, headers: Mapping[str, str], max_body: int) -> _Response:
        import http.client  # noqa: PLC0415 - see the imports at the top
        import ssl  # noqa: PLC0415

        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise RegistryError(f"cannot fetch {url}: only http and https URLs are supported")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        key: _Key = (parsed.scheme, parsed.hostname, port)
        target = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        # A kept-alive connection the server has since closed fails on first use; that is not
        # the registry failing, so it gets one fresh connection outside the retry budget.
        for _ in range(2):
            connection, reused = self._pool.take(key)
            try:
                connection.request("GET", target, headers=dict(headers))
                raw = connection.getresponse()
                body = _read_body(raw, max_body, time.monotonic() + 2 * self.timeout)
            except (
                http.client.RemoteDisconnected,
                ConnectionResetError,
                BrokenPipeError,
            ) as error:
                connection.close()
                if reused:
                    continue
                raise _TransientError(f"connection to {key[1]}:{port} dropped: {error}") from error
            except TimeoutError as error:
                connection.close()
                raise _TransientError(
                    f"no answer from {key[1]}:{port} within {self.timeout:g}s ({url})"
                ) from error
            except ssl.SSLError as error:
                connection.close()
                raise _tls_refusal(error, f"{key[1]}:{port}") from error
            except http.client.IncompleteRead as error:
                connection.close()
                raise _TransientError(
                    f"the answer from {key[1]}:{port} was cut short ({len(error.partial)} bytes of "
                    f"{len(error.partial) + (error.expected or 0)} announced; {url})"
                ) from error
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                raise _TransientError(f"cannot reach {key[1]}:{port}: {error}") from error
            if len(body) > max_body:
                connection.close()
                raise RegistryError(f"response from {url} is larger than {max_body} bytes")
            response_headers = _first_headers(raw)
            if raw.will_close:
                connection.close()
            else:
                self._pool.give_back(key, connection)
            return _Response(raw.status, response_headers, body, url)
        raise _TransientError(f"connection to {key[1]}:{port} keeps dropping")


def _tls_refusal(error: ssl.SSLError, where: str) -> RegistryError:
    import ssl  # noqa: PLC0415 - see the imports at the top

    if isinstance(error, ssl.SSLCertVerificationError):
        return RegistryError(
            f"TLS certificate of {where} is not trusted: {error.verify_message}; add its CA "
            "with SSL_CERT_FILE, or mark the registry insecure if it serves plain http"
        )
    return RegistryError(
        f"TLS handshake with {where} failed ({error.reason or error}); if the registry serves "
        "plain http, mark it insecure in the environment"
    )


def _read_body(raw: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """_read_within, then the end of a chunked body (so the connection is reusable). A body cut
    before its Content-Length raises IncompleteRead: read1 gives b"" for it and raises nothing,
    the bytes owed still counted (review: a manifest cut short was pinned by the sha256 of what
    came)."""
    import http.client  # noqa: PLC0415 - see the imports at the top

    body = _read_within(raw, limit, deadline)
    if len(body) <= limit and not raw.isclosed():
        body += raw.read()
    if len(body) <= limit and raw.length:
        raise http.client.IncompleteRead(body, raw.length)
    return body


def _first_headers(raw: http.client.HTTPResponse) -> dict[str, str]:
    """Headers by lower-cased name, the first of a repeated one (as Go's Header.Get reads them:
    two WWW-Authenticate challenges, Ollama's client answers the first)."""
    headers: dict[str, str] = {}
    for name, value in raw.getheaders():
        headers.setdefault(name.lower(), value)
    return headers


def _read_within(raw: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    """Up to limit + 1 bytes of the body (one past the limit says it is too large), piece by
    piece: each read is bounded by the socket timeout, the whole by deadline (twice the
    timeout), so a server sending a byte just inside each timeout cannot hold a worker for hours
    (TimeoutError, retried like no answer)."""
    body = bytearray()
    while len(body) <= limit:
        piece = raw.read1(min(65536, limit + 1 - len(body)))
        if not piece:
            break
        body += piece
        if time.monotonic() > deadline:
            raise TimeoutError
    return bytes(body)


def registry_base_url(host: str, *, insecure: bool) -> str:
    return f"{'http' if insecure else 'https'}://{host}"


class _Hops:
    """The redirects of one GET. With ollama_blob, Ollama 0.32.0's blob downloader's
    (server/download.go blobDownload.run): redirects within the registry's host name are
    followed; the first to another host name must be a 307 (`unexpected status code N`
    otherwise); and the registry must redirect: a blob it serves itself with 200 and no
    Location fails every pull with `http: no Location header in response` (ollama/ollama#7244;
    Docker Distribution on a filesystem does that). The lock refuses what the pods' pull
    would fail on, rather than pin it."""

    def __init__(self, url: str, what: str, ollama_blob: bool) -> None:
        self.what = what
        self.host = _go_hostname(url)
        self.pending = ollama_blob  # the redirect to another host name not seen yet
        self.count = 0

    def redirected(self, url: str, response: _Response) -> str:
        """Where a redirect answer sends the GET next."""
        self.count += 1
        if self.count > _MAX_REDIRECTS:
            raise RegistryError(
                f"more than {_MAX_REDIRECTS} redirects fetching the {self.what} at {url}"
            )
        target = urllib.parse.urljoin(url, response.headers["location"])
        if self.pending and _go_hostname(target) != self.host:
            if response.status != 307:
                raise RegistryError(
                    f"the registry redirected the {self.what} blob at {url} to another host "
                    f"with {response.status}: Ollama's pull follows a redirect to another host "
                    f"only as a 307 and fails with 'unexpected status code {response.status}' "
                    f"(server/download.go); {_REDIRECTING_REGISTRY}"
                )
            self.pending = False
        return target

    def served(self, url: str, response: _Response) -> str | None:
        """None when a 200 answer is the blob; else where Ollama goes for it (Location)."""
        if not self.pending:
            return None
        location = response.headers.get("location")
        if not location:
            raise RegistryError(
                f"the registry serves the {self.what} blob at {url} itself (200) instead of "
                "redirecting it to another host: Ollama's pull downloads a blob only through "
                "such a redirect (307), as registry.ollama.ai redirects to its CDN, and fails "
                "here with 'http: no Location header in response' (ollama/ollama#7244); "
                + _REDIRECTING_REGISTRY
            )
        self.pending = False
        return urllib.parse.urljoin(url, location)


_REDIRECTING_REGISTRY = (
    "serve the models from a registry that redirects blob downloads (Docker Distribution with a "
    "cloud storage driver and redirects on, or a front that answers blob GETs with a 307)"
)


def _go_hostname(url: str) -> str:
    """Go's URL.Hostname(): the host without its port or an IPv6 literal's brackets, its case
    kept (Ollama compares host names so)."""
    host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def _origin(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme, parsed.netloc


def _token_url(realm: urllib.parse.SplitResult, service: str, scope: str) -> str:
    """The realm's URL asking for a token of scope (each scope word its own parameter)."""
    query = urllib.parse.parse_qsl(realm.query)
    if service:
        query.append(("service", service))
    query.extend(("scope", part) for part in scope.split() if part)
    return urllib.parse.urlunsplit(
        (realm.scheme, realm.netloc, realm.path or "/", urllib.parse.urlencode(query), "")
    )


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """A WWW-Authenticate challenge's scheme and its parameters (names in lower case)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme, params


def _anonymous_verdict(response: _Response) -> str:
    """What a 401 that ends the request says: the registry wants more than an anonymous token
    (an insufficient_scope challenge also comes for a repository that does not exist)."""
    _, params = _challenge(response.headers.get("www-authenticate", ""))
    if params.get("error") == "insufficient_scope":
        scope = params.get("scope") or "this repository"
        return (
            f"an anonymous token may not pull {scope} (insufficient_scope; some registries "
            f"answer so for a repository that does not exist): {_ANONYMOUS}"
        )
    return f"the registry wants credentials: {_ANONYMOUS}"


def _retry_after(response: _Response) -> float | None:
    if response.status not in {429, 503}:
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # noqa: PLC0415 - see the imports at the top

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _registry_error_detail(body: bytes) -> str:
    """The message of a distribution-spec error body ({"errors": [{"code", "message"}]})."""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(document, dict) or not isinstance(document.get("errors"), list):
        return ""
    parts = []
    for item in document["errors"]:
        if isinstance(item, dict):
            code, message, detail = item.get("code"), item.get("message"), item.get("detail")
            part = ": ".join(str(p) for p in (code, message) if p)
            # The detail says which: "unknown tag=missing", the storage driver's own error.
            if detail and isinstance(detail, (str, int, float, dict, list)):
                shown = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
                part = f"{part} ({_shortened(shown)})" if part else _shortened(shown)
            parts.append(part)
    return printable("; ".join(p for p in parts if p))


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_STATUS_HINTS = {
    401: "the registry wants credentials",
    403: "access denied",
    404: "not found, check the model name and tag",
    429: "rate limited by the registry",
}


def _status_message(response: _Response, what: str) -> str:
    hint = _STATUS_HINTS.get(response.status) or (
        "registry server error" if response.status >= 500 else "unexpected answer"
    )
    detail = _registry_error_detail(response.body)
    # Distribution's words for a tag whose manifest (or index) our Accept does not take.
    oci = next((kind for kind in ("OCI manifest", "OCI index") if kind in detail), None)
    if response.status == 404 and what == "manifest" and oci is not None:
        hint = (
            f"the tag holds an {oci}, which Ollama 0.32.0 cannot pull (it asks for "
            f"{DOCKER_MANIFEST_V2} only): push the model with `ollama push`"
        )
    if response.status == 404 and what != "manifest":
        # The manifest was found: its name and tag are right, the registry lacks this blob.
        hint = (
            f"the manifest names a {what} blob the registry does not have (a push cut short, "
            "or a blob removed by garbage collection): push the model again"
        )
    if response.status == 400 and b"HTTP request to an HTTPS server" in response.body[:200]:
        # Go's server answers a plain-http request on a TLS port so, in plain text.
        hint = (
            "the registry serves https, but the model is reached over plain http (marked "
            "insecure): drop `insecure` for this host"
        )
    text = f"fetching the {what} failed: {hint} (HTTP {response.status} from {response.url})"
    return f"{text}: {detail}" if detail else text


def _verify_manifest_digest(response: _Response) -> str:
    digest = hashlib.sha256(response.body).hexdigest()
    announced = response.headers.get("docker-content-digest", "").strip()
    if announced:
        algorithm, _, value = announced.partition(":")
        if algorithm != "sha256":
            expected = (
                hashlib.new(algorithm, response.body).hexdigest()
                if algorithm in hashlib.algorithms_guaranteed and not algorithm.startswith("shake")
                else None
            )
            if expected != value:
                raise RegistryError(
                    f"registry announced manifest digest {announced}, which the manifest bytes "
                    "do not match"
                )
        elif value != digest:
            raise RegistryError(
                f"registry announced manifest digest {announced} but the manifest bytes hash to "
                f"sha256:{digest}; the manifest was altered in transit or by a proxy"
            )
    return digest


def parse_manifest(
    body: bytes, headers: Mapping[str, str] | None = None
) -> tuple[Layer, tuple[Layer, ...]]:
    """Validate an Ollama-style image manifest; every problem found goes into one RegistryError."""
    content_type = (headers or {}).get("content-type", "").split(";", 1)[0].strip()
    if content_type in _MANIFEST_LISTS:
        raise RegistryError(
            f"the tag points at a multi-platform index ({content_type}), not an Ollama model "
            "manifest"
        )
    try:
        document: Any = json.loads(body)
    except ValueError as error:
        raise RegistryError(f"manifest is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise RegistryError("manifest is not a JSON object")
    media_type = document.get("mediaType", content_type or DOCKER_MANIFEST_V2)
    if media_type in _MANIFEST_LISTS:
        raise RegistryError(
            f"the tag points at a multi-platform index ({media_type}), not an Ollama model manifest"
        )
    errors: list[str] = []
    if document.get("schemaVersion") != 2:
        errors.append(f"schemaVersion is {document.get('schemaVersion')!r}, expected 2")
    if media_type not in {DOCKER_MANIFEST_V2, OCI_MANIFEST_V1}:
        errors.append(f"manifest media type {media_type!r} is not a Docker v2 or OCI manifest")
    config = _parse_descriptor(document.get("config"), "config", errors)
    if config is not None and config.base_media_type not in CONFIG_MEDIA_TYPES:
        errors.append(f"config has unknown media type {config.media_type!r}")
    raw_layers = document.get("layers")
    layers: list[Layer] = []
    if not isinstance(raw_layers, list) or not raw_layers:
        errors.append("manifest has no layers")
    else:
        for index, raw in enumerate(raw_layers):
            layer = _parse_descriptor(raw, f"layers[{index}]", errors)
            if layer is None:
                continue
            if layer.base_media_type not in OLLAMA_LAYER_MEDIA_TYPES:
                errors.append(
                    f"layers[{index}] has unknown media type {layer.media_type!r}; "
                    "not an Ollama model, or made by an Ollama newer than this tool knows"
                )
            layers.append(layer)
        if layers and not any(layer.base_media_type in _RUNNABLE_MEDIA_TYPES for layer in layers):
            errors.append(
                "manifest has no model weights layer (application/vnd.ollama.image.model)"
            )
        total = sum(layer.size for layer in layers)
        if total > MAX_MODEL_BYTES:  # the lock's totalSize: a lock that could not be read back
            errors.append(f"layers total {total} bytes, more than {MAX_MODEL_BYTES} (1 PiB)")
    if errors or config is None:
        raise RegistryError("malformed manifest: " + "; ".join(errors))
    return config, tuple(layers)


def _parse_descriptor(raw: object, where: str, errors: list[str]) -> Layer | None:
    if not isinstance(raw, dict):
        errors.append(f"{where} is not an object")
        return None
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    problems = []
    if not isinstance(media_type, str) or not media_type:
        problems.append(f"{where}.mediaType is missing")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        problems.append(f"{where}.digest {digest!r} is not sha256:<64 hex>")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        problems.append(f"{where}.size {size!r} is not a byte count")
    elif size > MAX_MODEL_BYTES:
        problems.append(f"{where}.size {size} is more than {MAX_MODEL_BYTES} bytes (1 PiB)")
    errors.extend(problems)
    if problems or not isinstance(media_type, str) or not isinstance(digest, str):
        return None
    if not isinstance(size, int):
        return None
    return Layer(media_type, digest, size)


def parse_config_facts(body: bytes) -> ModelConfigFacts:
    """Family, parameter size and quantization from the config blob; absent or empty -> None."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise RegistryError(f"config blob is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise RegistryError("config blob is not a JSON object")

    def text(name: str) -> str | None:
        value = document.get(name)
        return value.strip() or None if isinstance(value, str) else None

    return ModelConfigFacts(
        family=text("model_family"),
        parameter_size=text("model_type"),
        quantization=text("file_type"),
    )
