"""Failure handling and token auth, against scripted local servers (and the real registry behind
a token gateway). Sleeps are recorded, not slept, so the backoff schedule is asserted exactly."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from catalog_gen.lock import registry as registry_module
from catalog_gen.lock.model import WantedModel
from catalog_gen.lock.registry import (
    DOCKER_MANIFEST_V2,
    RegistryClient,
    RegistryConfig,
    RegistryError,
    RemoteModel,
    RetryPolicy,
)
from catalog_gen.lock.resolve import resolve_all
from catalog_gen.problems import Severity
from catalog_gen.references import ModelReference, parse_model_reference
from tests.lock.local_registry import LocalRegistry
from tests.lock.scripted_server import CDN_PREFIX, Reply, ScriptedServer, TokenGate
from tests.lock.seeding import RegistrySeeder

INSECURE = RegistryConfig(insecure=True)
MANIFEST_PATH = "/v2/library/phi/manifests/latest"
CONFIG_BYTES = b'{"model_family":"phi2","model_type":"2.7B","file_type":"Q4_0"}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG_BYTES).hexdigest()
WEIGHTS_DIGEST = "sha256:" + "a" * 64


def manifest(layers: list[dict[str, object]] | None = None) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": CONFIG_DIGEST,
                "size": len(CONFIG_BYTES),
            },
            "layers": layers
            or [
                {
                    "mediaType": "application/vnd.ollama.image.model",
                    "digest": WEIGHTS_DIGEST,
                    "size": 1_600_000_000,
                }
            ],
        }
    ).encode()


def serve_model(server: ScriptedServer, body: bytes | None = None) -> bytes:
    body = body or manifest()
    server.route(MANIFEST_PATH, Reply(200, body))
    server.route_blob(f"/v2/library/phi/blobs/{CONFIG_DIGEST}", Reply(200, CONFIG_BYTES))
    return body


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(sleeps: Sleeps, *, attempts: int = 4, timeout: float = 5.0) -> RegistryClient:
    policy = RetryPolicy(attempts=attempts, first_delay=0.5, max_delay=4.0, retry_after_cap=10.0)
    return RegistryClient(timeout=timeout, retry=policy, sleep=sleeps)


def resolve(
    server: ScriptedServer, client: RegistryClient, config: RegistryConfig = INSECURE
) -> RemoteModel:
    return client.resolve(parse_model_reference(f"{server.host}/library/phi"), config)


def test_retry_schedule_is_exponential_and_capped() -> None:
    policy = RetryPolicy(first_delay=0.5, multiplier=2, max_delay=3.0, retry_after_cap=10)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(0, retry_after=600) == 10


def test_429_with_retry_after_is_honoured_then_succeeds(scripted: ScriptedServer) -> None:
    body = manifest()
    scripted.route(
        MANIFEST_PATH,
        Reply(429, b"slow down", {"Retry-After": "3"}),
        Reply(429, b"slow down", {"Retry-After": "120"}),
        Reply(200, body),
    )
    scripted.route_blob(f"/v2/library/phi/blobs/{CONFIG_DIGEST}", Reply(200, CONFIG_BYTES))
    sleeps = Sleeps()
    with make_client(sleeps) as client:
        remote = resolve(scripted, client)
    assert remote.digest == hashlib.sha256(body).hexdigest()
    assert sleeps == [3.0, 10.0]  # the second Retry-After is capped


def test_5xx_retries_exhausted_is_an_error_with_the_status(scripted: ScriptedServer) -> None:
    scripted.route(MANIFEST_PATH, Reply(503, b"down"), Reply(502, b"bad gateway"))
    sleeps = Sleeps()
    with make_client(sleeps, attempts=3) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "HTTP 502" in str(raised.value)
    assert "gave up after 3 attempts" in str(raised.value)
    assert sleeps == [0.5, 1.0]
    assert len(scripted.requests_to(MANIFEST_PATH)) == 3


def test_a_5xx_then_success_recovers(scripted: ScriptedServer) -> None:
    body = manifest()
    scripted.route(MANIFEST_PATH, Reply(500, b""), Reply(200, body))
    scripted.route_blob(f"/v2/library/phi/blobs/{CONFIG_DIGEST}", Reply(200, CONFIG_BYTES))
    sleeps = Sleeps()
    with make_client(sleeps) as client:
        assert resolve(scripted, client).facts.parameter_size == "2.7B"
    assert sleeps == [0.5]


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retried(scripted: ScriptedServer, status: int) -> None:
    scripted.route(MANIFEST_PATH, Reply(status, b'{"errors":[{"code":"DENIED","message":"no"}]}'))
    sleeps = Sleeps()
    with make_client(sleeps) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert f"HTTP {status}" in str(raised.value)
    assert "DENIED: no" in str(raised.value)
    assert sleeps == []


def test_timeout_is_retried_then_reported(scripted: ScriptedServer) -> None:
    scripted.route(MANIFEST_PATH, Reply(200, manifest(), delay=1.0))
    sleeps = Sleeps()
    with make_client(sleeps, attempts=2, timeout=0.2) as client, pytest.raises(RegistryError) as r:
        resolve(scripted, client)
    assert "within 0.2s" in str(r.value)
    assert "gave up after 2 attempts" in str(r.value)
    assert len(scripted.requests_to(MANIFEST_PATH)) == 2


def test_connection_refused_is_a_clear_error() -> None:
    server = ScriptedServer().start()
    host = server.host
    server.stop()
    sleeps = Sleeps()
    with make_client(sleeps, attempts=2) as client, pytest.raises(RegistryError) as raised:
        client.resolve(parse_model_reference(f"{host}/library/phi"), INSECURE)
    assert f"cannot reach {host}" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "manifest is not valid JSON"),
        (b"[]", "manifest is not a JSON object"),
        (json.dumps({"schemaVersion": 1, "layers": []}).encode(), "schemaVersion is 1"),
        (
            manifest(
                [{"mediaType": "application/vnd.ollama.image.model", "digest": "md5:x", "size": -1}]
            ),
            "is not sha256:<64 hex>",
        ),
        (
            manifest(
                [
                    {
                        "mediaType": "application/vnd.ollama.image.template",
                        "digest": WEIGHTS_DIGEST,
                        "size": 3,
                    }
                ]
            ),
            "no model weights layer",
        ),
        (
            manifest(
                [
                    {
                        "mediaType": "application/vnd.ollama.image.model",
                        "digest": WEIGHTS_DIGEST,
                        "size": 2**50 + 1,
                    }
                ]
            ),
            f"layers[0].size {2**50 + 1} is more than {2**50} bytes (1 PiB)",
        ),
        (  # each layer under the bound, the lock's totalSize over it
            manifest(
                [
                    {
                        "mediaType": media_type,
                        "digest": WEIGHTS_DIGEST,
                        "size": 2**49 + 1,
                    }
                    for media_type in (
                        "application/vnd.ollama.image.model",
                        "application/vnd.ollama.image.projector",
                    )
                ]
            ),
            f"layers total {2**50 + 2} bytes, more than {2**50} (1 PiB)",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [],
                }
            ).encode(),
            "multi-platform index",
        ),
    ],
)
def test_malformed_manifests_are_rejected(
    scripted: ScriptedServer, body: bytes, expected: str
) -> None:
    scripted.route(MANIFEST_PATH, Reply(200, body))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert expected in str(raised.value)


def test_every_manifest_problem_is_reported_at_once(scripted: ScriptedServer) -> None:
    body = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": "text/plain", "digest": CONFIG_DIGEST, "size": 5},
            "layers": [
                {"mediaType": "application/x-unknown", "digest": WEIGHTS_DIGEST, "size": 1},
                {"mediaType": "application/vnd.ollama.image.model", "digest": "bad", "size": 1},
            ],
        }
    ).encode()
    scripted.route(MANIFEST_PATH, Reply(200, body))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    message = str(raised.value)
    assert "config has unknown media type 'text/plain'" in message
    assert "layers[0] has unknown media type 'application/x-unknown'" in message
    assert "layers[1].digest 'bad'" in message


def test_docker_content_digest_mismatch_is_an_error(scripted: ScriptedServer) -> None:
    serve_model(scripted)
    scripted.route(
        MANIFEST_PATH, Reply(200, manifest(), {"Docker-Content-Digest": "sha256:" + "0" * 64})
    )
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "sha256:" + "0" * 64 in str(raised.value)


def test_config_blob_content_is_verified(scripted: ScriptedServer) -> None:
    serve_model(scripted)
    scripted.route_blob(f"/v2/library/phi/blobs/{CONFIG_DIGEST}", Reply(200, b'{"tampered":1}'))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "does not match its digest" in str(raised.value)


@contextmanager
def config_in_blob_storage(scripted: ScriptedServer, stored: Reply) -> Iterator[ScriptedServer]:
    """The registry serves the model and redirects its config blob to another server (blob
    storage such as S3), which answers stored."""
    storage = ScriptedServer().start()
    try:
        storage.route("/blob", stored)
        serve_model(scripted)
        scripted.route(
            f"/v2/library/phi/blobs/{CONFIG_DIGEST}",
            Reply(307, b"", {"Location": f"{storage.cdn_url}/blob?sig=1"}),
        )
        yield storage
    finally:
        storage.stop()


def _bearer(server: ScriptedServer, *, realm: str | None = None, error: str = "") -> str:
    """The Bearer challenge of a registry whose token service is server's /token (or realm)."""
    extra = f',error="{error}"' if error else ""
    return (
        f'Bearer realm="{realm or server.url + "/token"}",service="scripted-registry",'
        f'scope="repository:library/phi:pull"{extra}'
    )


