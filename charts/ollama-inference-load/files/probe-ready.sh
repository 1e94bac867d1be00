#!/bin/sh
# startupProbe and readinessProbe of the server container: ready only when every configured
# model is loaded in memory (`ollama ps`), not merely on disk.
#
# `ollama ps` answers at once. Ollama 0.30.0 and later list a model only once it is loaded; earlier
# versions list it from the start of its load (server/sched.go adds the runner before waiting for
# it), so a model this pod's own load is still loading does not count as loaded, whatever `ps`
# says. (A load a client's request started on such an older server cannot be told from a
# loaded model: docs/lifecycle.md.)
#
# A model that is not loaded (first start, eviction) gets a load started in the
# background, detached from this probe, so the pod heals itself; readiness stays false until the
# load has completed. At most one load per model runs at a time (a pid file in $OIL_STATE_DIR).
# A load that fails is started again only after a backoff (LOAD_BACKOFF_FIRST_SECONDS, doubled
# after each failure in a row, at most LOAD_BACKOFF_MAX_SECONDS): a model that cannot load (too
# big for the GPU, a broken file) is not loaded into memory again on every probe. A crashed runner
# is not seen: Ollama 0.32.0 lists it in `ollama ps` until a request finds it dead and reloads it
# (server/sched.go needsReload).
# Its CLI calls (`ollama ps`, then `ollama list`: a model removed from the store while loaded
# fails every request) are bounded by `timeout` and share one OIL_CLI_TIMEOUT_SECONDS, so the
# probe answers within it plus a few milliseconds, whatever the server does.
#
# A model with a finite keep-alive of its own (models.tsv's last column, chart value
# models[].keepAlive) is on demand once loaded: after a load of this pod succeeded, the probe lets
# it expire (Ollama loads it again on the next request) instead of loading it back, so its memory
# is free between uses. The first load still comes before the pod is first ready.
#
# What this pod's loads left in $OIL_STATE_DIR (loads that ended, went unlisted, their logs)
# describes one server: the folder is on the pod's /tmp volume and outlives a restart of the
# container (a liveness failure, an OOM kill), whose new server has loaded nothing. The state
# carries the start time of the server, OIL_SERVER_PID (the chart's 1: `ollama serve` is the
# container's entrypoint; the tests name the double's): another server's state is dropped, so
# a restart reads as nothing loaded yet, not as evictions, and a model on demand loads again.
# Failed loads are kept: their backoff spans restarts.
#
# Exit status: 0 ready, 1 not ready (the one output line says why), 2 bad configuration or a
# failing tool (also not ready).
# `probe-ready.sh --load NAME KIND INSECURE KEEPALIVE` is the detached loader itself (internal;
# KEEPALIVE "-" uses OIL_LOAD_KEEPALIVE).

set -eu
OIL_SCRIPT=probe-ready
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_require OLLAMA_HOST OLLAMA_MODELS OIL_CONFIG_DIR OIL_CLI_TIMEOUT_SECONDS \
	OIL_LOAD_TIMEOUT_SECONDS OIL_LOAD_KEEPALIVE OIL_STATE_DIR OIL_SERVER_PID
oil_connectable_host

oil_seconds_setting OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS"
# The probe's CLI calls share one OIL_CLI_TIMEOUT_SECONDS (`ollama ps`, then `ollama list`): the
# probe's own timeout is checked against one (_validate.tpl).
CLI_BUDGET_MS=$OIL_MS
oil_seconds_setting OIL_LOAD_TIMEOUT_SECONDS "$OIL_LOAD_TIMEOUT_SECONDS"
case $OIL_SERVER_PID in
'' | *[!0-9]*)
	oil_error "OIL_SERVER_PID=$OIL_SERVER_PID is not a process id"
	OIL_BAD_SETTINGS=$((OIL_BAD_SETTINGS + 1))
	;;
esac
oil_settings_checked

# Every function is defined before the first command that may call one (the loader below too).

# The wait before loading a model again after its last load failed, doubled after each failure
# in a row (10 s, 20 s, ... 5 min): the probe period is shorter, and a failed load of a big model
# has held its memory for as long as it took.
LOAD_BACKOFF_FIRST_SECONDS=10
LOAD_BACKOFF_MAX_SECONDS=300
# A model this pod loaded that ollama ps no longer lists this soon after, once another of this
# pod's loads has ended since or is running (Ollama evicts as a load starts), was pushed out by it (models that do not fit together evict each
# other, whatever their keep-alive): loading it again would push the other out in turn. The
# first time it is loaded again at once (an eviction heals itself); from the second in a row,
# after the backoff above. A model gone with no load after it (its keep-alive ran out, a client
# or an operator unloaded it) is loaded again at once, said so, and not counted. A model that
# stayed listed this long clears the count.
LOAD_STAY_SECONDS=300

