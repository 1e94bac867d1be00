#!/bin/sh
# Init container: put every configured model into the model store ($OLLAMA_MODELS, the cache
# volume) before the server container starts, and fail loudly when that is not possible.
#
#   1. start `ollama serve` in the background on $OLLAMA_HOST (loopback) with the model store;
#   2. poll it (`ollama list`) until it answers, or give up after the start timeout with the
#      server's own log tail;
#   3. for each model of models.tsv: a cache hit (present and whole: every blob at its size and
#      `ollama show` opening it; matching the pinned digest when one is pinned) skips the
#      download without contacting the registry; otherwise pull with
#      bounded retries and exponential backoff, logging a progress summary instead of ANSI bars;
#      an attempt that makes no progress for OIL_PULL_STALL_TIMEOUT_SECONDS, or runs longer than
#      OIL_PULL_ATTEMPT_TIMEOUT_SECONDS, is ended and counts as a failed attempt;
#   4. when a digest is pinned, compare it with the pulled manifest's digest; on a mismatch fail
#      with both digests, removing the copy this pull brought (a copy the store held before,
#      and the pull left as it was, is left to the pods sharing the store; a pull of a tag that
#      moved upstream replaces it, Ollama keeping one copy per tag). The pin covers the
#      manifest: blob bytes are checked by Ollama when it downloads them, a stored blob by size
#      (and by its sha256 at every start with OIL_VERIFY_BLOBS=true);
#   5. build the derived models of derived.tsv with `ollama create` (same input, same model),
#      each bounded by OIL_LOAD_TIMEOUT_SECONDS;
#   6. stop the server (SIGTERM, waited for) and exit 0.
# Exit status: 0 all models ready on disk, 1 a model or the server failed, 2 bad configuration,
# 143 SIGTERM (130 SIGINT): every wait is interruptible, the server is stopped and the temporary
# files removed before exiting.
# The whole flow and every knob: the README, "How a model gets from the registry to Ready".

set -eu
OIL_SCRIPT=pull-models
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_require OLLAMA_HOST OLLAMA_MODELS OIL_CONFIG_DIR OIL_POLL_INTERVAL_SECONDS \
	OIL_SERVER_START_TIMEOUT_SECONDS OIL_SERVER_STOP_TIMEOUT_SECONDS OIL_PULL_RETRIES \
	OIL_PULL_BACKOFF_SECONDS OIL_PULL_BACKOFF_MAX_SECONDS OIL_PULL_PROGRESS_SECONDS \
	OIL_PULL_STALL_TIMEOUT_SECONDS OIL_PULL_ATTEMPT_TIMEOUT_SECONDS OIL_CLI_TIMEOUT_SECONDS \
	OIL_LOAD_TIMEOUT_SECONDS OIL_VERIFY_BLOBS

oil_seconds_setting OIL_POLL_INTERVAL_SECONDS "$OIL_POLL_INTERVAL_SECONDS"
POLL_MS=$OIL_MS
oil_seconds_setting OIL_SERVER_START_TIMEOUT_SECONDS "$OIL_SERVER_START_TIMEOUT_SECONDS"
START_TIMEOUT_MS=$OIL_MS
oil_seconds_setting OIL_SERVER_STOP_TIMEOUT_SECONDS "$OIL_SERVER_STOP_TIMEOUT_SECONDS"
STOP_TIMEOUT_MS=$OIL_MS
oil_seconds_setting OIL_PULL_BACKOFF_SECONDS "$OIL_PULL_BACKOFF_SECONDS"
BACKOFF_MS=$OIL_MS
oil_seconds_setting OIL_PULL_BACKOFF_MAX_SECONDS "$OIL_PULL_BACKOFF_MAX_SECONDS"
BACKOFF_MAX_MS=$OIL_MS
oil_seconds_setting OIL_PULL_PROGRESS_SECONDS "$OIL_PULL_PROGRESS_SECONDS"
PROGRESS_MS=$OIL_MS
oil_seconds_setting OIL_PULL_STALL_TIMEOUT_SECONDS "$OIL_PULL_STALL_TIMEOUT_SECONDS"
STALL_MS=$OIL_MS
oil_seconds_setting OIL_PULL_ATTEMPT_TIMEOUT_SECONDS "$OIL_PULL_ATTEMPT_TIMEOUT_SECONDS"
ATTEMPT_MS=$OIL_MS
oil_seconds_setting OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS"
oil_seconds_setting OIL_LOAD_TIMEOUT_SECONDS "$OIL_LOAD_TIMEOUT_SECONDS"
oil_count_setting OIL_PULL_RETRIES "$OIL_PULL_RETRIES"
oil_bool_setting OIL_VERIFY_BLOBS "$OIL_VERIFY_BLOBS"
# The model lists are read before a bad setting exits, so one run reports both.
oil_load_plan
oil_settings_checked
RM_TIMEOUT_SECONDS=60
# A running pull is checked at least every second so a finished one is noticed quickly.
CHECK_MS=$POLL_MS
[ "$CHECK_MS" -le 1000 ] || CHECK_MS=1000
oil_ms_to_s "$CHECK_MS"
CHECK_S=$OIL_S

