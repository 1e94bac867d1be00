#!/bin/sh
# Init container: put every configured model into the model store ($OLLAMA_MODELS, the cache
# volume) before the server container starts, and fail loudly when that is not possible.
#
#   1. start `ollama serve` in the background on $OLLAMA_HOST (loopback) with the model store;
#   2. poll it (`ollama list`) until it answers, or give up after the start timeout with the
#      server's own log tail;
#   3. for each model of models.tsv: a cache hit (present, and matching the pinned digest when
#      one is pinned) skips the download without contacting the registry; otherwise pull with
#      bounded retries and exponential backoff, logging a progress summary instead of ANSI bars;
#   4. when a digest is pinned, compare it with the pulled manifest's digest; on a mismatch
#      remove the model (a bad copy is never served) and fail with both digests;
#   5. build the derived models of derived.tsv with `ollama create` (same input, same model),
#      each bounded by OIL_LOAD_TIMEOUT_SECONDS;
#   6. stop the server (SIGTERM, waited for) and exit 0.
# Exit status: 0 all models ready on disk, 1 a model or the server failed, 2 bad configuration.
# The whole flow and every knob: the README, "How a model gets from the registry to Ready".

set -u
OIL_SCRIPT=pull-models
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

POLL_MS=$(oil_duration_ms OIL_POLL_INTERVAL_SECONDS "$OIL_POLL_INTERVAL_SECONDS") || exit 2
START_TIMEOUT_MS=$(oil_duration_ms OIL_SERVER_START_TIMEOUT_SECONDS "$OIL_SERVER_START_TIMEOUT_SECONDS") || exit 2
STOP_TIMEOUT_MS=$(oil_duration_ms OIL_SERVER_STOP_TIMEOUT_SECONDS "$OIL_SERVER_STOP_TIMEOUT_SECONDS") || exit 2
BACKOFF_MS=$(oil_duration_ms OIL_PULL_BACKOFF_SECONDS "$OIL_PULL_BACKOFF_SECONDS") || exit 2
BACKOFF_MAX_MS=$(oil_duration_ms OIL_PULL_BACKOFF_MAX_SECONDS "$OIL_PULL_BACKOFF_MAX_SECONDS") || exit 2
PROGRESS_MS=$(oil_duration_ms OIL_PULL_PROGRESS_SECONDS "$OIL_PULL_PROGRESS_SECONDS") || exit 2
oil_duration_ms OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS" >/dev/null || exit 2
oil_duration_ms OIL_LOAD_TIMEOUT_SECONDS "$OIL_LOAD_TIMEOUT_SECONDS" >/dev/null || exit 2
oil_require_count OIL_PULL_RETRIES "$OIL_PULL_RETRIES" || exit 2
RM_TIMEOUT_SECONDS=60
# A running pull is checked at least every second so a finished one is noticed quickly.
CHECK_MS=$POLL_MS
[ "$CHECK_MS" -gt 1000 ] && CHECK_MS=1000

oil_load_plan

SERVER_PID=
PULL_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oil-pull.XXXXXX") || {
	oil_error "cannot create a temporary folder in ${TMPDIR:-/tmp}"
	exit 1
}
SERVER_LOG=$WORK/serve.log
STARTED_MS=$(oil_now_ms)

elapsed() { oil_ms_to_s "$(($(oil_now_ms) - $1))"; }

print_server_log_tail() {
	oil_error "last lines of the ollama server log:"
	tail -n 40 "$SERVER_LOG" 2>/dev/null | while IFS= read -r server_line; do
		oil_log server "$server_line"
	done
}

# SIGTERM, then wait (polling /proc, as the exited child stays a zombie until `wait`); SIGKILL
# only after the stop timeout. Always reaps the child so nothing is left behind.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	stop_pid=$SERVER_PID
	SERVER_PID=
	if oil_pid_running "$stop_pid"; then
		oil_info "stopping ollama serve (pid $stop_pid)"
		kill -TERM "$stop_pid" 2>/dev/null
		stop_start=$(oil_now_ms)
		while oil_pid_running "$stop_pid"; do
			if [ $(($(oil_now_ms) - stop_start)) -ge "$STOP_TIMEOUT_MS" ]; then
				oil_warn "ollama serve ignored SIGTERM for $(elapsed "$stop_start")s; killing it"
				kill -KILL "$stop_pid" 2>/dev/null
				break
			fi
			sleep 0.1
		done
	fi
	wait "$stop_pid" 2>/dev/null
	oil_info "ollama serve stopped (exit status $?)"
}