# The file name key of a model's lock and log: the first 16 hex of the sha256 of its lower case.
lock_key() {
	lk_lower=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') || return 1
	lk_sum=$(printf '%s' "$lk_lower" | sha256sum) || return 1
	LOCK_KEY=${lk_sum%%[!0-9a-f]*}
	LOCK_KEY=$(printf '%.16s' "$LOCK_KEY") || return 1
	[ "${#LOCK_KEY}" -eq 16 ] || return 1
	LOCK_FILE=$OIL_STATE_DIR/load-$LOCK_KEY.pid
	LOAD_LOG=$OIL_STATE_DIR/load-$LOCK_KEY.log
	# "<failures in a row> <when the last one ended, ms since the epoch>"; absent after a success
	FAILED_FILE=$OIL_STATE_DIR/load-$LOCK_KEY.failed
	# "<when this pod's last successful load of it ended, ms>"; taken (removed) when the model is
	# found unlisted soon after (gone_after_load)
	LOADED_FILE=$OIL_STATE_DIR/load-$LOCK_KEY.loaded
	# "<loads in a row that did not stay listed> <when the last was found gone, ms>"
	GONE_FILE=$OIL_STATE_DIR/load-$LOCK_KEY.gone
}

# Counts one more failed load of the model whose loader this is (or forgets them all after a
# successful load). `record_failures SUCCEEDED` (true or false)
record_failures() {
	if [ "$1" = true ]; then
		rm -f "$FAILED_FILE"
		return 0
	fi
	read -r rf_count _ 2>/dev/null <"$FAILED_FILE" || rf_count=0
	case $rf_count in '' | *[!0-9]*) rf_count=0 ;; esac
	oil_now_ms
	printf '%s %s\n' "$((rf_count + 1))" "$OIL_NOW_MS" >"$FAILED_FILE.$$.tmp" &&
		mv -f "$FAILED_FILE.$$.tmp" "$FAILED_FILE"
}

# True while the model's last load failed too recently to start another: sets BACKOFF_NOTE.
# `in_backoff NAME`
in_backoff() {
	BACKOFF_NOTE=
	lock_key "$1" || return 1
	read -r ib_count ib_ended 2>/dev/null <"$FAILED_FILE" || return 1
	case $ib_count$ib_ended in '' | *[!0-9]*) return 1 ;; esac
	[ "$ib_count" -gt 0 ] || return 1
	backoff_left "$ib_count" "$ib_ended" || return 1
	BACKOFF_NOTE="next attempt in ${BACKOFF_LEFT}s, after $ib_count failed load(s) in a row"
}

# Counts a load of this pod that succeeded less than LOAD_STAY_SECONDS ago (LOADED_FILE, taken
# here so each load counts once) of a model ps does not list now; true while the next load waits
# (from the second such load in a row, as after failures). Sets GONE_NOTE (empty: none counted).
# `gone_after_load NAME`
gone_after_load() {
	GONE_NOTE=
	lock_key "$1" || return 1
	oil_now_ms
	if read -r ga_loaded 2>/dev/null <"$LOADED_FILE"; then
		rm -f "$LOADED_FILE"
		case $ga_loaded in '' | *[!0-9]*) ga_loaded=0 ;; esac
		ga_ago=$(((OIL_NOW_MS - ga_loaded) / 1000))
		if [ "$ga_ago" -ge "$LOAD_STAY_SECONDS" ]; then
			:
		elif ! loaded_since "$ga_loaded" && ! other_loading "$1"; then
			GONE_NOTE="this pod loaded it ${ga_ago}s ago and no load ended since: unloaded by its keep-alive, a client or an operator, or listed under another model that shares its weights"
		else
			read -r ga_count _ 2>/dev/null <"$GONE_FILE" || ga_count=0
			case $ga_count in '' | *[!0-9]*) ga_count=0 ;; esac
			printf '%s %s\n' "$((ga_count + 1))" "$OIL_NOW_MS" >"$GONE_FILE.$$.tmp" &&
				mv -f "$GONE_FILE.$$.tmp" "$GONE_FILE"
		fi
	fi
	read -r ga_count ga_noticed 2>/dev/null <"$GONE_FILE" || return 1
	case $ga_count$ga_noticed in '' | *[!0-9]*) return 1 ;; esac
	[ "$ga_count" -gt 0 ] || return 1
	GONE_NOTE="its last $ga_count load(s) in a row went unlisted by ollama ps within ${LOAD_STAY_SECONDS}s, each once another load of this pod ran: evicted by a model it does not fit beside (GPU memory, ollama.maxLoadedModels)"
	[ "$ga_count" -ge 2 ] || return 1
	backoff_left "$((ga_count - 1))" "$ga_noticed" || return 1
	GONE_NOTE="next attempt in ${BACKOFF_LEFT}s; $GONE_NOTE"
}