SERVER_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oil-pull.XXXXXX") || {
	oil_error "cannot create a temporary folder in ${TMPDIR:-/tmp}"
	exit 1
}
SERVER_LOG=$WORK/serve.log
# The blobs hashed whole in this start (lib.sh oil_blob_problems): a derived model's check does
# not read its base model's weights a second time.
OIL_HASHED=$WORK/hashed
: >"$OIL_HASHED"
oil_now_ms
STARTED_MS=$OIL_NOW_MS

print_server_log_tail() {
	oil_error "last lines of the ollama server log:"
	if ! tail -n 40 "$SERVER_LOG" >"$WORK/serve.tail" 2>/dev/null; then
		oil_error "(the server log $SERVER_LOG cannot be read)"
		return 0
	fi
	while IFS= read -r server_line; do
		oil_log server "$server_line"
	done <"$WORK/serve.tail"
}

# `server_exited`: true when the ollama serve this script started is gone (a crash, an OOM kill)
# and no step said so yet; says it, with its exit status and the tail of its log, so that the
# failures after it name their cause (every later CLI call only says it cannot connect).
server_exited() {
	[ -n "$SERVER_PID" ] || return 1
	! oil_pid_running "$SERVER_PID" || return 1
	se_status=0
	wait "$SERVER_PID" 2>/dev/null || se_status=$?
	oil_error "ollama serve (pid $SERVER_PID) exited with status $se_status while the models were prepared: the steps after it fail for that"
	SERVER_PID=
	print_server_log_tail
	return 0
}

# SIGTERM, then SIGKILL after the stop timeout; always reaps the child.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	stop_pid=$SERVER_PID
	SERVER_PID=
	if ! oil_pid_running "$stop_pid"; then
		oil_stop_pid "$stop_pid" 0 # reaped
		oil_info "ollama serve (pid $stop_pid) had already exited (exit status $OIL_STOPPED_STATUS)"
		return 0
	fi
	oil_now_ms
	stop_start=$OIL_NOW_MS
	oil_info "stopping ollama serve (pid $stop_pid)"
	oil_stop_pid "$stop_pid" "$STOP_TIMEOUT_MS"
	oil_elapsed "$stop_start"
	oil_info "ollama serve stopped after ${OIL_S}s (exit status $OIL_STOPPED_STATUS)"
}

# shellcheck disable=SC2329 # invoked by the EXIT trap below
on_exit() {
	exit_status=$?
	# The cleanup is bounded (OIL_SERVER_STOP_TIMEOUT_SECONDS and a few seconds more); a second
	# signal must not cut it short and leave the server or a half-stopped pull behind.
	trap '' INT TERM
	trap - EXIT
	oil_stop_children
	stop_server
	rm -rf "$WORK"
	exit "$exit_status"
}
trap on_exit EXIT
# Said, so a log that ends here is not read as a hang or a crash: the kubelet stops the pod.
trap 'oil_warn "received SIGTERM (the pod is being stopped): stopping"; exit 143' TERM
trap 'oil_warn "received SIGINT: stopping"; exit 130' INT

