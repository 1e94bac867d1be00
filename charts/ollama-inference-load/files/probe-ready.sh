#!/bin/sh
# startupProbe and readinessProbe of the server container: ready only when every configured
# model is loaded in memory (`ollama ps`), not merely on disk.
#
# A model that is not loaded (first start, eviction, a crashed runner) gets a load started in the
# background, detached from this probe, so the pod heals itself; readiness stays false until the
# load has completed. At most one load per model runs at a time (a pid file in $OIL_STATE_DIR).
# Every CLI call is bounded by `timeout`, so the probe answers within OIL_CLI_TIMEOUT_SECONDS
# plus a few milliseconds, whatever the server does.
#
# Exit status: 0 ready, 1 not ready (the one output line says why), 2 bad configuration.
# `probe-ready.sh --load NAME KIND INSECURE` is the detached loader itself (internal).

set -u
OIL_SCRIPT=probe-ready
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_duration_ms OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS" >/dev/null || exit 2
oil_duration_ms OIL_LOAD_TIMEOUT_SECONDS "$OIL_LOAD_TIMEOUT_SECONDS" >/dev/null || exit 2

lock_key() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sha256sum | cut -c1-16; }

# The detached loader. `ollama run` needs the request to stay open until the model is loaded
# (the server aborts a load whose client went away), so this process lives as long as the load.
# Generation models load with an empty prompt (/api/generate answers done_reason "load");
# `ollama run` refuses an empty prompt for embedding models, so they get a one-word input, which
# goes through /api/embed and loads the model the same way.
if [ "${1:-}" = --load ]; then
	load_name=$2
	load_kind=$3
	load_insecure=$4
	load_key=$(lock_key "$load_name")
	load_lock=$OIL_STATE_DIR/load-$load_key.pid
	load_log=$OIL_STATE_DIR/load-$load_key.log
	write_lock "$load_name" "$$"
	load_prompt=
	[ "$load_kind" = embed ] && load_prompt=ready
	set -- ollama run "$load_name" "$load_prompt" "--keepalive=$(oil_keepalive_flag_value "$OIL_LOAD_KEEPALIVE")"
	[ "$load_insecure" = true ] && set -- "$@" --insecure
	load_start=$(oil_now_ms)
	if timeout "$OIL_LOAD_TIMEOUT_SECONDS" "$@" </dev/null >/dev/null 2>"$load_log.err"; then
		oil_info "loaded $load_name in $(oil_ms_to_s "$(($(oil_now_ms) - load_start))")s" >"$load_log"
	else
		load_status=$?
		oil_error "loading $load_name failed after $(oil_ms_to_s "$(($(oil_now_ms) - load_start))")s (exit $load_status): $(oil_cli_error "$load_log.err")" >"$load_log"
	fi
	rm -f "$load_log.err"
	read -r lock_pid _ <"$load_lock" 2>/dev/null && [ "$lock_pid" = "$$" ] && rm -f "$load_lock"
	exit 0
fi

oil_load_plan

# The lock of a model's loader holds "pid start-time": the start time (from /proc) tells our
# loader from a process that got its pid recycled, and, unlike the command line, it is already
# right in the instant between the fork and the loader's exec.
write_lock() {
	printf '%s %s\n' "$2" "$(oil_proc_start_time "$2")" >"$OIL_STATE_DIR/load-$(lock_key "$1").pid"
}

# The pid of the running loader of a model, if one runs.
running_loader() {
	rl_lock=$OIL_STATE_DIR/load-$(lock_key "$1").pid
	[ -r "$rl_lock" ] || return 1
	read -r rl_pid rl_started <"$rl_lock" 2>/dev/null || return 1
	case $rl_pid in '' | *[!0-9]*) return 1 ;; esac
	oil_pid_running "$rl_pid" || return 1
	[ "$(oil_proc_start_time "$rl_pid")" = "${rl_started:-}" ] || return 1
	printf '%s' "$rl_pid"
}

last_load_outcome() {
	ll_log=$OIL_STATE_DIR/load-$(lock_key "$1").log
	[ -r "$ll_log" ] && cut -d' ' -f3- "$ll_log" | head -n 1
}

# Starts the detached loader unless one already runs, or ran when this probe asked `ollama ps`
# (its load may have finished after that answer: the next probe sees it); prints what the probe
# should report.
start_load() {
	if sl_pid=$(running_loader "$1"); then
		printf 'loading (pid %s)' "$sl_pid"
		return 0
	fi
	if printf '%s\n' "$LOADING_BEFORE_PS" | grep -qxF -- "$1"; then
		printf 'a load just ended: %s' "$(last_load_outcome "$1")"
		return 0
	fi
	if ! mkdir -p "$OIL_STATE_DIR" 2>/dev/null; then
		printf 'cannot start a load: %s is not writable' "$OIL_STATE_DIR"
		return 0
	fi
	sl_previous=$(last_load_outcome "$1")
	# A new session, so a probe timeout (which kills the probe's process group) spares it.
	if command -v setsid >/dev/null 2>&1; then
		setsid sh "$0" --load "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &
	else
		sh "$0" --load "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &
	fi
	# The loader rewrites the lock with its own pid; writing $! now already keeps the next probe
	# from starting a second load.
	write_lock "$1" "$!"
	printf 'load started (pid %s)' "$!"
	[ -n "$sl_previous" ] && printf '; previous attempt: %s' "$sl_previous"
	return 0
}

LOADING_BEFORE_PS=$(oil_plan_records G | while IFS="$OIL_TAB" read -r _root load_name _rest; do
	[ -n "$load_name" ] && running_loader "$load_name" >/dev/null && printf '%s\n' "$load_name"
done)
ps_output=$(timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama ps </dev/null 2>&1)
ps_status=$?
if [ "$ps_status" -ne 0 ]; then
	if [ "$ps_status" -eq 124 ]; then
		# The server holds `ollama ps` while a model loads (server/sched.go), so this is the
		# usual answer during a load.
		reason="ollama ps did not answer within ${OIL_CLI_TIMEOUT_SECONDS}s (a model load in progress?)"
	else
		reason="ollama ps failed: $(printf '%s' "$ps_output" | tail -n 1)"
	fi
	oil_log not-ready "$reason"
	exit 1
fi

ps_states=$(printf '%s\n' "$ps_output" | oil_ps_states)

ready_models=
waiting=
while IFS="$OIL_TAB" read -r root load_name kind insecure members <&3; do
	[ -n "$root" ] || continue
	state=absent
	for member in $(printf '%s' "$members" | tr ',' ' '); do
		# Members are display names already (oil_plan), so their key is their lower case.
		member_key=$(printf '%s' "$member" | tr '[:upper:]' '[:lower:]')
		if printf '%s\n' "$ps_states" | grep -qxF -- "$member_key${OIL_TAB}loaded"; then
			state=loaded
			ready_models="$ready_models $member"
			break
		fi
		printf '%s\n' "$ps_states" | grep -qxF -- "$member_key${OIL_TAB}stopping" && state=stopping
	done
	[ "$state" = loaded ] && continue
	note=
	[ "$state" = stopping ] && note="being unloaded, "
	waiting="$waiting; $load_name: not loaded, ${note}$(start_load "$load_name" "$kind" "$insecure")"
done 3<<EOF
$(oil_plan_records G)
EOF

if [ -n "$waiting" ]; then
	oil_log not-ready "${waiting#; }"
	exit 1
fi
oil_log ready "loaded:${ready_models:- (no models configured)}"
exit 0