def test_config_blob_redirect_is_followed_without_the_token(scripted: ScriptedServer) -> None:
    with config_in_blob_storage(scripted, Reply(200, CONFIG_BYTES)) as storage:
        scripted.enable_token_auth()
        scripted.route(
            MANIFEST_PATH,
            Reply(401, b"", {"WWW-Authenticate": _bearer(scripted)}),
            Reply(200, manifest()),
        )
        with make_client(Sleeps()) as client:
            remote = resolve(scripted, client)
        assert remote.facts.family == "phi2"
        assert storage.requests_to("/blob")[0].headers.get("authorization") is None
        assert scripted.requests_to(MANIFEST_PATH)[1].headers["authorization"] == "Bearer token-0"


def test_a_redirect_target_wanting_credentials_is_not_called_a_refusal_of_ours(
    scripted: ScriptedServer,
) -> None:
    # Blob storage answering 401: the registry's token was never sent there (on purpose).
    wants = Reply(401, b"", {"WWW-Authenticate": 'Basic realm="s3"'})
    with config_in_blob_storage(scripted, wants) as storage:
        with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
            resolve(scripted, client)
        message = str(raised.value)
        assert (
            f"the registry redirected the config to {storage.cdn_url[7:]}, which wants" in message
        )
        assert "refused" not in message