# True when a load of this pod of another model was running when ps answered (Ollama evicts to
# make room when a load starts, so a slow load is seen evicting before it ends).
# `other_loading NAME`
other_loading() {
	case "$OIL_NL$LOADING_BEFORE_PS" in
	"$OIL_NL" | "$OIL_NL$1$OIL_NL") return 1 ;;
	esac
	return 0
}

# True when a load of this pod ended after TIME (ms): another model's LOADED_FILE is newer.
# `loaded_since TIME`
loaded_since() {
	for ls_file in "$OIL_STATE_DIR"/load-*.loaded; do
		read -r ls_loaded 2>/dev/null <"$ls_file" || continue
		case $ls_loaded in '' | *[!0-9]*) continue ;; esac
		[ "$ls_loaded" -le "$1" ] || return 0
	done
	return 1
}

# True when this pod's last successful load (FILE: LOADED_FILE) is LOAD_STAY_SECONDS old, or
# unknown (taken, or another client loaded the model). `stayed FILE`
stayed() {
	read -r st_loaded 2>/dev/null <"$1" || return 0
	case $st_loaded in '' | *[!0-9]*) return 0 ;; esac
	oil_now_ms
	[ $((OIL_NOW_MS - st_loaded)) -ge $((LOAD_STAY_SECONDS * 1000)) ]
}

# The seconds left (BACKOFF_LEFT) of the wait after COUNT bad outcomes in a row, the last at
# ENDED (ms); fails when the wait is over. `backoff_left COUNT ENDED`
backoff_left() {
	bl_wait=$LOAD_BACKOFF_FIRST_SECONDS
	bl_doubled=1
	while [ "$bl_doubled" -lt "$1" ] && [ "$bl_wait" -lt "$LOAD_BACKOFF_MAX_SECONDS" ]; do
		bl_wait=$((bl_wait * 2))
		bl_doubled=$((bl_doubled + 1))
	done
	[ "$bl_wait" -le "$LOAD_BACKOFF_MAX_SECONDS" ] || bl_wait=$LOAD_BACKOFF_MAX_SECONDS
	oil_now_ms
	bl_left_ms=$(($2 + bl_wait * 1000 - OIL_NOW_MS))
	[ "$bl_left_ms" -gt 0 ] || return 1
	# More left than the whole wait: the clock was set back past the outcome, whose time then
	# says nothing; the wait is over rather than as long as the clock went back.
	[ "$bl_left_ms" -le $((bl_wait * 1000)) ] || return 1
	BACKOFF_LEFT=$(((bl_left_ms + 999) / 1000))
}

# The lock of a model's loader holds "pid start-time": the start time (from /proc) tells our
# loader from a process that got its pid recycled, and, unlike the command line, it is already
# right in the instant between the fork and the loader's exec. Fails when it cannot be written.
# `write_lock NAME PID`
write_lock() {
	lock_key "$1" || return 1
	wl_started=
	! oil_proc_stat "$2" || wl_started=$OIL_PROC_START
	# The probe and its loader may both write it at once: each through a file of its own.
	printf '%s %s\n' "$2" "$wl_started" >"$LOCK_FILE.$$.tmp" && mv -f "$LOCK_FILE.$$.tmp" "$LOCK_FILE"
}

# The pid of the running loader of a model into LOADER_PID; fails when none runs.
running_loader() {
	LOADER_PID=
	lock_key "$1" || return 1
	[ -r "$LOCK_FILE" ] || return 1
	read -r rl_pid rl_started 2>/dev/null <"$LOCK_FILE" || return 1
	case $rl_pid in '' | *[!0-9]*) return 1 ;; esac
	oil_pid_running "$rl_pid" || return 1
	oil_proc_stat "$rl_pid" || return 1
	[ "$OIL_PROC_START" = "${rl_started:-}" ] || return 1
	LOADER_PID=$rl_pid
}