# The last poll's output is kept for the timeout message: a server that answers every poll with
# an error (a model store it cannot read) looks like one that does not answer, but for it.
server_answers() {
	oil_wait_bounded "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null >"$WORK/poll.out" 2>&1
}

start_server() {
	oil_info "starting ollama serve on $OLLAMA_HOST with model store $OLLAMA_MODELS"
	ollama serve </dev/null >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	oil_now_ms
	wait_start=$OIL_NOW_MS
	poll=0
	while :; do
		poll=$((poll + 1))
		if server_answers; then
			if ! oil_pid_running "$SERVER_PID"; then
				oil_error "something else answers on $OLLAMA_HOST and this container's ollama serve has exited; is the port taken?"
				print_server_log_tail
				exit 1
			fi
			oil_elapsed "$wait_start"
			oil_info "ollama serve answered after ${OIL_S}s ($poll polls)"
			return 0
		fi
		if ! oil_pid_running "$SERVER_PID"; then
			serve_status=0
			wait "$SERVER_PID" || serve_status=$?
			oil_error "ollama serve exited with status $serve_status before answering"
			SERVER_PID=
			print_server_log_tail
			exit 1
		fi
		oil_now_ms
		waited=$((OIL_NOW_MS - wait_start))
		if [ "$waited" -ge "$START_TIMEOUT_MS" ]; then
			oil_cli_error "$WORK/poll.out"
			oil_error "ollama serve did not answer on $OLLAMA_HOST within ${OIL_SERVER_START_TIMEOUT_SECONDS}s ($poll polls); the last poll (ollama list) said: $OIL_CLI_ERROR"
			print_server_log_tail
			exit 1
		fi
		oil_ms_to_s "$waited"
		oil_info "waiting for ollama serve on $OLLAMA_HOST: poll $poll, elapsed ${OIL_S}s of ${OIL_SERVER_START_TIMEOUT_SECONDS}s"
		# The last wait ends at the deadline: an interval longer than what is left (60 s against
		# a 5 s timeout) would otherwise stretch the bound by up to a whole interval.
		nap=$((START_TIMEOUT_MS - waited))
		[ "$nap" -le "$POLL_MS" ] || nap=$POLL_MS
		oil_ms_to_s "$nap"
		oil_sleep "$OIL_S"
	done
}

# The CLI's progress as plain text, from the ANSI it drew in FILE (carriage returns, escapes):
# PULL_PROGRESS gets the latest "pulling <layer>: NN%" bar, <layer> the first 12 hex of its
# digest, or "model" for a model of tensor layers (one bar for all: cmd.go names a bar by its
# digest, which images.go pullWithTransfer sends as "sha256:model"), for the progress lines, and
# PULL_STAGE the latest stage or bar ("pulling manifest", "verifying sha256 digest", ...).
# Only its last 64 KiB: the CLI redraws every state (one line per layer) ten times a second
# whether or not anything moved, so the file grows by megabytes an hour, and the last frame is
# all that is read.
read_pull_progress() {
	PULL_PROGRESS=
	PULL_STAGE=
	tail -c 65536 "$1" | tr '\r' '\n' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' >"$WORK/pull.plain" || return 0
	PULL_PROGRESS=$(grep -o 'pulling [0-9A-Za-z]*: *[0-9]*%[^▕]*' "$WORK/pull.plain" | tail -n 1 | sed 's/  */ /g') ||
		PULL_PROGRESS=
	PULL_STAGE=$(grep -oE 'pulling [0-9A-Za-z]+: *[0-9]+%|pulling manifest|verifying sha256 digest|writing manifest|removing [a-z ]*layers|success' "$WORK/pull.plain" | tail -n 1) ||
		PULL_STAGE=
}

# Progress of a pull, as a mark that changes whenever it moves: the space the model store takes
# on disk (grows with every block written, also inside a partial blob file of a resumed layer)
# and the CLI's latest stage (which moves during the phases that write nothing, such as
# verifying a large layer).
progress_mark() {
	PROGRESS_MARK=$(du -sk "$OLLAMA_MODELS" 2>/dev/null) || PROGRESS_MARK=unknown
	read_pull_progress "$WORK/pull.err"
	PROGRESS_MARK="${PROGRESS_MARK%%"$OIL_TAB"*} $PULL_STAGE"
}