def behind_a_token_gate(
    seeder: RegistrySeeder, gateway: ScriptedServer
) -> tuple[str, ModelReference, str, TokenGate]:
    """A model in the real registry, reached through the gateway's token auth: its repository,
    its reference there, its digest and the gate."""
    repository = f"library/t{uuid.uuid4().hex[:8]}"
    seeded = seeder.push_model(repository, "1b", weights=b"t" * 100)
    gate = gateway.enable_token_auth()
    reference = parse_model_reference(f"{gateway.host}/{repository}:1b")
    return repository, reference, seeded.digest, gate


@pytest.mark.registry
def test_token_auth_in_front_of_the_real_registry(
    registry: LocalRegistry, seeder: RegistrySeeder, gateway: ScriptedServer
) -> None:
    repository, reference, digest, gate = behind_a_token_gate(seeder, gateway)

    with make_client(Sleeps()) as client:
        first = client.resolve(reference, INSECURE)
        second = client.resolve(reference, INSECURE)

    assert first.digest == second.digest == digest
    token_requests = gateway.requests_to("/token")
    assert len(token_requests) == 1  # cached per scope
    assert token_requests[0].query["scope"] == [f"repository:{repository}:pull"]
    assert token_requests[0].query["service"] == ["scripted-registry"]
    assert gate.issued == ["token-0"]


@pytest.mark.registry
def test_an_expired_token_is_fetched_again(
    registry: LocalRegistry, seeder: RegistrySeeder, gateway: ScriptedServer
) -> None:
    # Tokens expire (Distribution's after 60 s by default) and one run can outlive one: the
    # cached token refused, a new one is fetched, as Ollama does on every 401.
    _, reference, digest, gate = behind_a_token_gate(seeder, gateway)

    with make_client(Sleeps()) as client:
        assert client.resolve(reference, INSECURE).digest == digest
        gate.issued.clear()  # every token issued so far expires
        assert client.resolve(reference, INSECURE).digest == digest

    assert len(gate.issued) == 1  # the one issued after the expiry
    assert len(gateway.requests_to("/token")) == 2