# The outcome the last loader of a model wrote, into LAST_OUTCOME (empty when none).
last_load_outcome() {
	LAST_OUTCOME=
	lock_key "$1" || return 0
	[ -r "$LOAD_LOG" ] || return 0
	IFS= read -r ll_line <"$LOAD_LOG" || [ -n "${ll_line:-}" ] || return 0
	# "<time> <script> <level> <message>": drop the time and the script.
	LAST_OUTCOME=${ll_line#* * }
}

# The detached loader. `ollama run` needs the request to stay open until the model is loaded
# (the server aborts a load whose client went away), so this process lives as long as the load.
# `ollama run` pulls a model that is not in the store, by its tag: that would bypass the pinned
# digest pull-models.sh verified, so the loader first asks `ollama show` and loads only a model
# the store holds (one removed since is pulled again, and verified, by restarting the pod).
# Generation models load with an empty prompt (/api/generate answers done_reason "load");
# `ollama run` refuses an empty prompt for embedding models, so they get a one-word input, which
# goes through /api/embed and loads the model the same way. SIGTERM ends the load at once and
# is recorded as its outcome.
# `run_loader NAME KIND INSECURE KEEPALIVE`
run_loader() {
	load_name=$1
	load_status=0
	oil_now_ms
	load_start=$OIL_NOW_MS
	# The traps come before the lock: a signal once it is written must remove it (loader_done
	# removes only a lock of its own, so one before is harmless).
	if ! lock_key "$load_name" || ! mkdir -p "$OIL_STATE_DIR"; then
		oil_error "loader of $load_name: cannot write its lock in $OIL_STATE_DIR" >&2
		exit 2
	fi
	trap 'loader_done 143' TERM
	trap 'loader_done 130' INT
	if ! write_lock "$load_name" "$$"; then
		trap - INT TERM
		oil_error "loader of $load_name: cannot write its lock in $OIL_STATE_DIR" >&2
		exit 2
	fi
	load_prompt=
	[ "$2" != embed ] || load_prompt=ready
	load_keepalive=$OIL_LOAD_KEEPALIVE
	case ${4:--} in -) ;; *) load_keepalive=$4 ;; esac
	oil_keepalive_flag_value "$load_keepalive"
	set -- ollama run "$load_name" "$load_prompt" "--keepalive=$OIL_KEEPALIVE_FLAG"
	[ "$3" != true ] || set -- "$@" --insecure
	load_step=show
	oil_wait_bounded "$OIL_CLI_TIMEOUT_SECONDS" ollama show "$load_name" \
		</dev/null >/dev/null 2>"$LOAD_LOG.err" || load_status=$?
	# Ollama's own words for a model the store lacks (server/routes.go ShowHandler), not any
	# "not found": a proxy's "404 page not found" is no proof the model is gone.
	if [ "$load_status" -ne 0 ] && grep -q "Error: model '.*' not found" "$LOAD_LOG.err" 2>/dev/null; then
		load_step=missing
	elif [ "$load_status" -eq 0 ]; then
		load_step=run
		oil_wait_bounded "$OIL_LOAD_TIMEOUT_SECONDS" "$@" </dev/null >/dev/null 2>"$LOAD_LOG.err" ||
			load_status=$?
	fi
	loader_done 0
}