# `pull_once COMMAND...`: one pull attempt. It is ended (and fails) when it makes no progress
# for OIL_PULL_STALL_TIMEOUT_SECONDS or runs longer than OIL_PULL_ATTEMPT_TIMEOUT_SECONDS; the
# server cancels a pull whose client went away, and the next attempt resumes the partial blobs
# (one that starts while the cancelled download still sleeps between its own retries, up to 32 s
# in download.go and deaf to the cancel, joins it and fails at once with "context canceled", seen
# with 0.32.0: one more attempt spent, not a stuck pull).
# "verifying sha256 digest" is never a stall: Ollama reads every blob it downloaded and shows
# nothing meanwhile (minutes for a large model on a slow volume); a pull ended there goes on
# checking in the server, while the next attempt trusts those blobs as cached, checked or not
# (server/images.go PullModel).
# Sets PULL_ERROR when it fails.
pull_once() {
	# Made before the fork: progress_mark reads it before the pull may have opened it.
	: >"$WORK/pull.err"
	"$@" </dev/null >"$WORK/pull.out" 2>"$WORK/pull.err" &
	OIL_BG_PID=$!
	oil_now_ms
	po_start=$OIL_NOW_MS
	po_last_report=$po_start
	po_last_move=$po_start
	progress_mark
	po_mark=$PROGRESS_MARK
	PULL_ERROR=
	while oil_pid_running "$OIL_BG_PID"; do
		oil_sleep "$CHECK_S"
		oil_pid_running "$OIL_BG_PID" || break
		progress_mark
		oil_now_ms
		if [ "$PROGRESS_MARK" != "$po_mark" ] || [ "$PULL_STAGE" = "verifying sha256 digest" ]; then
			po_mark=$PROGRESS_MARK
			po_last_move=$OIL_NOW_MS
		fi
		if [ $((OIL_NOW_MS - po_last_move)) -ge "$STALL_MS" ]; then
			PULL_ERROR="no progress for ${OIL_PULL_STALL_TIMEOUT_SECONDS}s (OIL_PULL_STALL_TIMEOUT_SECONDS) at \"${PULL_STAGE:-starting}\"; attempt ended"
		elif [ $((OIL_NOW_MS - po_start)) -ge "$ATTEMPT_MS" ]; then
			PULL_ERROR="not finished within OIL_PULL_ATTEMPT_TIMEOUT_SECONDS=${OIL_PULL_ATTEMPT_TIMEOUT_SECONDS}s at \"${PULL_STAGE:-starting}\"; attempt ended"
		elif [ $((OIL_NOW_MS - po_last_report)) -ge "$PROGRESS_MS" ]; then
			po_last_report=$OIL_NOW_MS
			oil_elapsed "$po_start"
			oil_info "pulling $pw_name: ${PULL_PROGRESS:-$PULL_STAGE} (elapsed ${OIL_S}s)"
		fi
		if [ -n "$PULL_ERROR" ]; then
			oil_stop_pid "$OIL_BG_PID" $((OIL_KILL_AFTER_SECONDS * 1000))
			OIL_BG_PID=
			return 1
		fi
	done
	po_status=0
	wait "$OIL_BG_PID" || po_status=$?
	OIL_BG_PID=
	[ "$po_status" -eq 0 ] && return 0
	oil_cli_error "$WORK/pull.err" "$po_status"
	PULL_ERROR=$OIL_CLI_ERROR
	return 1
}