# shellcheck disable=SC2329 # invoked by the EXIT trap below
on_exit() {
	exit_status=$?
	trap - EXIT INT TERM
	if [ -n "$PULL_PID" ] && oil_pid_running "$PULL_PID"; then
		kill -TERM "$PULL_PID" 2>/dev/null
		wait "$PULL_PID" 2>/dev/null
	fi
	stop_server
	rm -rf "$WORK"
	exit "$exit_status"
}
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

server_answers() {
	timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null >/dev/null 2>&1
}

start_server() {
	oil_info "starting ollama serve on $OLLAMA_HOST with model store $OLLAMA_MODELS"
	ollama serve </dev/null >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	wait_start=$(oil_now_ms)
	poll=0
	while :; do
		poll=$((poll + 1))
		if server_answers; then
			if ! oil_pid_running "$SERVER_PID"; then
				oil_error "something else answers on $OLLAMA_HOST and this container's ollama serve has exited; is the port taken?"
				print_server_log_tail
				exit 1
			fi
			oil_info "ollama serve answered after $(elapsed "$wait_start")s ($poll polls)"
			return 0
		fi
		if ! oil_pid_running "$SERVER_PID"; then
			wait "$SERVER_PID"
			oil_error "ollama serve exited with status $? before answering"
			SERVER_PID=
			print_server_log_tail
			exit 1
		fi
		waited=$(($(oil_now_ms) - wait_start))
		if [ "$waited" -ge "$START_TIMEOUT_MS" ]; then
			oil_error "ollama serve did not answer on $OLLAMA_HOST within ${OIL_SERVER_START_TIMEOUT_SECONDS}s ($poll polls)"
			print_server_log_tail
			exit 1
		fi
		oil_info "waiting for ollama serve on $OLLAMA_HOST: poll $poll, elapsed $(oil_ms_to_s "$waited")s of ${OIL_SERVER_START_TIMEOUT_SECONDS}s"
		sleep "$(oil_ms_to_s "$POLL_MS")"
	done
}

# The latest "pulling <layer>: NN% ..." bar the CLI drew (ANSI stripped), for progress lines.
pull_progress() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
		grep -o 'pulling [0-9a-f]*: *[0-9]*%[^▕]*' | tail -n 1 | sed 's/  */ /g'
}

# `pull_with_retries NAME INSECURE`: bounded attempts, exponential backoff (doubling, capped).
pull_with_retries() {
	pw_name=$1
	pw_insecure=$2
	pw_attempt=1
	pw_backoff=$BACKOFF_MS
	set -- ollama pull
	[ "$pw_insecure" = true ] && set -- "$@" --insecure
	set -- "$@" "$pw_name"
	while :; do
		oil_info "pulling $pw_name (attempt $pw_attempt of $OIL_PULL_RETRIES)"
		pw_start=$(oil_now_ms)
		pw_last_report=$pw_start
		"$@" </dev/null >"$WORK/pull.out" 2>"$WORK/pull.err" &
		pw_pid=$!
		PULL_PID=$pw_pid
		while oil_pid_running "$pw_pid"; do
			sleep "$(oil_ms_to_s "$CHECK_MS")"
			if [ $(($(oil_now_ms) - pw_last_report)) -ge "$PROGRESS_MS" ] && oil_pid_running "$pw_pid"; then
				pw_last_report=$(oil_now_ms)
				oil_info "pulling $pw_name: $(pull_progress "$WORK/pull.err") (elapsed $(elapsed "$pw_start")s)"
			fi
		done
		wait "$pw_pid"
		pw_status=$?
		PULL_PID=
		if [ "$pw_status" -eq 0 ]; then
			oil_info "pulled $pw_name in $(elapsed "$pw_start")s"
			return 0
		fi
		pw_error=$(oil_cli_error "$WORK/pull.err")
		if [ -n "$SERVER_PID" ] && ! oil_pid_running "$SERVER_PID"; then
			oil_error "pull of $pw_name failed: $pw_error; ollama serve has exited"
			print_server_log_tail
			return 1
		fi
		if [ "$pw_attempt" -ge "$OIL_PULL_RETRIES" ]; then
			oil_error "pull of $pw_name failed after $pw_attempt attempts; last error from the server: $pw_error"
			return 1
		fi
		oil_warn "pull of $pw_name failed (attempt $pw_attempt of $OIL_PULL_RETRIES): $pw_error; retrying in $(oil_ms_to_s "$pw_backoff")s"
		sleep "$(oil_ms_to_s "$pw_backoff")"
		pw_backoff=$((pw_backoff * 2))
		[ "$pw_backoff" -gt "$BACKOFF_MAX_MS" ] && pw_backoff=$BACKOFF_MAX_MS
		pw_attempt=$((pw_attempt + 1))
	done
}