# Writes the loader's outcome, removes its lock (if still its own) and exits.
loader_done() {
	trap '' INT TERM
	oil_stop_children
	oil_elapsed "$load_start"
	if [ "$1" -ne 0 ]; then
		oil_error "loading $load_name was interrupted by a signal after ${OIL_S}s" >"$LOAD_LOG"
	elif [ "${load_step:-}" = missing ]; then
		oil_error "not loading $load_name: it is not in the model store any more (removed?), and" \
			"loading it would pull it by its tag, unverified: restart the pod to pull it again" >"$LOAD_LOG"
	elif [ "${load_step:-}" = show ]; then
		oil_cli_error "$LOAD_LOG.err"
		oil_error "not loading $load_name: ollama show, which checks it is in the model store," \
			"failed (exit $load_status; 124: no answer within ${OIL_CLI_TIMEOUT_SECONDS}s):" \
			"$OIL_CLI_ERROR" >"$LOAD_LOG"
	elif [ "$load_status" -eq 0 ]; then
		oil_info "loaded $load_name in ${OIL_S}s" >"$LOAD_LOG"
	else
		oil_cli_error "$LOAD_LOG.err" "$load_status"
		oil_error "loading $load_name failed after ${OIL_S}s (exit $load_status): $OIL_CLI_ERROR" >"$LOAD_LOG"
	fi
	rm -f "$LOAD_LOG.err"
	# Not being able to count it only loses the backoff: the lock below must still go.
	if [ "$1" -eq 0 ] && [ "${load_step:-}" = run ] && [ "$load_status" -eq 0 ]; then
		record_failures true || true
		oil_now_ms
		{ printf '%s\n' "$OIL_NOW_MS" >"$LOADED_FILE.$$.tmp" && mv -f "$LOADED_FILE.$$.tmp" "$LOADED_FILE"; } || true
	else
		record_failures false || true
	fi
	if read -r ld_pid _ 2>/dev/null <"$LOCK_FILE" && [ "$ld_pid" = "$$" ]; then
		rm -f "$LOCK_FILE"
	fi
	exit "$1"
}

# Starts the detached loader unless one already runs, or ran when this probe asked `ollama ps`
# (its load may have finished after that answer: the next probe sees it); sets LOAD_NOTE to what
# the probe should report.
start_load() {
	if running_loader "$1"; then
		LOAD_NOTE="loading (pid $LOADER_PID)"
		return 0
	fi
	case "$OIL_NL$LOADING_BEFORE_PS$OIL_NL" in
	*"$OIL_NL$1$OIL_NL"*)
		last_load_outcome "$1"
		LOAD_NOTE="a load just ended: $LAST_OUTCOME"
		return 0
		;;
	esac
	if ! mkdir -p "$OIL_STATE_DIR" 2>/dev/null; then
		LOAD_NOTE="cannot start a load: $OIL_STATE_DIR is not writable"
		return 0
	fi
	last_load_outcome "$1"
	if gone_after_load "$1"; then
		LOAD_NOTE=$GONE_NOTE
		return 0
	fi
	if in_backoff "$1"; then
		LOAD_NOTE="$BACKOFF_NOTE; last attempt: $LAST_OUTCOME"
		return 0
	fi
	# A new session, so a probe timeout (which kills the probe's process group) spares it.
	if command -v setsid >/dev/null 2>&1; then
		setsid sh "$0" --load "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &
	else
		sh "$0" --load "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &
	fi
	sl_pid=$!
	# The loader rewrites the lock with its own pid; writing $! now already keeps the next probe
	# from starting a second load.
	if ! write_lock "$1" "$sl_pid"; then
		LOAD_NOTE="load started (pid $sl_pid), but its lock in $OIL_STATE_DIR cannot be written"
		return 0
	fi
	# A loader that failed at once (on a busy node, before this write landed) removed its own
	# lock already: this one would name a dead loader until the next probe.
	if ! oil_pid_running "$sl_pid" && read -r sl_locked _ 2>/dev/null <"$LOCK_FILE" &&
		[ "$sl_locked" = "$sl_pid" ]; then
		rm -f "$LOCK_FILE"
	fi
	LOAD_NOTE="load started (pid $sl_pid)"
	if [ -n "$GONE_NOTE" ]; then
		LOAD_NOTE="$LOAD_NOTE; $GONE_NOTE"
	elif [ -n "$LAST_OUTCOME" ]; then
		LOAD_NOTE="$LOAD_NOTE; previous attempt: $LAST_OUTCOME"
	fi
}

# True when a model with a finite keep-alive of its own was loaded by this pod's last load of it
# (its lock key's log says so), so it may stay unloaded until a request needs it.
# `on_demand NAME KEEPALIVE`
on_demand() {
	case $2 in - | -*) return 1 ;; esac
	last_load_outcome "$1"
	case $LAST_OUTCOME in "info loaded "*) return 0 ;; esac
	return 1
}