# `pull_with_retries NAME INSECURE`: bounded attempts, exponential backoff (doubling, capped).
pull_with_retries() {
	pw_name=$1
	pw_insecure=$2
	pw_attempt=1
	pw_backoff=$BACKOFF_MS
	set -- ollama pull
	[ "$pw_insecure" != true ] || set -- "$@" --insecure
	set -- "$@" "$pw_name"
	while :; do
		oil_info "pulling $pw_name (attempt $pw_attempt of $OIL_PULL_RETRIES)"
		oil_now_ms
		pw_start=$OIL_NOW_MS
		if pull_once "$@"; then
			oil_elapsed "$pw_start"
			oil_info "pulled $pw_name in ${OIL_S}s"
			return 0
		fi
		if [ -n "$SERVER_PID" ] && ! oil_pid_running "$SERVER_PID"; then
			oil_error "pull of $pw_name failed: $PULL_ERROR; ollama serve has exited"
			server_exited
			return 1
		fi
		case $PULL_ERROR in
		*"pull model manifest: file does not exist"*)
			# Ollama's words for a registry that answered 404 for the manifest: no retry brings it.
			oil_error "pull of $pw_name failed: $PULL_ERROR: the registry has no such model or tag (it answered 404); check the name and tag, and the registry it is pulled from; not retrying"
			return 1
			;;
		*"http: no Location header in response"* | *"unexpected status code 30"[0-9]*)
			# server/download.go: the registry served a blob itself, or redirected it to another
			# host otherwise than with a 307 (ollama/ollama#7244): every attempt fails the same.
			oil_error "pull of $pw_name failed: $PULL_ERROR: Ollama downloads a blob only through a 307 redirect to another host name, and this registry serves it itself or redirects otherwise (ollama/ollama#7244); serve the models from a registry that redirects blob downloads (catalog-gen lock refuses to pin from one that does not); not retrying"
			return 1
			;;
		esac
		if [ "$pw_attempt" -ge "$OIL_PULL_RETRIES" ]; then
			oil_error "pull of $pw_name failed after $pw_attempt attempts; last error: $PULL_ERROR"
			return 1
		fi
		oil_ms_to_s "$pw_backoff"
		oil_warn "pull of $pw_name failed (attempt $pw_attempt of $OIL_PULL_RETRIES): $PULL_ERROR; retrying in ${OIL_S}s"
		oil_sleep "$OIL_S"
		pw_backoff=$((pw_backoff * 2))
		[ "$pw_backoff" -le "$BACKOFF_MAX_MS" ] || pw_backoff=$BACKOFF_MAX_MS
		pw_attempt=$((pw_attempt + 1))
	done
}

# `ollama rm` unloads the model, then deletes its manifest and unused blobs: bounded, but not by the
# probes' short CLI timeout.
remove_model() {
	if oil_wait_bounded "$RM_TIMEOUT_SECONDS" ollama rm "$1" </dev/null >"$WORK/rm.out" 2>&1; then
		oil_info "removed $1 from the model store"
	else
		oil_cli_error "$WORK/rm.out"
		oil_error "could not remove $1: $OIL_CLI_ERROR"
	fi
}

# `blobs_whole NAME DIGEST-TEXT`: whether every blob of the model's manifest is in the store at
# the size the manifest says (and, with OIL_VERIFY_BLOBS=true, with bytes whose sha256 is its
# name); a cut, grown or replaced one is removed (a pull takes any blob file as downloaded,
# whatever its bytes) and said so.
blobs_whole() {
	bw_manifest=$(oil_manifest_with "${2#* }")
	[ -n "$bw_manifest" ] || return 0
	oil_now_ms
	bw_started=$OIL_NOW_MS
	# In this shell, not a command substitution's: its hashes are waited for, which a signal
	# interrupts (lib.sh).
	oil_blob_problems "$bw_manifest" "$WORK/blobs.out" "$WORK/blob.sum" || : >"$WORK/blobs.out"
	bw_problems=$(cat "$WORK/blobs.out")
	if [ "$OIL_VERIFY_BLOBS" = true ]; then
		oil_elapsed "$bw_started"
		oil_info "$1: hashed its blobs in ${OIL_S}s (lifecycle.verifyBlobs)"
	fi
	[ -n "$bw_problems" ] || return 0
	printf '%s\n' "$bw_problems" | while IFS= read -r bw_problem; do
		oil_info "$1: blob ${bw_problem}"
		case $bw_problem in
		*bytes,* | *"not to its name")
			bw_hex=${bw_problem#sha256:}
			rm -f "$OLLAMA_MODELS/blobs/sha256-${bw_hex%%:*}"
			;;
		esac
	done
	return 1
}

