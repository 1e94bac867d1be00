"""The double's HTTP server: the endpoints the ollama CLI uses, with a real on-disk model store.

Facts reproduced (../shared/notes/ollama.md "HTTP API" and "Server environment"; ollama/ollama
server/routes.go, server/sched.go, server/images.go, api/client.go), pinned to recordings of the
real binary by tests/scripts/test_double_contract.py (docs/field-trial.md):
- Upstream: the control file's fake registry, else a real registry for a host with a port
  (registry.py: blob downloads need a redirect, as Ollama's downloader requires).
- `GET /` and `HEAD /` answer 200 "Ollama is running"; `GET /api/version`.
- `GET /api/tags`: local models with `name`/`model` (display form), `digest` (64 hex, no prefix,
  sha256 of the manifest bytes), `size`, `modified_at`, `details`.
- `POST /api/pull` streams NDJSON: "pulling manifest", "pulling <digest>" with total/completed,
  "verifying sha256 digest" (only the blobs this pull downloaded; one that fails is removed),
  "writing manifest", "success". Errors are `{"error": ...}` lines
  with HTTP 200 once streaming began; with `"stream": false` an error is HTTP 500. Blobs already
  in the store are not downloaded again, but the manifest is always fetched from the registry.
  `"insecure": true` is what lets a plain-http registry work. A pull of a model already stored
  under another letter case writes to the stored spelling (routes.go getExistingName).
- `POST /api/show` 404 `model 'x' not found` when absent; `capabilities` says `completion` or
  `embedding`.
- `GET /api/ps`: loaded models, answered at once. The scheduler keys runners by the weights file
  (sched.go schedulerModelKey), so models sharing weights share one runner and `ps` shows the
  name that loaded it. 0.32.0 lists a runner only once its model is loaded (since 0.30.0 the
  llama-server runner's Load waits for the weights, llm/llama_server.go, before sched.go adds it
  to `loaded`); before 0.30.0 (0.24.0: sched.go load) it is listed from the start of its load,
  with `expires_at` now plus its keep-alive: the control key `ps_lists_loading` plays that older
  server. `expires_at` in the past means `Stopping...`.
- `POST /api/generate` with an empty prompt only loads the model (`done_reason: "load"`); with
  keep_alive 0 and an empty prompt it unloads (`done_reason: "unload"`); an embedding model
  answers 400 `"x" does not support generate`; a missing one 404
  `model "x" not found, try pulling it first`. If the client goes away during a load, the load
  is aborted.
- `POST /api/embed` loads the model; empty input returns no embeddings.
- `POST /api/create` {model, from, system, parameters, template, messages}: a new manifest
  sharing the FROM model's weights (found by its exact spelling, as model.go parseFromModel opens
  the manifest file, else pulled under that spelling, never insecure), its parameters the
  request's over the FROM model's (create.go setParameters); `DELETE /api/delete` {model}.
- Keep-alive: the request's `keep_alive`, else `OLLAMA_KEEP_ALIVE` (default 5m) for a new
  runner; a request without one leaves a loaded runner's keep-alive as it was (sched.go
  useLoadedRunner). Negative means forever, 0 unloads at once. A runner in use never expires:
  a request stops its timer without moving its expiry, which is set to now plus the keep-alive
  only when the last request using it ends (sched.go finishedReqCh), so a runner kept busy past
  its expiry is listed `Stopping...` while it serves (the control key `generate_delay_s` makes a
  generation last).
- Loads run one at a time (sched.go processPending loads synchronously): a request for another
  model waits for the load in progress. `OLLAMA_MAX_LOADED_MODELS` (default 3) evicts the idle
  runner with the shortest keep-alive first, then by weights path (sched.go findRunnerToUnload,
  ByDurationAndName: forever sorts last).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.ollama_double.control import Control, State, control_from_env, state_from_env
from tests.ollama_double.endpoint import parse_host
from tests.ollama_double.gotime import DurationError, keep_alive_seconds
from tests.ollama_double.names import InvalidNameError, Name, parse_name
from tests.ollama_double.registry import RegistryError, fetch_remote
from tests.ollama_double.store import (
    MESSAGES_MEDIA_TYPE,
    MODEL_MEDIA_TYPE,
    PARAMS_MEDIA_TYPE,
    SYSTEM_MEDIA_TYPE,
    TEMPLATE_MEDIA_TYPE,
    TENSOR_MEDIA_TYPE,
    Blob,
    LocalModel,
    ModelStore,
    RemoteModel,
    build_manifest,
    config_blob,
    layer_digests,
    remote_model,
)

VERSION = "0.0.0-double"
DOWNLOAD_CHUNK = 64 * 1024


def log(message: str, level: str = "INFO") -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sys.stderr.write(f'time={stamp} level={level} source=double msg="{message}"\n')
    sys.stderr.flush()


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGoneError(Exception):
    pass


@dataclass
class Runner:
    display: str
    digest: str
    weights: str
    params: bytes
    kind: str
    size: int
    details: dict[str, Any]
    context_length: int
    loading: bool = True
    expires_at: float | None = None  # None = forever; a past time = Stopping...
    in_use: int = 0  # requests using it (sched.go refCount): it does not expire meanwhile
    started: float = 0.0
    session: float = 0.0  # its keep-alive in seconds (sched.go sessionDuration); < 0 = forever


class Scheduler:
    def __init__(self, control: Control, state: State) -> None:
        self.control = control
        self.state = state
        self.cond = threading.Condition()
        self.runners: dict[str, Runner] = {}
        self.loading = threading.Lock()  # one load at a time
        self.default_keep_alive = keep_alive_seconds(os.environ.get("OLLAMA_KEEP_ALIVE"), 300.0)
        self.max_loaded = int(os.environ.get("OLLAMA_MAX_LOADED_MODELS") or 3) or 3

    def _unload_delay(self) -> float:
        return self.control.number("unload_delay_s") or 0.0

    def _expire(self, now: float) -> None:
        delay = self._unload_delay()
        for key, runner in list(self.runners.items()):
            if runner.in_use > 0:  # sched.go: an expiry with a positive refCount is retried
                continue
            if runner.expires_at is not None and now >= runner.expires_at + delay:
                log(f"unloaded {runner.display}")
                del self.runners[key]

    def load(
        self, model: LocalModel, runner: Runner, keep_alive: float | None, alive: Any
    ) -> Runner:
        """Loads (or reuses) the runner for the model's weights, for a request that gives it back
        with `release` when it ends; `alive()` False aborts. keep_alive None: the request
        carried none."""
        display = runner.display
        self.state.add("load_requests", item=display)
        while not self.loading.acquire(timeout=0.05):  # another model's load is in progress
            if not alive():
                raise ClientGoneError
        try:
            return self._load(runner, keep_alive, alive)
        finally:
            self.loading.release()

    def _load(self, runner: Runner, keep_alive: float | None, alive: Any) -> Runner:
        display = runner.display
        with self.cond:
            while True:
                self._expire(time.time())
                current = self.runners.get(runner.weights)
                if current is None:
                    break
                if current.loading:
                    self.cond.wait(0.05)
                    if not alive():
                        raise ClientGoneError
                    continue
                expired = current.expires_at is not None and time.time() >= current.expires_at
                if expired and current.in_use == 0:  # being unloaded: wait until it is gone
                    self.cond.wait(0.05)
                    continue
                if load_options(current.params) == load_options(runner.params):
                    if keep_alive is not None:
                        current.session = keep_alive
                    current.in_use += 1  # useLoadedRunner: the timer stops, the expiry stays
                    return current
                log(f"reloading runner for {display}: options differ from {current.display}")
                del self.runners[runner.weights]
                break
            loaded = sorted((r for r in self.runners.values() if not r.loading), key=_unload_order)
            while len(self.runners) >= self.max_loaded and loaded:
                first = loaded.pop(0)
                log(f"evicting {first.display}: OLLAMA_MAX_LOADED_MODELS={self.max_loaded}")
                del self.runners[first.weights]
            runner.session = self.default_keep_alive if keep_alive is None else keep_alive
            runner.started = time.time()
            self.runners[runner.weights] = runner
            log(f"loading {display}")
        deadline = time.time() + (self.control.number("load_delay_s") or 0.0)
        while time.time() < deadline:
            if not alive():
                with self.cond:
                    self.runners.pop(runner.weights, None)
                    self.cond.notify_all()
                self.state.add("loads_aborted")
                log(f"load of {display} aborted: client disconnected", "WARN")
                raise ClientGoneError
            time.sleep(min(0.02, max(0.0, deadline - time.time())))
        with self.cond:
            runner.loading = False
            self._set_expiry(runner, self._keep_alive(runner))
            runner.in_use += 1  # the request that loaded it uses it
            self.cond.notify_all()
        self.state.add("loads_completed", item=display)
        log(f"loaded {display}")
        return runner

    def _keep_alive(self, runner: Runner) -> float:
        """The runner's keep-alive, unless the control key `evict_after_s` overrides it."""
        evict_after = self.control.number("evict_after_s")
        return runner.session if evict_after is None else evict_after

    def _set_expiry(self, runner: Runner, keep_alive: float) -> None:
        runner.expires_at = None if keep_alive < 0 else time.time() + keep_alive

    def release(self, runner: Runner) -> None:
        """A request that load gave the runner to has ended: the last one sets its expiry."""
        with self.cond:
            runner.in_use = max(0, runner.in_use - 1)
            if runner.in_use == 0 and self.runners.get(runner.weights) is runner:
                self._set_expiry(runner, self._keep_alive(runner))
            self.cond.notify_all()

    def unload(self, weights: str) -> None:
        with self.cond:
            runner = self.runners.get(weights)
            if runner is not None and not runner.loading:
                runner.expires_at = time.time()

    def drop(self, weights: str) -> None:
        with self.cond:
            self.runners.pop(weights, None)

    def snapshot(self) -> list[tuple[Runner, float | None]]:
        """What `ps` lists: each runner and its expiry (None: forever), the latest first. A
        loading runner only when the control file plays a server before 0.30.0, its expiry then
        now plus its keep-alive (routes.go PsHandler: the scheduler has not set one yet)."""
        lists_loading = bool(self.control.read().get("ps_lists_loading"))
        now = time.time()
        with self.cond:
            self._expire(now)
            listed = [
                (r, (None if r.session < 0 else now + r.session) if r.loading else r.expires_at)
                for r in self.runners.values()
                if lists_loading or not r.loading
            ]
        return sorted(listed, key=lambda item: -(item[1] if item[1] is not None else 1e18))