# The name keys of the models in the store, from one `ollama list` per probe: a model, loaded or
# on demand, is ready only while it is still stored (a client of the open administration API, an
# operator's `ollama rm` or another pod on a shared cache may remove it, and every request for it
# then gets a 404). STORED_ERROR says why the list failed.
STORED_KEYS=
STORED_ERROR=
STORED_READ=
read_stored() {
	[ -z "$STORED_READ" ] || return 0
	STORED_READ=yes
	oil_now_ms
	rs_left_ms=$((CLI_BUDGET_MS - (OIL_NOW_MS - PS_STARTED_MS)))
	# A clock set back since ps started gives no more than the whole budget.
	[ "$rs_left_ms" -le "$CLI_BUDGET_MS" ] || rs_left_ms=$CLI_BUDGET_MS
	if [ "$rs_left_ms" -lt 200 ]; then
		STORED_ERROR="ollama ps used the probe's ${OIL_CLI_TIMEOUT_SECONDS}s for the CLI (OIL_CLI_TIMEOUT_SECONDS), none is left for ollama list"
		return 0
	fi
	oil_ms_to_s "$rs_left_ms"
	rs_status=0
	rs_output=$(oil_timeout "$OIL_S" ollama list </dev/null 2>&1) || rs_status=$?
	if [ "$rs_status" -eq 124 ] || [ "$rs_status" -eq 137 ]; then
		STORED_ERROR="ollama list did not answer within the ${OIL_S}s ollama ps left of OIL_CLI_TIMEOUT_SECONDS=${OIL_CLI_TIMEOUT_SECONDS}s"
	elif [ "$rs_status" -ne 0 ]; then
		oil_last_line "$rs_output"
		STORED_ERROR="ollama list failed: $OIL_LAST_LINE"
	elif ! STORED_KEYS=$(printf '%s\n' "$rs_output" | oil_list_keys); then
		STORED_ERROR="reading the output of ollama list failed (awk exited non-zero)"
	fi
}

# `unstored MEMBERS` (comma separated display names): UNSTORED gets the first member the store
# lacks (STORED_ERROR set instead when the store could not be listed); true when one is missing.
unstored() {
	UNSTORED=
	read_stored
	[ -z "$STORED_ERROR" ] || return 0
	set -f
	us_ifs=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split on the commas on purpose (names hold none)
	set -- $1
	IFS=$us_ifs
	set +f
	for us_member; do
		us_key=$(printf '%s' "$us_member" | tr '[:upper:]' '[:lower:]') || exit 2
		case "$OIL_NL$STORED_KEYS$OIL_NL" in
		*"$OIL_NL$us_key$OIL_NL"*) ;;
		*)
			UNSTORED=$us_member
			return 0
			;;
		esac
	done
	return 1
}

# The state of another server (see the top) dropped, this one's start time kept; nothing done
# where /proc cannot say (no state is dropped on a guess).
forget_other_server() {
	oil_proc_stat "$OIL_SERVER_PID" || return 0
	fs_kept=
	IFS= read -r fs_kept 2>/dev/null <"$OIL_STATE_DIR/server" || true
	[ "$fs_kept" != "$OIL_PROC_START" ] || return 0
	rm -f "$OIL_STATE_DIR"/load-*.loaded "$OIL_STATE_DIR"/load-*.gone "$OIL_STATE_DIR"/load-*.log
	{ mkdir -p "$OIL_STATE_DIR" && printf '%s\n' "$OIL_PROC_START" >"$OIL_STATE_DIR/server"; } \
		2>/dev/null || true
}

if [ "${1:-}" = --load ]; then
	run_loader "$2" "$3" "$4" "${5:--}"
fi

forget_other_server

oil_load_plan
PLAN_G=$(oil_plan_records G)

# Failed loads counted for the backoff: none without such a file (the steady state). A model seen
# loaded (whoever loaded it) clears its count, so a later failure waits as a first one.
set -- "$OIL_STATE_DIR"/load-*.failed
FAILURES_COUNTED=
[ ! -e "$1" ] || FAILURES_COUNTED=yes
# Loads that went unlisted soon after (gone_after_load), likewise: a model seen listed clears
# its count once it has stayed LOAD_STAY_SECONDS past this pod's last load of it.
set -- "$OIL_STATE_DIR"/load-*.gone
GONE_COUNTED=
[ ! -e "$1" ] || GONE_COUNTED=yes

# The loads of this pod running now: none without a lock file (the steady state, every model
# loaded: no subshell per load group on every probe).
LOADING_BEFORE_PS=
set -- "$OIL_STATE_DIR"/load-*.pid
if [ -e "$1" ]; then
	while IFS="$OIL_TAB" read -r _root load_name _rest; do
		[ -n "$load_name" ] || continue
		! running_loader "$load_name" || LOADING_BEFORE_PS="$LOADING_BEFORE_PS$load_name$OIL_NL"
	done <<EOF