# `model_whole NAME DIGEST-TEXT`: whether a listed model can be loaded. `ollama list` lists a
# model from its manifest alone (server/model_list_cache.go): a store that lost or cut a blob (a
# partial restore, a full disk, a hand clean-up) lists a model no pod can load, and a cache hit
# on it would keep the pod unready through every restart. Every blob of the manifest must be
# there at its size (blobs_whole), and `ollama show` must open the model as a load does (it
# reads the config, the weights' header and the small layers; not tensor, adapter or draft
# layers, which the size check covers). Returns 1 when it is not whole (pull it again), and 2
# when the server did not answer `show` within OIL_LOAD_TIMEOUT_SECONDS: nothing says the copy is
# damaged, and a pull could replace the copy pods sharing the store are pinned to (a tag that
# moved upstream), so the pod fails instead.
model_whole() {
	if ! blobs_whole "$1" "$2"; then
		oil_info "$1 is listed in the model store, but not whole"
		return 1
	fi
	mw_status=0
	oil_wait_bounded "$OIL_CLI_TIMEOUT_SECONDS" ollama show "$1" </dev/null >"$WORK/show.out" 2>&1 ||
		mw_status=$?
	if [ "$mw_status" -eq 124 ] || [ "$mw_status" -eq 137 ]; then
		# A large model's first `show` after the server starts reads its headers from the volume
		# (Ollama keeps the answer in the running server only): on slow storage that outlasts the
		# CLI timeout, and the server goes on. Slow is not damaged: wait for it, bounded as a load.
		oil_info "$1: ollama show did not answer within OIL_CLI_TIMEOUT_SECONDS=${OIL_CLI_TIMEOUT_SECONDS}s (a large model on a slow volume?); waiting up to OIL_LOAD_TIMEOUT_SECONDS=${OIL_LOAD_TIMEOUT_SECONDS}s"
		mw_status=0
		oil_wait_bounded "$OIL_LOAD_TIMEOUT_SECONDS" ollama show "$1" </dev/null >"$WORK/show.out" 2>&1 ||
			mw_status=$?
		if [ "$mw_status" -eq 124 ] || [ "$mw_status" -eq 137 ]; then
			oil_error "$1: ollama show did not answer within OIL_LOAD_TIMEOUT_SECONDS=${OIL_LOAD_TIMEOUT_SECONDS}s (chart value startup.budgetSeconds): the server cannot open the model store's copy in time; not pulling over it (pods sharing this store may serve it): check the volume's speed and the server log"
			return 2
		fi
	fi
	[ "$mw_status" -ne 0 ] || return 0
	oil_cli_error "$WORK/show.out"
	oil_info "$1 is listed in the model store, but the server cannot open it: $OIL_CLI_ERROR"
	return 1
}

# `still_whole NAME DIGEST-TEXT BEFORE`: after a pull, whether the model is whole. The pull takes
# any blob file the store held already as downloaded: after a pull of a model the store held
# (BEFORE not empty), a damaged blob the size check cannot see (same size, other bytes) survives
# it, and `ollama show` is asked too; after a first pull, a blob file the store held for another
# reason (another model's, left by hand) is checked by its size only (a first pull's `show` of a
# large model on a slow volume may take longer than the CLI timeout, and fail a healthy pod).
still_whole() {
	if [ -z "$3" ]; then
		blobs_whole "$1" "$2" && return 0
		oil_error "$1: not whole after its pull: a blob file the model store held already was taken as downloaded; the damaged one was removed, so the pod's next start pulls it"
		return 1
	fi
	sw_status=0
	model_whole "$1" "$2" || sw_status=$?
	case $sw_status in
	0) return 0 ;;
	2) return 1 ;; # said why
	esac
	oil_error "$1: still not loadable after pulling it again: a blob in the model store is damaged; remove the model (ollama rm $1) or the store's volume, then restart the pod"
	return 1
}