def _unload_order(runner: Runner) -> tuple[float, str]:
    """sched.go ByDurationAndName: the shortest keep-alive first (forever is the longest), then
    the weights path (the same order as their digests)."""
    return (math.inf if runner.session < 0 else runner.session), runner.weights


# api.Runner options (api/types.go): only these make the scheduler load a model again
# (sched.go needsReload); sampling parameters such as temperature or stop do not, so a derived
# model that changes only those shares its base's runner (recorded from 0.24.0).
RUNNER_OPTIONS = frozenset(
    ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "numa", "low_vram")
)
DEFAULT_NUM_CTX = 4096  # the server's default context (0.32.0 log: default_num_ctx=4096)


def load_options(params: bytes) -> dict[str, Any]:
    try:
        values = json.loads(params) if params else {}
    except ValueError:
        return {}
    return (
        {k: v for k, v in values.items() if k in RUNNER_OPTIONS} if isinstance(values, dict) else {}
    )


def go_json(value: Any) -> str:
    """What Go's json.Encoder writes for value: compact, map keys sorted, <, >, & and the line
    and paragraph separators escaped, other text as UTF-8, and a newline."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    escapes = {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
    for character, escape in escapes.items():
        text = text.replace(character, escape)
    return text + "\n"


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


class Double:
    def __init__(self, models_dir: Path, control: Control, state: State) -> None:
        self.store = ModelStore(models_dir)
        self.control = control
        self.state = state
        self.scheduler = Scheduler(control, state)
        self.store_lock = threading.Lock()
        # Shutdown cancels every request's context in Ollama; a stalled pull sees it at once.
        self.stopping = threading.Event()
        self.stalls_in_flight = 0

    # ---- registry side ---------------------------------------------------------------
    def remote(self, name: Name) -> tuple[RemoteModel, bool] | None:
        control = self.control.read()
        republished = {parse_name(ref).key for ref in control.get("republished", [])}
        for reference, spec in control.get("registry", {}).items():
            if parse_name(reference).key == name.key:
                revision = 1 if name.key in republished else 0
                return remote_model(name.display, spec, revision), bool(spec.get("plain_http"))
        return None

    def upstream(self, name: Name, insecure: bool) -> tuple[RemoteModel, bool]:
        """The control file's fake registry, else a real one for a host with a port
        (registry.py); anything else does not exist."""
        found = self.remote(name)
        if found is not None:
            return found
        if ":" in name.host:
            try:
                return fetch_remote(name, insecure), True
            except RegistryError as error:
                raise ApiError(500, str(error)) from error
        raise ApiError(500, "pull model manifest: file does not exist")

    def config(self, model: LocalModel, *, strict: bool = False) -> dict[str, Any]:
        """The config blob's data; strict (show, which GetModel answers: it decodes the config
        with encoding/json) fails with a 500 on one that is not JSON, else it reads as empty."""
        config_path = self.store.blob_path(str(model.manifest["config"]["digest"]))
        try:
            data = json.loads(config_path.read_text()) if config_path.is_file() else {}
        except ValueError as error:
            if strict:
                raise ApiError(500, f"invalid character in the model's config: {error}") from error
            data = {}
        return data if isinstance(data, dict) else {}

    def details(self, model: LocalModel) -> dict[str, Any]:
        """/api/show and /api/ps details: from the config blob, as the creating server wrote it."""
        config = self.config(model)
        return {
            "parent_model": "",
            "format": config.get("model_format", "gguf"),
            "family": config.get("model_family", ""),
            "families": config.get("model_families", []),
            "parameter_size": config.get("model_type", ""),
            "quantization_level": config.get("file_type", ""),
        }

    def tag_details(self, model: LocalModel) -> dict[str, Any]:
        """/api/tags details (0.32.0 model list cache): the config's, but the quantization and
        lengths read from the weights (GGUF) and the parent from the weights layer's `from`."""
        meta = self.store.meta(model)
        layer = self.store.layer(model, MODEL_MEDIA_TYPE) or {}
        return {
            **self.details(model),
            "parent_model": str(layer.get("from", "")),
            "quantization_level": meta["file_type"],
            "context_length": int(meta["context_length"]),
            "embedding_length": int(meta["embedding_length"]),
        }

    def capabilities(self, model: LocalModel) -> list[str]:
        return ["embedding"] if self.store.kind(model) == "embed" else ["completion"]

    def find(self, text: str) -> LocalModel:
        try:
            name = parse_name(text)
        except InvalidNameError as error:
            raise ApiError(400, str(error)) from error
        model = self.store.find(name)
        if model is None:
            raise ApiError(404, f"model '{text}' not found")
        return model

    def pull(
        self, text: str, insecure: bool, emit: Any, alive: Any = None, *, as_spelled: bool = False
    ) -> None:
        """Streams pull progress through emit(dict); raises ApiError (message) on failure.
        `alive()` says whether the client is still connected (a stalled pull waits for it).
        as_spelled: write the manifest under text's own spelling (create's pull of a FROM model,
        images.go PullModel, skips the handler's getExistingName)."""
        try:
            name = parse_name(text)
        except InvalidNameError as error:
            raise ApiError(400, str(error)) from error
        control = self.control.read()
        self.state.add("pull_requests")
        attempt = self.state.add("pull_attempts", item=name.display)
        if insecure:
            self.state.add("pull_insecure", item=name.display)
        emit({"status": "pulling manifest"})
        url = f"https://{name.host}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
        failures = {parse_name(k).key: int(v) for k, v in control.get("pull_failures", {}).items()}
        planned = failures.get(name.key, 0)
        if planned < 0 or attempt <= planned:
            message = control.get("pull_error") or (
                f'pull model manifest: Get "{url}": dial tcp: lookup {name.host}: i/o timeout'
            )
            raise ApiError(500, str(message))
        remote, plain_http = self.upstream(name, insecure)
        if plain_http and not insecure:
            raise ApiError(
                500,
                f'pull model manifest: Get "{url}": '
                "http: server gave HTTP response to HTTPS client",
            )
        self.state.add("manifest_requests")
        budget = control.get("disk_full_after_bytes")
        rate = control.get("bandwidth_bytes_per_s")
        stalls = {parse_name(k).key: int(v) for k, v in control.get("pull_stalls", {}).items()}
        stall_at = None
        if stalls.get(name.key, 0) < 0 or attempt <= stalls.get(name.key, 0):
            stall_at = int(control.get("pull_stall_after_bytes") or 0)
        written = 0  # by this pull (a stall's place)
        stored = 0  # of this model's blobs on the volume, resumed ones too (the disk's budget)
        cached: set[str] = set()
        tensors = any(blob.media_type == TENSOR_MEDIA_TYPE for blob in remote.blobs)
        done_before = 0  # the bytes of the blobs before this one (one bar for all: tensors)

        def progress(blob: Blob, completed: int) -> None:
            if tensors:  # images.go pullWithTransfer: one bar named "model"
                emit(
                    {
                        "status": "pulling model",
                        "digest": "sha256:model",
                        "total": remote.size,
                        "completed": done_before + completed,
                    }
                )
                return
            emit(
                {
                    "status": f"pulling {blob.digest[7:19]}",
                    "digest": blob.digest,
                    "total": blob.size,
                    "completed": completed,
                }
            )

        for blob in remote.blobs:
            progress(blob, 0)
            found = self.store.blob_path(blob.digest)
            if found.is_file():
                # As 0.32.0's downloadBlob: any file under the blob's name is taken as downloaded,
                # whatever its size (a cut one too), its own size reported as done.
                cached.add(blob.digest)
                if tensors:
                    progress(blob, blob.size)
                else:
                    size = found.stat().st_size
                    emit(
                        {
                            "status": f"pulling {blob.digest[7:19]}",
                            "digest": blob.digest,
                            "total": size,
                            "completed": size,
                        }
                    )
                done_before += blob.size
                continue
            self.store.blobs.mkdir(parents=True, exist_ok=True)
            partial = self.store.blob_path(blob.digest).with_name(
                self.store.blob_path(blob.digest).name + "-partial"
            )
            # download.go resumes what an earlier pull left of the blob (its parts), so a
            # retried pull goes on where the last one stopped (recorded from 0.32.0 by a review:
            # 25%, 50%, 75% over three attempts that each stalled).
            resumed = partial.stat().st_size if partial.is_file() else 0
            resumed = resumed if resumed <= blob.size else 0
            completed = resumed
            stored += resumed
            started = time.time()
            last_emit = 0.0
            with partial.open("ab" if resumed else "wb") as handle:
                for chunk in self._download(blob, resumed):
                    for offset in range(0, len(chunk), DOWNLOAD_CHUNK):
                        piece = chunk[offset : offset + DOWNLOAD_CHUNK]
                        if stall_at is not None and written >= stall_at:
                            self._stall(name, alive)
                        if budget is not None and stored + len(piece) > int(budget):
                            raise ApiError(500, f"write {partial}: no space left on device")
                        try:
                            handle.write(piece)
                        except OSError as error:  # a full volume, as Go words it
                            reason = os.strerror(error.errno or 0)
                            reason = reason[:1].lower() + reason[1:]
                            raise ApiError(500, f"write {partial}: {reason}") from error
                        written += len(piece)
                        stored += len(piece)
                        completed += len(piece)
                        self.state.add("bytes_downloaded", len(piece))
                        if rate:
                            ahead = started + (completed - resumed) / float(rate) - time.time()
                            if ahead > 0:
                                time.sleep(ahead)
                        if time.time() - last_emit > 0.1 or completed == blob.size:
                            last_emit = time.time()
                            progress(blob, completed)
            partial.replace(self.store.blob_path(blob.digest))
            done_before += blob.size
        if not tensors:  # x/transfer checks each blob as it downloads it, with no stage of its own
            emit({"status": "verifying sha256 digest"})
        self._verify([blob for blob in remote.blobs if blob.digest not in cached])
        if alive is not None and not alive():
            # PullHandler's progress channel has no reader left: the pull blocks on sending
            # "writing manifest" and never writes it.
            raise ClientGoneError
        emit({"status": "writing manifest"})
        with self.store_lock:
            previous = self.store.find_exact(name) if as_spelled else self.store.find(name)
            # getExistingName: a model already stored keeps its stored spelling.
            self.store.write_manifest(previous.name if previous else name, remote.manifest)
            # PullModel's deleteMap: the previous manifest's blobs the new one does not name,
            # removed unless another manifest names them (not on the tensor path).
            unused = set() if previous is None else layer_digests(previous.manifest)
            unused -= {blob.digest for blob in remote.blobs}
            if unused and not tensors:
                emit({"status": "removing unused layers"})
                self.store.prune(unused)
        emit({"status": "success"})

    def _verify(self, blobs: list[Blob]) -> None:
        """images.go PullModel: the blobs this pull downloaded (a cached one is trusted
        unread), each removed when its sha256 is not its digest. verify_delay_s plays a large
        model on a slow volume. The check does not look at the request: it runs to its end
        even when the client has gone (the pull then stops before its manifest)."""
        time.sleep(self.control.number("verify_delay_s") or 0.0)
        for blob in blobs:
            path = self.store.blob_path(blob.digest)
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while piece := handle.read(1 << 20):
                    digest.update(piece)
            if "sha256:" + digest.hexdigest() != blob.digest:
                path.unlink()
                raise ApiError(
                    500, f"digest mismatch, file must be downloaded again: {blob.digest}"
                )

    def _download(self, blob: Blob, start: int = 0) -> Any:
        try:
            yield from blob.chunks(start)
        except RegistryError as error:
            raise ApiError(500, str(error)) from error
        except (http.client.IncompleteRead, ConnectionError) as error:
            # download.go retries a cut stream (resuming its parts) and then gives up so
            # (recorded from 0.32.0 against a registry that cut every blob short); the double
            # gives up at once.
            raise ApiError(500, "max retries exceeded: unexpected EOF") from error

    # ---- models ------------------------------------------------------------------------
    def _stall(self, name: Name, alive: Any) -> None:
        """A registry that stops sending: nothing more until the client goes away (Ollama
        cancels a pull whose request context ends)."""
        self.state.add("pull_stalls", item=name.display)
        with self.store_lock:
            self.stalls_in_flight += 1
        try:
            while (alive is None or alive()) and not self.stopping.wait(0.05):
                pass
            self.state.add("pull_stalls_abandoned", item=name.display)
        finally:
            with self.store_lock:
                self.stalls_in_flight -= 1
        raise ApiError(499, "context canceled")

    def runner_for(self, model: LocalModel) -> Runner:
        return Runner(
            display=model.name.display,
            digest=model.digest,
            weights=self.store.weights_digest(model),
            params=self.store.read_layer(model, PARAMS_MEDIA_TYPE) or b"",
            kind=self.store.kind(model),
            size=model.size,
            details=self.details(model),
            context_length=min(
                int(os.environ.get("OLLAMA_CONTEXT_LENGTH") or 0) or DEFAULT_NUM_CTX,
                int(self.store.meta(model)["context_length"]),
            ),
        )

    def keep_alive(self, body: dict[str, Any]) -> float | None:
        """The request's keep_alive in seconds; None when it carries none."""
        if body.get("keep_alive") is None:
            return None
        try:
            return keep_alive_seconds(body.get("keep_alive"), self.scheduler.default_keep_alive)
        except DurationError as error:
            raise ApiError(400, str(error)) from error

    def create(self, body: dict[str, Any], emit: Any) -> None:
        self.state.add("create_requests")
        try:
            name = parse_name(str(body.get("model") or body.get("name") or ""))
        except InvalidNameError as error:
            raise ApiError(400, str(error)) from error
        source = str(body.get("from") or "")
        if not source:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        try:
            base_name = parse_name(source)
        except InvalidNameError as error:
            raise ApiError(400, str(error)) from error
        # server/model.go parseFromModel: the FROM model's manifest by its exact spelling, else
        # a pull of that spelling with default registry options (no insecure: CreateRequest
        # has no such field), written under it.
        base = self.store.find_exact(base_name)
        if base is None:
            self.pull(source, False, emit, as_spelled=True)
            base = self.store.find_exact(base_name)
            assert base is not None
        replaced = {
            SYSTEM_MEDIA_TYPE: body.get("system"),
            TEMPLATE_MEDIA_TYPE: body.get("template"),
        }
        parameters = self._merged_parameters(base, body.get("parameters"))
        if parameters:
            replaced[PARAMS_MEDIA_TYPE] = go_json(parameters)
        if body.get("messages"):
            replaced[MESSAGES_MEDIA_TYPE] = json.dumps(body["messages"])
        layers = []
        for layer in base.manifest["layers"]:
            if replaced.get(layer["mediaType"]) is None:
                emit({"status": f"using existing layer {layer['digest']}"})
                layers.append(self._existing_blob(layer))
        for media_type, value in replaced.items():
            if value is not None:
                blob = self.store.write_small_blob(media_type, str(value).encode())
                emit({"status": f"creating new layer {blob.digest}"})
                layers.append(blob)
        family = self.details(base)["family"]
        config = config_blob(str(family), layers)
        self.store.write_small_blob(config.media_type, config.data or b"")
        emit({"status": "writing manifest"})
        with self.store_lock:
            self.store.write_manifest(name, build_manifest(config, layers))
        emit({"status": "success"})

    def _merged_parameters(self, base: LocalModel, parameters: Any) -> dict[str, Any]:
        """create.go setParameters: the request's parameters over the FROM model's (a key the
        Modelfile does not set keeps the base's value)."""
        merged = dict(parameters) if isinstance(parameters, dict) else {}
        try:
            existing = json.loads(self.store.read_layer(base, PARAMS_MEDIA_TYPE) or b"{}")
        except ValueError:
            existing = {}
        for key, value in (existing if isinstance(existing, dict) else {}).items():
            merged.setdefault(key, value)
        return merged

    def _existing_blob(self, layer: dict[str, Any]) -> Blob:
        return Blob(str(layer["mediaType"]), str(layer["digest"]), int(layer["size"]))

    def delete(self, text: str) -> None:
        """routes.go DeleteHandler: the manifest and unused layers removed, the runner left
        loaded (the CLI's `rm` unloads first, cmd.go DeleteHandler; the API does not)."""
        self.state.add("delete_requests")
        model = self.find(text)
        with self.store_lock:
            self.store.delete(model)