# `ollama rm` unloads the model, then deletes its manifest and unused blobs: bounded, but not by the
# probes' short CLI timeout.
remove_model() {
	if timeout "$RM_TIMEOUT_SECONDS" ollama rm "$1" </dev/null >"$WORK/rm.out" 2>&1; then
		oil_info "removed $1 from the model store"
	else
		oil_error "could not remove $1: $(oil_cli_error "$WORK/rm.out")"
	fi
}

# `ensure_model NAME DISPLAY DIGEST INSECURE MANIFEST`
ensure_model() {
	em_name=$1
	em_expected=$3
	em_have=$(oil_local_digest "$em_name" "$5") || return 1
	if [ -n "$em_have" ]; then
		if [ "$em_expected" = - ]; then
			oil_info "cache hit: $em_name is in the model store (${em_have#* }; no digest pinned), not pulling"
			CACHE_HITS=$((CACHE_HITS + 1))
			return 0
		fi
		case $(oil_digest_verdict "$em_have" "$em_expected") in
		match)
			oil_info "cache hit: $em_name is in the model store with the pinned digest $em_expected, not pulling"
			CACHE_HITS=$((CACHE_HITS + 1))
			return 0
			;;
		mismatch) oil_info "$em_name is in the model store with digest ${em_have#* }, not the pinned $em_expected: pulling again" ;;
		*) oil_info "$em_name is in the model store, but only its ID ${em_have#id } is known, not all 64 hex of the pinned $em_expected: pulling again" ;;
		esac
	fi
	pull_with_retries "$em_name" "$4" || return 1
	PULLED=$((PULLED + 1))
	em_have=$(oil_local_digest "$em_name" "$5") || return 1
	if [ -z "$em_have" ]; then
		oil_error "$em_name: ollama pull succeeded but ollama list does not show it (as $2)"
		return 1
	fi
	if [ "$em_expected" = - ]; then
		oil_info "$em_name has digest ${em_have#* } (not pinned)"
		return 0
	fi
	case $(oil_digest_verdict "$em_have" "$em_expected") in
	match)
		oil_info "$em_name matches the pinned digest $em_expected"
		return 0
		;;
	mismatch)
		oil_error "digest mismatch for $em_name: expected $em_expected, the registry served ${em_have#* }; removing it so it is never served"
		remove_model "$em_name"
		return 1
		;;
	esac
	oil_error "$em_name: cannot verify the pinned digest $em_expected: the server lists ID ${em_have#id } and its manifest file cannot be read to check all 64 hex; not serving an unverified model"
	return 1
}

create_derived() {
	cd_name=$1
	cd_modelfile=$2
	cd_start=$(oil_now_ms)
	oil_info "creating $cd_name from $cd_modelfile"
	# Bounded like a model load: a FROM that the server must fetch first can hang on the network.
	timeout "$OIL_LOAD_TIMEOUT_SECONDS" ollama create "$cd_name" -f "$cd_modelfile" \
		</dev/null >"$WORK/create.out" 2>&1
	cd_status=$?
	if [ "$cd_status" -eq 0 ]; then
		oil_info "created $cd_name in $(elapsed "$cd_start")s"
		return 0
	fi
	if [ "$cd_status" -eq 124 ]; then
		oil_error "ollama create $cd_name did not finish within OIL_LOAD_TIMEOUT_SECONDS=${OIL_LOAD_TIMEOUT_SECONDS}s"
		return 1
	fi
	oil_error "ollama create $cd_name failed: $(oil_cli_error "$WORK/create.out")"
	return 1
}

start_server

CACHE_HITS=0
PULLED=0
FAILED=
TOTAL=0
while IFS="$OIL_TAB" read -r name display digest insecure _kind manifest <&3; do
	[ -n "$name" ] || continue
	TOTAL=$((TOTAL + 1))
	ensure_model "$name" "$display" "$digest" "$insecure" "$manifest" || FAILED="$FAILED $name"
done 3<<EOF
$(oil_plan_records M)
EOF

if [ -n "$FAILED" ]; then
	oil_error "not ready: failed models:$FAILED; derived models not built"
	exit 1
fi

DERIVED=0
while IFS="$OIL_TAB" read -r name _display modelfile _root _kind <&3; do
	[ -n "$name" ] || continue
	DERIVED=$((DERIVED + 1))
	create_derived "$name" "$modelfile" || FAILED="$FAILED $name"
done 3<<EOF
$(oil_plan_records D)
EOF

if [ -n "$FAILED" ]; then
	oil_error "not ready: failed derived models:$FAILED"
	exit 1
fi

oil_info "all models ready on disk in $(elapsed "$STARTED_MS")s: $TOTAL pulled models ($CACHE_HITS cache hits, $PULLED downloaded), $DERIVED derived"
stop_server
exit 0