# `ensure_model NAME DISPLAY DIGEST INSECURE MANIFEST`
ensure_model() {
	em_name=$1
	em_expected=$3
	em_have=$(oil_local_digest "$em_name" "$5") || return 1
	if [ -n "$em_have" ]; then
		if [ "$em_expected" = - ]; then
			em_whole=0
			model_whole "$em_name" "$em_have" || em_whole=$?
			case $em_whole in
			0)
				oil_info "cache hit: $em_name is in the model store (${em_have#* }; no digest pinned), not pulling"
				CACHE_HITS=$((CACHE_HITS + 1))
				return 0
				;;
			2) return 1 ;;
			esac
		else
			oil_digest_verdict "$em_have" "$em_expected"
			case $OIL_VERDICT in
			match)
				em_whole=0
				model_whole "$em_name" "$em_have" || em_whole=$?
				case $em_whole in
				0)
					oil_info "cache hit: $em_name is in the model store with the pinned digest $em_expected, not pulling"
					CACHE_HITS=$((CACHE_HITS + 1))
					return 0
					;;
				2) return 1 ;;
				esac
				;;
			mismatch) oil_info "$em_name is in the model store with digest ${em_have#* }, not the pinned $em_expected: pulling again" ;;
			*) oil_info "$em_name is in the model store, but only its ID ${em_have#id } is known, not all 64 hex of the pinned $em_expected: pulling again" ;;
			esac
		fi
	fi
	em_before=$em_have
	pull_with_retries "$em_name" "$4" || return 1
	PULLED=$((PULLED + 1))
	em_have=$(oil_local_digest "$em_name" "$5") || return 1
	if [ -z "$em_have" ]; then
		oil_error "$em_name: ollama pull succeeded but ollama list does not show it (as $2)"
		return 1
	fi
	if [ "$em_expected" = - ]; then
		oil_info "$em_name has digest ${em_have#* } (not pinned)"
		still_whole "$em_name" "$em_have" "$em_before"
		return
	fi
	oil_digest_verdict "$em_have" "$em_expected"
	case $OIL_VERDICT in
	match)
		oil_info "$em_name matches the pinned digest $em_expected"
		still_whole "$em_name" "$em_have" "$em_before"
		return
		;;
	mismatch)
		if [ "$em_have" = "$em_before" ]; then
			# The pull left the store's copy as it was: pods on another pin (a shared claim, the
			# pods of the previous rollout) may be serving it, so it stays; this pod fails.
			oil_error "digest mismatch for $em_name: expected $em_expected, the registry serves ${em_have#* }, the copy already in the model store; left there (other pods sharing this store may serve it), this pod does not serve it"
			return 1
		fi
		case $em_have in
		id\ *) em_served="the server lists ID ${em_have#id } for it (its manifest file is not that: see the warning above)" ;;
		*) em_served="the registry served ${em_have#* }; the tag moved since it was pinned (Ollama pulls tags, not digests): review the new revision, then pin it (catalog-gen lock --update $em_name; with the chart alone, models[].digest)" ;;
		esac
		oil_error "digest mismatch for $em_name: expected $em_expected, $em_served; removing it so it is never served"
		remove_model "$em_name"
		return 1
		;;
	esac
	oil_error "$em_name: cannot verify the pinned digest $em_expected: the server lists ID ${em_have#id } and its manifest file cannot be read to check all 64 hex; not serving an unverified model"
	return 1
}