@pytest.mark.registry
def test_a_token_service_that_wants_credentials_is_refused_as_ollama_cannot_pull(
    registry: LocalRegistry, seeder: RegistrySeeder, gateway: ScriptedServer
) -> None:
    # Ollama 0.32.0 sends no credentials (api/types.go: PullRequest's Username and Password
    # "Deprecated: ignored"; auth.go asks the realm with its own key's signature only): a pin
    # the lock could fetch only with a password would be one no pod can pull.
    repository = f"library/c{uuid.uuid4().hex[:8]}"
    seeder.push_model(repository, "latest", weights=b"c")
    gateway.enable_token_auth(basic=("robot", "s3cret"))
    reference = parse_model_reference(f"{gateway.host}/{repository}")

    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        client.resolve(reference, INSECURE)
    assert "refused an anonymous token (HTTP 401): Ollama's pull sends no credentials" in str(
        raised.value
    )
    assert "authorization" not in gateway.requests_to("/token")[0].headers


def test_plain_http_token_realm_is_refused_for_a_secure_registry() -> None:
    client = RegistryClient()
    with pytest.raises(RegistryError, match="plain http"):
        client._token(
            "http://registry.example/token",
            "svc",
            "repository:a/b:pull",
            RegistryConfig(),
            registry="https://registry.example",
        )