class Handler(BaseHTTPRequestHandler):
    chunked = False  # this response's stream is chunked (start_stream)
    server_version = "ollama-double"
    double: Double

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(
            f"[GIN] {datetime.now(UTC):%Y/%m/%d - %H:%M:%S} | {self.address_string()} | "
            + (format % args)
            + "\n"
        )

    # ---- plumbing ----------------------------------------------------------------------
    def body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            raise ApiError(400, "missing request body")
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise ApiError(400, str(error)) from error
        if not isinstance(data, dict):
            raise ApiError(400, "request body must be a JSON object")
        return data

    def send_json(
        self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        """An NDJSON stream as Go's server sends one to an HTTP/1.1 client: chunked, so the
        client tells a stream that ended (the last, empty chunk: end_stream) from one a dying
        server cut ("unexpected EOF", which the real CLI exits 1 on). Closed after: the handler
        speaks HTTP/1.0 elsewhere."""
        self.chunked = self.request_version == "HTTP/1.1"
        if self.chunked:
            self.protocol_version = "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
        self.end_headers()

    def emit(self, payload: dict[str, Any]) -> None:
        line = json.dumps(payload).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line) if self.chunked else line)
        self.wfile.flush()

    def end_stream(self) -> None:
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def client_alive(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return True
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return False
        return peeked != b""

    def streaming(self, body: dict[str, Any], work: Any) -> None:
        """Runs work(emit) as NDJSON (errors as a line, HTTP 200) or, with stream false, as
        one JSON answer (errors as HTTP 500)."""
        if body.get("stream", True) is False:
            last: dict[str, Any] = {}
            try:
                work(last.update)
            except ApiError as error:
                # Recorded from 0.32.0: this answer is `application/json` without a charset.
                self.send_json(error.status, {"error": error.message}, "application/json")
                return
            self.send_json(200, last)
            return
        self.start_stream()
        try:
            work(self.emit)
        except ApiError as error:
            log(f"request failed: {error.message}", "ERROR")
            self.emit({"error": error.message})
        except (BrokenPipeError, ConnectionResetError, ClientGoneError):
            raise
        except Exception as error:
            # Never a stream that just ends: Ollama ends every failed stream with an error line,
            # and a client reading one that ends without it succeeds (a double's bug would pass
            # for a successful pull).
            log(f"double failed: {type(error).__name__}: {error}", "ERROR")
            self.emit({"error": f"the double failed: {type(error).__name__}: {error}"})
        self.end_stream()

    def not_found(self) -> None:
        """gin's own answer to a path no route takes (Ollama sets no NoRoute handler)."""
        data = b"404 page not found"
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ---- routes ------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        if self.path == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "17")
            self.end_headers()
            return
        self.not_found()

    def do_GET(self) -> None:
        try:
            if self.path == "/":
                data = b"Ollama is running"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif self.path == "/api/version":
                self.send_json(200, {"version": VERSION})
            elif self.path == "/api/tags":
                failure = self.double.control.read().get("tags_error")
                if failure:
                    self.send_json(500, {"error": str(failure)})
                else:
                    models = [self.tag(m) for m in self.double.store.models()]
                    self.send_json(200, {"models": models})
            elif self.path == "/api/ps":
                time.sleep(self.double.control.number("ps_delay_s") or 0.0)
                listed = self.double.scheduler.snapshot()
                self.send_json(200, {"models": [self.ps_row(r, at) for r, at in listed]})
            else:
                self.not_found()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        routes = {
            "/api/pull": self.pull,
            "/api/show": self.show,
            "/api/generate": self.generate,
            "/api/embed": self.embed,
            "/api/create": self.create,
            "/api/copy": self.copy,
        }
        self.dispatch(routes)

    def do_DELETE(self) -> None:
        self.dispatch({"/api/delete": self.delete})

    def dispatch(self, routes: dict[str, Any]) -> None:
        route = routes.get(self.path)
        try:
            if route is None:
                self.not_found()
                return
            route(self.body())
        except ApiError as error:
            self.send_json(error.status, {"error": error.message})
        except (BrokenPipeError, ConnectionResetError, ClientGoneError):
            pass

    def tag(self, model: LocalModel) -> dict[str, Any]:
        return {
            "name": model.name.display,
            "model": model.name.display,
            "modified_at": iso(model.modified),
            "size": model.size,
            "digest": model.digest,
            "details": self.double.tag_details(model),
            "capabilities": self.double.capabilities(model),
        }

    def ps_row(self, runner: Runner, expires_at: float | None) -> dict[str, Any]:
        expires = expires_at if expires_at is not None else time.time() + 1e10
        return {
            "name": runner.display,
            "model": runner.display,
            "size": runner.size,
            "digest": runner.digest,
            "details": runner.details,
            "expires_at": iso(expires),
            "size_vram": 0,
            "context_length": runner.context_length,
        }

    def pull(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        self.streaming(
            body,
            lambda emit: self.double.pull(
                name, bool(body.get("insecure")), emit, self.client_alive
            ),
        )

    def show(self, body: dict[str, Any]) -> None:
        text = str(body.get("model") or body.get("name") or "")
        try:
            model = self.double.find(text)
        except ApiError as error:
            # routes.go ShowHandler names the model by DisplayShortest (`nope:latest`), where
            # the delete handler repeats the request's spelling (`nope`).
            if error.status != 404:
                raise
            raise ApiError(404, f"model '{parse_name(text).display}' not found") from error
        if self.double.store.missing_blobs(model):
            # GetModelInfo opens the manifest's blobs (the config, the weights' GGUF header, the
            # template...): a missing one is os.ErrNotExist, which ShowHandler answers as an
            # absent model. `ollama list` reads manifests only and still lists it (recorded
            # from 0.32.0 by the seventeenth round's review).
            raise ApiError(404, f"model '{model.name.display}' not found")
        self.double.config(model, strict=True)
        kind = self.double.store.kind(model)
        system = self.double.store.read_layer(model, SYSTEM_MEDIA_TYPE)
        weights = self.double.store.blob_path(self.double.store.weights_digest(model))
        modelfile = f'# Modelfile generated by "ollama show"\nFROM {weights}\n'
        if system:
            modelfile += f'SYSTEM """{system.decode()}"""\n'
        self.send_json(
            200,
            {
                "modelfile": modelfile,
                "parameters": (
                    self.double.store.read_layer(model, PARAMS_MEDIA_TYPE) or b""
                ).decode(),
                "template": (
                    self.double.store.read_layer(model, TEMPLATE_MEDIA_TYPE) or b""
                ).decode(),
                "details": self.double.details(model),
                "model_info": self.model_info(model),
                "capabilities": ["embedding"] if kind == "embed" else ["completion"],
                "modified_at": iso(model.modified),
            },
        )

    def model_info(self, model: LocalModel) -> dict[str, Any]:
        """The GGUF keys `ollama show` prints (cmd.go showInfo), from the weights' metadata."""
        meta = self.double.store.meta(model)
        arch = meta.get("family", "")
        return {
            "general.architecture": arch,
            f"{arch}.context_length": int(meta["context_length"]),
            f"{arch}.embedding_length": int(meta["embedding_length"]),
        }

    def _loaded(
        self, body: dict[str, Any], not_found: str
    ) -> tuple[LocalModel, Runner, float | None]:
        text = str(body.get("model") or "")
        try:
            model = self.double.find(text)
        except ApiError as error:
            if error.status == 404:
                quoted = json.dumps(text) if "try pulling" in not_found else text
                raise ApiError(404, not_found.format(quoted)) from error
            raise
        return model, self.double.runner_for(model), self.double.keep_alive(body)

    def _send_done(self, body: dict[str, Any], reason: str) -> None:
        """The single non-streamed answer of a load or unload request (empty response)."""
        self.send_json(
            200,
            {
                "model": body["model"],
                "created_at": iso(time.time()),
                "response": "",
                "done": True,
                "done_reason": reason,
            },
        )

    def generate(self, body: dict[str, Any]) -> None:
        self.double.state.add("generate_requests")
        model, runner, keep_alive = self._loaded(body, "model '{}' not found")
        prompt = str(body.get("prompt") or "")
        if not prompt and keep_alive == 0:
            self.double.scheduler.unload(runner.weights)
            self._send_done(body, "unload")
            return
        if runner.kind == "embed":
            raise ApiError(400, f'"{body["model"]}" does not support generate')
        used = self.double.scheduler.load(model, runner, keep_alive, self.client_alive)
        try:
            self._answer(body, prompt)
        finally:
            self.double.scheduler.release(used)

    def _answer(self, body: dict[str, Any], prompt: str) -> None:
        """What generate answers once the model is loaded: after `generate_delay_s` when there
        is a prompt (a long generation; the client may leave meanwhile)."""
        if not prompt:
            self._send_done(body, "load")
            return
        deadline = time.time() + (self.double.control.number("generate_delay_s") or 0.0)
        while time.time() < deadline and self.client_alive():
            time.sleep(0.02)
        words = ["Ready", "."]
        if body.get("stream", True) is False:
            self.send_json(
                200,
                {
                    "model": body["model"],
                    "response": "".join(words),
                    "done": True,
                    "done_reason": "stop",
                },
            )
            return
        self.start_stream()
        for word in words:
            self.emit(
                {
                    "model": body["model"],
                    "created_at": iso(time.time()),
                    "response": word,
                    "done": False,
                }
            )
        self.emit(
            {
                "model": body["model"],
                "created_at": iso(time.time()),
                "response": "",
                "done": True,
                "done_reason": "stop",
            }
        )
        self.end_stream()

    def embed(self, body: dict[str, Any]) -> None:
        self.double.state.add("embed_requests")
        # Recorded from 0.32.0: the embed handler says "try pulling it first" (quoted with %q),
        # the generate handler does not.
        model, runner, keep_alive = self._loaded(body, "model {} not found, try pulling it first")
        raw = body.get("input")
        inputs = [raw] if isinstance(raw, str) and raw else raw if isinstance(raw, list) else []
        started = time.monotonic()
        used = self.double.scheduler.load(model, runner, keep_alive, self.client_alive)
        self.double.scheduler.release(used)  # the vectors are computed at once
        dimensions = int(self.double.store.meta(model)["embedding_length"])
        vectors = []
        for text in inputs:
            seed = hashlib.sha256(str(text).encode()).digest()
            vectors.append([round(seed[i % 32] / 255.0 - 0.5, 6) for i in range(dimensions)])
        answer: dict[str, Any] = {"model": body["model"], "embeddings": vectors}
        if inputs:
            # EmbedHandler adds timings and the token count only when there was input.
            took = int((time.monotonic() - started) * 1e9)
            answer.update(
                total_duration=took,
                load_duration=took,
                prompt_eval_count=sum(len(str(text).encode()) + 1 for text in inputs),
            )
        self.send_json(200, answer)

    def create(self, body: dict[str, Any]) -> None:
        self.streaming(body, lambda emit: self.double.create(body, emit))

    def copy(self, body: dict[str, Any]) -> None:
        """routes.go CopyHandler: 404 `model "x" not found` (quoted with %q)."""
        source = str(body.get("source") or "")
        try:
            model = self.double.find(source)
            target = parse_name(str(body.get("destination") or ""))
        except ApiError as error:
            if error.status == 404:
                raise ApiError(404, f"model {json.dumps(source)} not found") from error
            raise
        except InvalidNameError as error:
            raise ApiError(400, str(error)) from error
        with self.double.store_lock:
            self.double.store.write_manifest(target, model.path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def delete(self, body: dict[str, Any]) -> None:
        self.double.delete(str(body.get("model") or body.get("name") or ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve(argv_env: dict[str, str] | None = None) -> int:
    """`ollama serve`: honours OLLAMA_HOST and OLLAMA_MODELS, stops cleanly on SIGTERM/SIGINT.
    The double binds loopback only: 0.0.0.0 (the image's default) becomes 127.0.0.1."""
    env = os.environ if argv_env is None else argv_env
    host, port = parse_host(env.get("OLLAMA_HOST"))
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    models_dir = Path(env.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")
    control = control_from_env()
    state = state_from_env()
    state.set("server_pid", os.getpid())
    state.add("server_starts")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log(f"received {signal.Signals(signum).name}, shutting down")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"server config OLLAMA_HOST={host}:{port} OLLAMA_MODELS={models_dir}")
    settings = control.read()
    if settings.get("never_start"):
        log("fault never_start: the server will not listen", "WARN")
        stop.wait()
        return 0
    delay = float(settings.get("start_delay_s") or 0.0)
    if delay and stop.wait(delay):
        return 0
    models_dir.mkdir(parents=True, exist_ok=True)
    Handler.double = Double(models_dir, control, state)
    try:
        httpd = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        log(f"Error: listen tcp {host}:{port}: {error.strerror}", "ERROR")
        return 1
    httpd.daemon_threads = True
    worker = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="http", daemon=True
    )
    worker.start()
    log(f"Listening on {host}:{port} (version {VERSION})")
    stop.wait()
    Handler.double.stopping.set()
    deadline = time.monotonic() + 2.0
    while Handler.double.stalls_in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    httpd.shutdown()
    httpd.server_close()
    log("server stopped")
    return 0