$PLAN_G
EOF
fi

ps_status=0
oil_now_ms
PS_STARTED_MS=$OIL_NOW_MS
ps_output=$(oil_timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama ps </dev/null 2>&1) || ps_status=$?
if [ "$ps_status" -ne 0 ]; then
	if [ "$ps_status" -eq 124 ] || [ "$ps_status" -eq 137 ]; then
		reason="ollama ps did not answer within ${OIL_CLI_TIMEOUT_SECONDS}s (the server is overloaded or stuck)"
	else
		oil_last_line "$ps_output"
		reason="ollama ps failed: $OIL_LAST_LINE"
	fi
	oil_log not-ready "$reason"
	exit 1
fi

if ! ps_states=$(printf '%s\n' "$ps_output" | oil_ps_states); then
	oil_log not-ready "reading the output of ollama ps failed (awk exited non-zero)"
	exit 2
fi

ready_models=
waiting=
while IFS="$OIL_TAB" read -r root load_name kind insecure members keepalive <&3; do
	[ -n "$root" ] || continue
	loaded_member=
	set -f
	old_ifs=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split on the commas on purpose (names hold none)
	set -- $members
	IFS=$old_ifs
	set +f
	for member; do
		# Members are display names already (oil_plan), so their key is their lower case.
		member_key=$(printf '%s' "$member" | tr '[:upper:]' '[:lower:]') || exit 2
		# `Stopping...` (past its keep-alive) is still loaded: Ollama moves the expiry only when
		# the last request ends, so a model kept busy longer than its keep-alive is listed so
		# while it serves. One being unloaded is gone at a later probe, which then loads it.
		case "$OIL_NL$ps_states$OIL_NL" in
		*"$OIL_NL$member_key${OIL_TAB}loaded$OIL_NL"* | *"$OIL_NL$member_key${OIL_TAB}stopping$OIL_NL"*)
			loaded_member=$member
			break
			;;
		esac
	done
	if [ -n "$loaded_member" ]; then
		case "$OIL_NL$LOADING_BEFORE_PS$OIL_NL" in
		*"$OIL_NL$load_name$OIL_NL"*)
			# Listed, but this pod's load of it had not ended when ps answered (see the top).
			waiting="$waiting; $load_name: listed by ollama ps, but its load had not finished"
			continue
			;;
		esac
		# Loaded is not enough: Ollama answers a request from the model's manifest in the store,
		# so a member removed while its runner stays loaded (`ollama rm` by another server on a
		# shared cache, DELETE /api/delete, which unloads nothing, an operator) gets a 404 for
		# every request. Where the store cannot be listed in time, nothing says it is gone.
		if unstored "$members" && [ -z "$STORED_ERROR" ]; then
			waiting="$waiting; $load_name: loaded, but $UNSTORED is not in the model store any more (removed?); every request for it fails: restart the pod to pull or create it again"
			continue
		fi
		ready_models="$ready_models $loaded_member"
		if [ -n "$FAILURES_COUNTED" ] && lock_key "$load_name"; then
			rm -f "$FAILED_FILE"
		fi
		if [ -n "$GONE_COUNTED" ] && lock_key "$load_name" && [ -e "$GONE_FILE" ] && stayed "$LOADED_FILE"; then
			rm -f "$GONE_FILE"
		fi
		continue
	fi
	if on_demand "$load_name" "${keepalive:--}"; then
		if ! unstored "$members"; then
			ready_models="$ready_models $load_name(on demand)"
		elif [ -n "$STORED_ERROR" ]; then
			waiting="$waiting; $load_name: on demand, but whether it is still stored is unknown: $STORED_ERROR"
		else
			waiting="$waiting; $load_name: on demand, but $UNSTORED is not in the model store any more (removed?); a request for it would fail: restart the pod to pull or create it again"
		fi
		continue
	fi
	start_load "$load_name" "$kind" "$insecure" "${keepalive:--}"
	waiting="$waiting; $load_name: not loaded, $LOAD_NOTE"
done 3<<EOF
$PLAN_G
EOF

if [ -n "$waiting" ]; then
	oil_log not-ready "${waiting#; }"
	exit 1
fi
oil_log ready "loaded:${ready_models:- (no models configured)}"
exit 0