def test_an_insecure_registry_that_serves_https_gets_a_hint(scripted: ScriptedServer) -> None:
    # What Go's TLS server answers a plain-http request (docker-registry with TLS, run by the
    # sixteenth round's review): text, not a registry error body.
    body = b"Client sent an HTTP request to an HTTPS server.\n"
    scripted.route(MANIFEST_PATH, Reply(400, body, {"Content-Type": "text/plain"}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "the registry serves https, but the model is reached over plain http" in str(
        raised.value
    )


def test_401_without_challenge_is_an_error(scripted: ScriptedServer) -> None:
    scripted.route(MANIFEST_PATH, Reply(401, b""))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError, match="WWW-Authenticate"):
        resolve(scripted, client)


def test_connections_are_reused(scripted: ScriptedServer) -> None:
    serve_model(scripted)
    with make_client(Sleeps()) as client:
        for _ in range(3):
            resolve(scripted, client)
    assert len(scripted.seen) == 9  # manifest, config blob, and its bytes on the "CDN"
    assert scripted.connections == 2  # one per host name


def test_without_reuse_every_request_opens_a_connection(scripted: ScriptedServer) -> None:
    serve_model(scripted)
    with RegistryClient(reuse_connections=False) as client:
        for _ in range(2):
            resolve(scripted, client)
    assert scripted.connections == 6


def test_401_after_the_token_says_ollama_could_not_pull_it_either(
    scripted: ScriptedServer,
) -> None:
    scripted.enable_token_auth()
    scripted.route(MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": _bearer(scripted)}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "HTTP 401" in str(raised.value)
    assert "the registry wants credentials: Ollama's pull sends no credentials" in str(raised.value)
    # A token refused once is fetched again (it may have expired), then the 401 is an error.
    assert len(scripted.requests_to("/token")) == 2


@pytest.mark.parametrize(
    "reply",
    [
        Reply(307, b"", {"Location": "http://127.0.0.1:99999/elsewhere"}),
        Reply(200, b"[" * 200_000, {"Content-Type": DOCKER_MANIFEST_V2}),
        Reply(200, b"{}", {"Docker-Content-Digest": "shake_128:abcd"}),
    ],
    ids=["redirect-to-port-99999", "json-nested-200000-deep", "shake-digest"],
)
def test_an_unreadable_answer_is_that_models_problem(
    scripted: ScriptedServer, reply: Reply
) -> None:
    # Never an internal error that drops every other model's result (they crashed catalog-gen).
    scripted.route(MANIFEST_PATH, reply)
    wanted = WantedModel(parse_model_reference(f"{scripted.host}/library/phi"), INSECURE)
    with make_client(Sleeps(), attempts=1) as client:
        locked, problems = resolve_all([wanted], client)
    assert locked == {}
    (problem,) = problems
    assert problem.severity == Severity.ERROR


class _Downgrading(RegistryClient):
    """A secure registry that redirects every request to plain http (no TLS server needed:
    the transport is replaced, the client's own redirect handling is what is tested)."""

    def __init__(self) -> None:
        super().__init__(retry=RetryPolicy(attempts=1), sleep=Sleeps())
        self.asked: list[str] = []

    def _send_with_retries(  # type: ignore[override]
        self, url: str, headers: object, max_body: int, what: str
    ) -> object:
        self.asked.append(url)
        return registry_module._Response(
            307, {"location": url.replace("https://", "http://", 1)}, b"", url
        )


def test_a_secure_registry_redirecting_to_plain_http_is_refused() -> None:
    # The pin is what pull-models trusts later: bytes fetched in the clear could be anyone's.
    client = _Downgrading()
    with client, pytest.raises(RegistryError, match="which is not https"):
        client.resolve(parse_model_reference("registry.example.com/library/phi"), RegistryConfig())
    assert client.asked == ["https://registry.example.com/v2/library/phi/manifests/latest"]


def test_the_first_of_two_challenges_is_answered_as_go_reads_it(scripted: ScriptedServer) -> None:
    # Go's Header.Get (Ollama's client) reads the first WWW-Authenticate: Bearer here, which
    # needs no credentials; the Basic one after it would.
    scripted.enable_token_auth()
    bearer = (
        f'Bearer realm="{scripted.url}/token",service="scripted-registry",'
        'scope="repository:library/phi:pull"'
    )
    scripted.route(
        MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": [bearer, 'Basic realm="registry"']})
    )
    with make_client(Sleeps()) as client, pytest.raises(RegistryError):
        resolve(scripted, client)
    assert scripted.requests_to("/token"), "the Basic challenge was answered instead"


def test_an_answer_trickling_in_is_bounded_by_twice_the_timeout() -> None:
    # One byte just inside each read timeout would otherwise hold a worker for hours.
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.wait(0.3):
                try:
                    connection.sendall(b"{")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    try:
        client = make_client(Sleeps(), attempts=1, timeout=1.0)
        with client, pytest.raises(RegistryError, match=r"no answer from 127\.0\.0\.1"):
            client.resolve(parse_model_reference(f"{host}/library/phi"), INSECURE)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 4.0


def test_a_basic_challenge_is_refused_as_ollama_cannot_answer_it(scripted: ScriptedServer) -> None:
    # Ollama's client strips "Bearer " and asks the challenge's realm for a token: a Basic realm
    # is no URL on the registry's host, so its pull fails there.
    scripted.route(MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": 'Basic realm="r"'}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "Ollama's pull answers only a Bearer token challenge" in str(raised.value)
    assert [seen.headers.get("authorization", "") for seen in scripted.seen] == [""]


def test_an_unquoted_realm_is_refused_as_ollama_misreads_it(scripted: ScriptedServer) -> None:
    # server/images.go getValue skips one character after `realm=` (the quote it expects) and
    # reads to the next quote: `ttp://...` is no URL it can fetch.
    scripted.enable_token_auth()
    challenge = f"Bearer realm={scripted.url}/token,service=scripted-registry,scope=x"
    scripted.route(MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": challenge}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "with an unquoted realm" in str(raised.value)
    assert scripted.requests_to("/token") == []


def test_an_anonymous_token_without_pull_access_is_named_so(scripted: ScriptedServer) -> None:
    # Distribution's token auth: the anonymous token has no pull right on the scope (Harbor and
    # Docker Hub answer so for a repository that does not exist, too).
    scripted.enable_token_auth()
    challenge = _bearer(scripted, error="insufficient_scope")
    scripted.route(MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": challenge}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "an anonymous token may not pull repository:library/phi:pull (insufficient_scope" in str(
        raised.value
    )


@pytest.mark.parametrize("realm_host", ["localhost:{port}", "127.0.0.1:1", "127.0.0.1"])
def test_a_token_realm_on_another_host_or_port_is_refused_as_ollama_refuses_it(
    scripted: ScriptedServer, realm_host: str
) -> None:
    # server/auth.go getAuthorizationToken: `if redirectURL.Host != originalHost` (Go's Host,
    # with its port): the usual registry:2 with a token server apart, Docker Hub's and
    # GitLab's layout, is one Ollama's pull cannot use.
    scripted.enable_token_auth()
    port = scripted.host.rsplit(":", 1)[1]
    realm = f"http://{realm_host.format(port=port)}/token"
    scripted.route(
        MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": _bearer(scripted, realm=realm)})
    )
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert f"the registry at {scripted.host} hands out tokens from {realm}, on another host" in (
        str(raised.value)
    )
    assert scripted.requests_to("/token") == []


def test_a_token_answer_with_access_token_only_is_refused_as_ollama_reads_token(
    scripted: ScriptedServer,
) -> None:
    # api/types.go TokenResponse has `token` only: with an access_token alone Ollama pulls
    # without a token and is refused.
    scripted.route(
        "/token", Reply(200, b'{"access_token":"t"}', {"Content-Type": "application/json"})
    )
    scripted.route(MANIFEST_PATH, Reply(401, b"", {"WWW-Authenticate": _bearer(scripted)}))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "answered without a `token` (with an `access_token` only" in str(raised.value)


def test_a_token_services_redirect_is_followed_as_gos_client_follows_it(
    scripted: ScriptedServer,
) -> None:
    scripted.route("/token", Reply(307, b"", {"Location": "/token2?x=1"}))
    scripted.route("/token2", Reply(200, b'{"token":"t2"}', {"Content-Type": "application/json"}))
    serve_model(scripted)
    scripted.routes[MANIFEST_PATH].insert(
        0, Reply(401, b"", {"WWW-Authenticate": _bearer(scripted)})
    )
    with make_client(Sleeps()) as client:
        resolve(scripted, client)
    assert scripted.requests_to(MANIFEST_PATH)[-1].headers["authorization"] == "Bearer t2"


def test_an_oci_index_distribution_will_not_serve_gets_the_oci_hint(
    scripted: ScriptedServer,
) -> None:
    # Distribution 2.8's answer to a Docker-only Accept for a tag holding an OCI index.
    body = (
        b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI index found, but accept header '
        b'does not support OCI indexes"}]}'
    )
    scripted.route(MANIFEST_PATH, Reply(404, body))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "the tag holds an OCI index, which Ollama 0.32.0 cannot pull" in str(raised.value)
    assert "check the model name and tag" not in str(raised.value)


def test_a_registry_errors_detail_is_quoted(scripted: ScriptedServer) -> None:
    # Distribution v3: which tag is unknown, or what its storage driver said, is in "detail".
    body = (
        b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown",'
        b'"detail":"unknown tag=latest"}]}'
    )
    scripted.route(MANIFEST_PATH, Reply(404, body))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert str(raised.value).endswith(": MANIFEST_UNKNOWN: manifest unknown (unknown tag=latest)")


class _BlobsOverPlainHttp(RegistryClient):
    """A secure registry whose blob storage is plain http (an S3-compatible store behind it):
    the manifest over https, the config blob redirected to http (transport replaced)."""

    def __init__(self, config_bytes: bytes) -> None:
        super().__init__(retry=RetryPolicy(attempts=1), sleep=Sleeps())
        self.config_bytes = config_bytes

    def _send_with_retries(  # type: ignore[override]
        self, url: str, headers: object, max_body: int, what: str
    ) -> object:
        if what == "manifest":
            body = manifest()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            return registry_module._Response(
                200,
                {"docker-content-digest": digest, "content-type": DOCKER_MANIFEST_V2},
                body,
                url,
            )
        if url.startswith("https://"):
            return registry_module._Response(307, {"location": "http://blobs.example/c"}, b"", url)
        return registry_module._Response(200, {}, self.config_bytes, url)


def test_a_blob_redirected_to_plain_http_is_read_and_checked_by_its_digest() -> None:
    # The config's bytes are checked against the digest the https manifest gave, so plain http
    # cannot change what is pinned (the manifest itself must stay on https: the test above).
    reference = parse_model_reference("registry.example.com/library/phi")
    with _BlobsOverPlainHttp(CONFIG_BYTES) as client:
        assert client.resolve(reference, RegistryConfig()).config.digest == CONFIG_DIGEST
    with (
        _BlobsOverPlainHttp(CONFIG_BYTES + b" ") as client,
        pytest.raises(RegistryError, match="does not match its digest"),
    ):
        client.resolve(reference, RegistryConfig())


def test_a_registry_errors_words_cannot_break_the_line_or_color_the_terminal(
    scripted: ScriptedServer,
) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "code": "MANIFEST_UNKNOWN",
                    "message": "gone\n::error::forged",
                    "detail": "tag=x\u001b[31m",
                }
            ]
        }
    ).encode()
    scripted.route(MANIFEST_PATH, Reply(404, body))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    message = str(raised.value)
    assert "\n" not in message
    assert "\x1b" not in message
    assert message.endswith("MANIFEST_UNKNOWN: gone\\n::error::forged (tag=x\\x1b[31m)")


# --- blobs as Ollama's pull fetches them (server/download.go blobDownload.run) ---------------

CONFIG_PATH = f"/v2/library/phi/blobs/{CONFIG_DIGEST}"


@pytest.mark.parametrize("status", [301, 302, 303, 308])
def test_a_blob_redirected_to_another_host_otherwise_than_307_is_refused(
    scripted: ScriptedServer, status: int
) -> None:
    scripted.route(MANIFEST_PATH, Reply(200, manifest()))
    scripted.route(CONFIG_PATH, Reply(status, b"", {"Location": f"{scripted.cdn_url}/blob"}))
    scripted.route("/blob", Reply(200, CONFIG_BYTES))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert f"to another host with {status}" in str(raised.value)
    assert f"'unexpected status code {status}'" in str(raised.value)


def test_redirects_within_the_registrys_host_name_are_followed_first(
    scripted: ScriptedServer,
) -> None:
    # Go compares host names without ports: another port of 127.0.0.1 is the same host to it.
    other_port = ScriptedServer().start()
    try:
        other_port.route_blob(CONFIG_PATH, Reply(200, CONFIG_BYTES))
        scripted.route(MANIFEST_PATH, Reply(200, manifest()))
        scripted.route(CONFIG_PATH, Reply(302, b"", {"Location": f"{other_port.url}{CONFIG_PATH}"}))
        with make_client(Sleeps()) as client:
            assert resolve(scripted, client).facts.family == "phi2"
        assert other_port.requests_to(CDN_PREFIX + CONFIG_PATH)
    finally:
        other_port.stop()


def test_a_blob_served_directly_is_refused_unless_the_model_is_of_tensor_layers(
    scripted: ScriptedServer,
) -> None:
    """Ollama fetches a model of tensor layers through x/transfer (images.go pullWithTransfer),
    not blobDownload: the redirect rule is blobDownload's."""
    scripted.route(CONFIG_PATH, Reply(200, CONFIG_BYTES))
    scripted.route(MANIFEST_PATH, Reply(200, manifest()))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert "no Location header in response" in str(raised.value)
    tensor = {"mediaType": "application/vnd.ollama.image.tensor", "digest": WEIGHTS_DIGEST}
    scripted.route(MANIFEST_PATH, Reply(200, manifest([{**tensor, "size": 1_000}])))
    with make_client(Sleeps()) as client:
        assert resolve(scripted, client).facts.family == "phi2"


@pytest.mark.parametrize("path", [MANIFEST_PATH, CDN_PREFIX + CONFIG_PATH])
def test_an_answer_cut_before_its_content_length_is_retried_not_pinned(
    scripted: ScriptedServer, path: str
) -> None:
    """http.client's read1 returns b"" for a body cut short, and raises nothing (review: a
    manifest one byte short was pinned by the sha256 of the bytes that came, exit 0)."""
    body = serve_model(scripted)
    whole = body if path == MANIFEST_PATH else CONFIG_BYTES
    scripted.routes[path].insert(0, Reply(200, whole[:-1], missing=1))
    sleeps = Sleeps()
    with make_client(sleeps) as client:
        remote = resolve(scripted, client)
    assert remote.digest == hashlib.sha256(body).hexdigest()
    assert sleeps == [0.5]  # the cut answer retried once
    scripted.route(path, Reply(200, whole[:-1], missing=1))
    with make_client(Sleeps(), attempts=2) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    assert f"was cut short ({len(whole) - 1} bytes of {len(whole)} announced" in str(raised.value)


def test_a_missing_config_blob_is_not_blamed_on_the_name_and_tag(scripted: ScriptedServer) -> None:
    # The manifest was found, so the name and tag are right (review: "check the model name and
    # tag" sent users looking in the wrong place).
    scripted.route(MANIFEST_PATH, Reply(200, manifest()))
    scripted.route_blob(CONFIG_PATH, Reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}'))
    with make_client(Sleeps()) as client, pytest.raises(RegistryError) as raised:
        resolve(scripted, client)
    message = str(raised.value)
    assert "the manifest names a config blob the registry does not have" in message
    assert "check the model name and tag" not in message