# Two configured names of one manifest (llama3.2:latest and llama3.2:3b) are one set of weights:
# Ollama runs one runner for both (server/sched.go keys runners by the weights file) and `ollama
# ps` lists only the name that loaded it, so the readiness probe, which waits for every name,
# would never pass. Found here, where the digests are known, it fails the pod with the reason.
# The manifests are compared by their first 12 hex (`ollama list`'s ID), the digest the server
# gives for every model. `note_model_id NAME DIGEST-TEXT` (oil_local_digest's "full|id HEX")
note_model_id() {
	nm_id=${2#* }
	nm_id=$(printf '%.12s' "$nm_id") || return 1
	while IFS="$OIL_TAB" read -r nm_seen_id nm_seen_name; do
		[ "$nm_seen_id" = "$nm_id" ] || continue
		oil_error "$nm_seen_name and $1 are one model (ID $nm_id) under two names: Ollama loads it once and ollama ps lists only one name, so the pod would never be Ready: list it once"
		return 1
	done <<EOF
$SEEN_IDS
EOF
	SEEN_IDS="$SEEN_IDS$nm_id$OIL_TAB$1$OIL_NL"
}

# `derived_whole NAME`: whether every blob of a derived model hashes to its name (with
# OIL_VERIFY_BLOBS=true). `ollama create` keeps a layer file the store holds already ("using
# existing layer", manifest/layer.go NewLayer), so a SYSTEM, TEMPLATE, PARAMETER, MESSAGE or
# adapter layer replaced at its size on a persistent store survives every create; blobs_whole
# removes it, and creating the model again writes it from the Modelfile. Blobs hashed earlier in
# this start (the model it derives from) are not read again (OIL_HASHED).
derived_whole() {
	dw_have=$(oil_local_digest "$1" "") || return 1
	[ -n "$dw_have" ] || return 0
	blobs_whole "$1" "$dw_have"
}

# `create_derived NAME MODELFILE [again]`
create_derived() {
	cd_name=$1
	cd_modelfile=$2
	oil_now_ms
	cd_start=$OIL_NOW_MS
	oil_info "creating $cd_name from $cd_modelfile"
	# Bounded like a model load: a FROM that the server must fetch first can hang on the network.
	cd_status=0
	oil_wait_bounded "$OIL_LOAD_TIMEOUT_SECONDS" ollama create "$cd_name" -f "$cd_modelfile" \
		</dev/null >"$WORK/create.out" 2>&1 || cd_status=$?
	if [ "$cd_status" -eq 0 ]; then
		oil_elapsed "$cd_start"
		oil_info "created $cd_name in ${OIL_S}s"
		[ "$OIL_VERIFY_BLOBS" = true ] || return 0
		derived_whole "$cd_name" && return 0
		if [ -z "${3-}" ]; then
			oil_info "$cd_name: creating it again to write the removed blob from its Modelfile"
			create_derived "$cd_name" "$cd_modelfile" again
			return
		fi
		oil_error "$cd_name: a blob is still damaged after creating it again"
		return 1
	fi
	# 124: `timeout` ended it; 137: it ignored SIGTERM and was killed.
	if [ "$cd_status" -eq 124 ] || [ "$cd_status" -eq 137 ]; then
		oil_error "ollama create $cd_name did not finish within OIL_LOAD_TIMEOUT_SECONDS=${OIL_LOAD_TIMEOUT_SECONDS}s"
		return 1
	fi
	oil_cli_error "$WORK/create.out" "$cd_status"
	oil_error "ollama create $cd_name failed: $OIL_CLI_ERROR"
	return 1
}

OIL_PLAN_M=$(oil_plan_records M)
OIL_PLAN_D=$(oil_plan_records D)
start_server

CACHE_HITS=0
PULLED=0
FAILED=
TOTAL=0
SEEN_IDS=
while IFS="$OIL_TAB" read -r name display digest insecure _kind manifest <&3; do
	[ -n "$name" ] || continue
	TOTAL=$((TOTAL + 1))
	# Without a server (its exit said once) a model is not tried: it fails, named below.
	if [ -z "$SERVER_PID" ] || server_exited; then
		FAILED="$FAILED $name"
		continue
	fi
	if ensure_model "$name" "$display" "$digest" "$insecure" "$manifest"; then
		note_model_id "$name" "$em_have" || FAILED="$FAILED $name"
	else
		FAILED="$FAILED $name"
	fi
done 3<<EOF
$OIL_PLAN_M
EOF

if [ -n "$FAILED" ]; then
	server_exited || :
	oil_error "not ready: failed models:$FAILED; derived models not built"
	exit 1
fi

DERIVED=0
while IFS="$OIL_TAB" read -r name _display modelfile _root _kind <&3; do
	[ -n "$name" ] || continue
	DERIVED=$((DERIVED + 1))
	if [ -z "$SERVER_PID" ] || server_exited; then
		FAILED="$FAILED $name"
		continue
	fi
	create_derived "$name" "$modelfile" || FAILED="$FAILED $name"
done 3<<EOF
$OIL_PLAN_D
EOF

if [ -n "$FAILED" ]; then
	server_exited || :
	oil_error "not ready: failed derived models:$FAILED"
	exit 1
fi

oil_elapsed "$STARTED_MS"
oil_info "all models ready on disk in ${OIL_S}s: $TOTAL pulled models ($CACHE_HITS cache hits, $PULLED downloaded), $DERIVED derived"
stop_server
exit 0
