# shellcheck shell=sh
# The helpers return results in OIL_* variables (no command substitution that could mask a
# failure), which only the scripts sourcing this file read.
# shellcheck disable=SC2034
# Shared helpers of the model lifecycle scripts, sourced by each of them from the same folder.
#
# Runs inside the official ollama/ollama image (ubuntu:24.04, dash as /bin/sh, no curl, no wget):
# only POSIX sh, coreutils (date, timeout, sleep, sha256sum, mktemp, tr, cut, tail), grep, sed,
# awk (mawk) and the ollama CLI are used. Every CLI fact relied on here is in
# the README, "What the scripts rely on".

OIL_TAB='	'
# Ollama's default registry: `ollama list` and `ollama ps` drop it (and the `library` namespace)
# from the names they print.
OIL_DEFAULT_REGISTRY=registry.ollama.ai
# The largest duration and count any setting may have. The chart's values.schema.json owns the
# real bounds of each value (all inside these); tests/scripts/test_settings.py checks that every
# schema maximum is accepted here, so the chart never renders a value the scripts refuse.
OIL_MAX_SECONDS=604800
OIL_MAX_COUNT=1000
# How long a command that ignored SIGTERM (from `timeout` or from a cleanup) gets before SIGKILL.
OIL_KILL_AFTER_SECONDS=1
# Pids of the background children the scripts wait on, so a signal handler can end them.
OIL_SLEEP_PID=
OIL_BG_PID=

# One line per event: `<UTC time with ms> <script> <level> <message>`, no colour, no control
# characters, so `kubectl logs` output can be split on the first three spaces.
oil_log() {
	oil_log_level=$1
	shift
	oil_log_time=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) || oil_log_time=unknown-time
	oil_log_text=$(printf '%s' "$*" | tr '\n\r\t' '   ' | tr -d '\000-\010\013-\037') ||
		oil_log_text=$*
	printf '%s %s %s %s\n' "$oil_log_time" "${OIL_SCRIPT:-lib}" "$oil_log_level" "$oil_log_text"
}

oil_info() { oil_log info "$@"; }
oil_warn() { oil_log warn "$@"; }
oil_error() { oil_log error "$@"; }

# Milliseconds since the epoch; a failing `date` ends the script (every timing depends on it).
oil_now_ms() {
	OIL_NOW_MS=$(date +%s%3N) || {
		oil_error "date failed: cannot measure time" >&2
		exit 2
	}
	case $OIL_NOW_MS in '' | *[!0-9]*)
		oil_error "date printed \"$OIL_NOW_MS\", not milliseconds" >&2
		exit 2
		;;
	esac
}

# `oil_to_ms VALUE`: "12", "0.25", "1.5" -> OIL_MS (milliseconds, fraction cut at 3 digits).
# Fails, setting nothing, for anything else and for more than 9 integer digits, so the
# arithmetic can never overflow.
oil_to_ms() {
	case $1 in
	'' | *[!0-9.]* | *.*.* | . | .*) return 1 ;;
	*.*)
		oil_tm_int=${1%%.*}
		oil_tm_frac="${1#*.}000"
		;;
	*)
		oil_tm_int=$1
		oil_tm_frac=000
		;;
	esac
	while [ "${#oil_tm_frac}" -gt 3 ]; do oil_tm_frac=${oil_tm_frac%?}; done
	# Leading zeros would read as octal in $(( )).
	while :; do case $oil_tm_int in 0?*) oil_tm_int=${oil_tm_int#0} ;; *) break ;; esac; done
	while :; do case $oil_tm_frac in 0?*) oil_tm_frac=${oil_tm_frac#0} ;; *) break ;; esac; done
	[ "${#oil_tm_int}" -le 9 ] || return 1
	OIL_MS=$((oil_tm_int * 1000 + oil_tm_frac))
}

# Milliseconds -> "1.234" (seconds) into OIL_S, for logs and for sleep/timeout arguments.
oil_ms_to_s() {
	oil_mts_frac=$(($1 % 1000))
	while [ "${#oil_mts_frac}" -lt 3 ]; do oil_mts_frac=0$oil_mts_frac; done
	OIL_S=$(($1 / 1000)).$oil_mts_frac
}

# `oil_elapsed START_MS`: seconds since START_MS ("1.234") into OIL_S.
oil_elapsed() {
	oil_now_ms
	oil_ms_to_s $((OIL_NOW_MS - $1))
}

# Every numeric setting goes through one of these two: a wrong or out-of-range value is
# reported (naming the variable) and counted in OIL_BAD_SETTINGS; `oil_settings_checked` then
# exits 2 when there was one, after all of them have been reported.
OIL_BAD_SETTINGS=0

# `oil_seconds_setting NAME VALUE`: VALUE (of the variable NAME) is a number of seconds between
# 0.001 and OIL_MAX_SECONDS (fractions allowed); OIL_MS gets it in milliseconds (1 when wrong).
oil_seconds_setting() {
	if oil_to_ms "$2" && [ "$OIL_MS" -ge 1 ] && [ "$OIL_MS" -le $((OIL_MAX_SECONDS * 1000)) ]; then
		return 0
	fi
	OIL_MS=1
	oil_error "$1=$2 is not a number of seconds between 0.001 and $OIL_MAX_SECONDS"
	OIL_BAD_SETTINGS=$((OIL_BAD_SETTINGS + 1))
}

# `oil_count_setting NAME VALUE`: VALUE (of the variable NAME) is a whole number between 1 and
# OIL_MAX_COUNT.
oil_count_setting() {
	case $2 in
	'' | *[!0-9]* | 0*) ;;
	*) if [ "${#2}" -le 4 ] && [ "$2" -le "$OIL_MAX_COUNT" ]; then return 0; fi ;;
	esac
	oil_error "$1=$2 is not a whole number between 1 and $OIL_MAX_COUNT"
	OIL_BAD_SETTINGS=$((OIL_BAD_SETTINGS + 1))
}

# `oil_bool_setting NAME VALUE`: VALUE (of the variable NAME) is true or false.
oil_bool_setting() {
	case $2 in
	true | false) return 0 ;;
	esac
	oil_error "$1=$2 is not true or false"
	OIL_BAD_SETTINGS=$((OIL_BAD_SETTINGS + 1))
}

oil_settings_checked() {
	[ "$OIL_BAD_SETTINGS" -eq 0 ] || exit 2
}

# `oil_connectable_host`: OLLAMA_HOST as a client should dial it. The server container's
# OLLAMA_HOST is the server's bind address (0.0.0.0:PORT); the ollama CLI dials it as given
# (api.ClientFromEnvironment reads envconfig.Host), and Go's proxy settings bypass only
# localhost and loopback addresses, so an HTTP_PROXY from extraEnv would take every probe's
# request to the proxy. The unspecified address becomes loopback, as Ollama's own
# envconfig.ConnectableHost does for its other clients.
oil_connectable_host() {
	case $OLLAMA_HOST in
	0.0.0.0 | 0.0.0.0:* | http://0.0.0.0 | http://0.0.0.0[:/]*)
		OLLAMA_HOST=$(printf '%s' "$OLLAMA_HOST" | sed 's|0\.0\.0\.0|127.0.0.1|') || exit 2
		;;
	"[::]" | "[::]:"* | "http://[::]" | "http://[::]"[:/]*)
		OLLAMA_HOST=$(printf '%s' "$OLLAMA_HOST" | sed 's|\[::\]|[::1]|') || exit 2
		;;
	esac
	export OLLAMA_HOST
}

# `oil_require NAME...`: each variable NAME is set and not empty, else every missing one is
# named and the script exits 2. The scripts carry no defaults: the chart sets every variable
# they read from its values.yaml, their one owner (docs/interfaces.md section 2). Each script
# requires the variables it and the helpers it calls read (tests/scripts/test_environment.py).
oil_require() {
	oil_rq_missing=0
	for oil_rq_name; do
		eval "oil_rq_value=\${$oil_rq_name-}"
		[ -z "$oil_rq_value" ] || continue
		oil_error "configuration: $oil_rq_name is not set; the chart sets it (docs/interfaces.md section 2)"
		oil_rq_missing=$((oil_rq_missing + 1))
	done
	[ "$oil_rq_missing" -eq 0 ] || exit 2
}

# `oil_timeout SECONDS COMMAND...`: COMMAND bounded; one that ignores SIGTERM is killed
# OIL_KILL_AFTER_SECONDS later (a plain `timeout` would wait for it forever).
oil_timeout() {
	oil_to_seconds=$1
	shift
	timeout -k "$OIL_KILL_AFTER_SECONDS" "$oil_to_seconds" "$@"
}

# `oil_sleep SECONDS`: a sleep that a trapped signal interrupts at once. The shell runs a trap
# only after a foreground command ends, but `wait` returns as soon as a signal arrives. A signal
# between the fork and OIL_SLEEP_PID=$! leaves the sleep to run out on its own: it holds none of
# the script's output, so nothing reading the log waits for it.
oil_sleep() {
	sleep "$1" >/dev/null 2>&1 &
	OIL_SLEEP_PID=$!
	wait "$OIL_SLEEP_PID" || :
	OIL_SLEEP_PID=
}

# `oil_wait_bounded SECONDS COMMAND...`: oil_timeout in the background, waited for (interruptible
# like oil_sleep); returns its status. OIL_BG_PID names the `timeout` process meanwhile, for the
# signal handler: `timeout` passes the SIGTERM it gets on to COMMAND.
oil_wait_bounded() {
	oil_wb_seconds=$1
	shift
	timeout -k "$OIL_KILL_AFTER_SECONDS" "$oil_wb_seconds" "$@" &
	OIL_BG_PID=$!
	oil_wb_status=0
	wait "$OIL_BG_PID" || oil_wb_status=$?
	OIL_BG_PID=
	return "$oil_wb_status"
}

# `oil_stop_pid PID GRACE_MS`: SIGTERM, then SIGKILL once GRACE_MS have passed, then reap.
# Polls /proc because an exited child stays a zombie until `wait`. Bounded by GRACE_MS + 0.1 s.
oil_stop_pid() {
	[ -n "$1" ] || return 0
	if oil_pid_running "$1"; then
		kill -TERM "$1" 2>/dev/null || :
		oil_now_ms
		oil_sp_start=$OIL_NOW_MS
		while oil_pid_running "$1"; do
			oil_now_ms
			if [ $((OIL_NOW_MS - oil_sp_start)) -ge "$2" ]; then
				kill -KILL "$1" 2>/dev/null || :
				break
			fi
			oil_sleep 0.05
		done
	fi
	OIL_STOPPED_STATUS=0
	wait "$1" 2>/dev/null || OIL_STOPPED_STATUS=$?
}

# Ends the children a signal handler or the EXIT trap may find still running: a sleep and the
# command oil_wait_bounded waits for.
oil_stop_children() {
	oil_stop_pid "$OIL_SLEEP_PID" 1000
	OIL_SLEEP_PID=
	oil_stop_pid "$OIL_BG_PID" $((OIL_KILL_AFTER_SECONDS * 1000 + 1000))
	OIL_BG_PID=
}

# The ollama CLI's `--keepalive` is a Go duration and needs a unit ("-1" is refused while the
# server's OLLAMA_KEEP_ALIVE accepts it), so a bare number of seconds gets its unit here.
# Sets OIL_KEEPALIVE_FLAG.
oil_keepalive_flag_value() {
	case $1 in
	0 | *[!0-9-]*) OIL_KEEPALIVE_FLAG=$1 ;;
	*) OIL_KEEPALIVE_FLAG=${1}s ;;
	esac
}

# True while the process runs. A finished child of this shell or an orphan that nobody reaps
# (in the main container PID 1 is ollama, which reaps nothing but its own children) stays a
# zombie, which `kill -0` still reports alive, so /proc is asked first.
oil_pid_running() {
	[ -n "$1" ] || return 1
	if oil_proc_stat "$1"; then
		[ "$OIL_PROC_STATE" != Z ] && [ "$OIL_PROC_STATE" != X ]
		return
	fi
	[ ! -d /proc/self ] && kill -0 "$1" 2>/dev/null
}

# `oil_proc_stat PID`: sets OIL_PROC_STATE (field 3 of /proc/PID/stat) and OIL_PROC_START (field
# 22, the start time in clock ticks since boot); fails when the process or /proc is not there.
# A pid and its start time name one process for good, even after pid reuse.
oil_proc_stat() {
	OIL_PROC_STATE=
	OIL_PROC_START=
	IFS= read -r oil_ps_line 2>/dev/null <"/proc/$1/stat" || return 1
	# The command name (field 2) may hold spaces and parentheses: cut after its last ')'.
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- ${oil_ps_line##*) }
	[ "$#" -ge 20 ] || return 1
	OIL_PROC_STATE=$1
	shift 19
	OIL_PROC_START=$1
}

# The last `Error: ...` the ollama CLI wrote to FILE, with the lines after it joined on (a
# registry's answer is quoted whole, newlines and all: a 412's reason is on the lines after
# "Error: pull model manifest: 412:"), else the last non-empty line, into OIL_CLI_ERROR, on one
# line of at most 600 bytes (mawk counts bytes: a cut never splits a UTF-8 character, whose
# bytes go whole). stderr also carries ANSI progress, which is stripped. Used to quote the
# server's own error in our logs. `oil_cli_error FILE STATUS`: a CLI that wrote no `Error:` line
# (killed by a signal, a Go panic) is told by its exit status, its last line (a progress frame,
# for a pull) quoted after it as where it was, not as why it failed.
oil_cli_error() {
	oil_ce_text=$(tr '\r' '\n' <"$1" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | tr -d '\000-\010\013-\037') ||
		oil_ce_text=
	oil_ce_line=$(printf '%s\n' "$oil_ce_text" | awk -v status="${2:-}" '
		{ gsub(/[ \t]+/, " "); sub(/^ /, ""); sub(/ $/, "") }
		$0 == "" { next }
		{ last = $0 }
		index($0, "Error: ") {
			rest = $0
			while ((at = index(rest, "Error: ")) > 0) { found = substr(rest, at); rest = substr(rest, at + 7) }
			error = found
			next
		}
		error != "" { error = error " " $0 }
		END {
			text = error != "" ? error : last
			if (error == "" && status != "") {
				why = "exited with status " status
				if (status > 128 && status < 160) why = why " (killed by signal " status - 128 ")"
				text = last == "" ? why ", with no error output" : why " at \"" last "\""
			}
			if (length(text) > 600) {
				text = substr(text, 1, 597)
				sub(/[\300-\367][\200-\277]*$/, "", text)
				text = text "..."
			}
			print text
		}') || oil_ce_line=
	OIL_CLI_ERROR=${oil_ce_line:-no error output}
}

OIL_NL='
'
# `oil_last_line TEXT`: its last line into OIL_LAST_LINE.
oil_last_line() {
	OIL_LAST_LINE=${1%"$OIL_NL"}
	OIL_LAST_LINE=${OIL_LAST_LINE##*"$OIL_NL"}
}

# Awk functions that read Ollama model names as the server does (types/model/name.go): the tag
# follows the last ':' after the last '/', then from the right: model, namespace, host (scheme
# dropped); defaults registry.ollama.ai, library, latest. `display` is DisplayShortest, the form
# `ollama list` and `ollama ps` print; `name_key` compares names case-insensitively, as Ollama
# resolves them. Every program using these passes -v default_registry and -v models_dir.
OIL_AWK_NAMES='
function last_index(s, ch,   i) {
	for (i = length(s); i > 0; i--) if (substr(s, i, 1) == ch) return i
	return 0
}
# Sets host, ns, model, tag from an Ollama model reference.
function parse(ref,   c, s, n, parts, i) {
	host = ""; ns = ""; tag = ""
	c = last_index(ref, ":"); s = last_index(ref, "/")
	if (c > s) { tag = substr(ref, c + 1); ref = substr(ref, 1, c - 1) }
	n = split(ref, parts, "/")
	model = parts[n]
	if (n >= 2) ns = parts[n - 1]
	for (i = 1; i <= n - 2; i++) host = host (i > 1 ? "/" : "") parts[i]
	if (index(host, "://") > 0) host = substr(host, index(host, "://") + 3)
	if (host == "") host = default_registry
	if (ns == "") ns = "library"
	if (tag == "") tag = "latest"
}
function display(ref) {
	parse(ref)
	if (tolower(host) != tolower(default_registry)) return host "/" ns "/" model ":" tag
	if (tolower(ns) != "library") return ns "/" model ":" tag
	return model ":" tag
}
function name_key(ref) { return tolower(display(ref)) }
function manifest_path(ref) {
	parse(ref)
	return models_dir "/manifests/" host "/" ns "/" model "/" tag
}
'

# Reads models.tsv, derived.tsv and groups.tsv (docs/interfaces.md section 2) and prints the
# plan, one record a line, tab separated:
#   M name display digest insecure kind manifest-path      a model to pull (display = how
#                                                          `ollama list`/`ps` print the name)
#   D name display modelfile-path root-display kind        a model built with `ollama create`
#   G root-display load-name load-kind insecure members keep-alive
#                                                          a load group: models sharing weights;
#                                                          keep-alive: the root model's last
#                                                          models.tsv column ("-" = the default)
#   E message                                              a configuration error
#
# Load groups exist because Ollama's scheduler keys loaded runners by the weights file
# (server/sched.go schedulerModelKey): a derived model and its FROM model share one runner, and
# `ollama ps` shows only the name that loaded it, so a group is loaded when any member is. The
# chart computes the groups (templates/_models.tpl, their one owner) and writes groups.tsv; this
# only checks that every configured model is in exactly one group. A derived model's kind is its
# group's.
oil_plan() {
	awk -F '\t' -v config_dir="$OIL_CONFIG_DIR" -v models_dir="$OLLAMA_MODELS" \
		-v default_registry="$OIL_DEFAULT_REGISTRY" "$OIL_AWK_NAMES"'
# The model-name grammar of the chart (values.schema.json, models[].name: its owner; Ollama'"'"'s
# types/model/name.go, minus a scheme): [[host/]namespace/]model[:tag], at most 350 characters;
# each part starts with a letter, digit or "_"; host takes "_.:-" (350), namespace "_-" (80),
# model and tag "_.-" (80). tests/scripts/test_model_names.py keeps the two in step.
function valid_part(s, chars, max) {
	return length(s) >= 1 && length(s) <= max && s ~ ("^[A-Za-z0-9_][" chars "]*$")
}
function valid_name(ref,   n, p, last, c) {
	if (length(ref) > 350) return 0
	n = split(ref, p, "/")
	if (n > 3) return 0
	last = p[n]
	c = index(last, ":")
	if (c > 0) {
		if (!valid_part(substr(last, c + 1), "A-Za-z0-9_.-", 80)) return 0
		last = substr(last, 1, c - 1)
	}
	if (!valid_part(last, "A-Za-z0-9_.-", 80)) return 0
	if (n >= 2 && !valid_part(p[n - 1], "A-Za-z0-9_-", 80)) return 0
	return n < 3 || valid_part(p[1], "A-Za-z0-9_.:-", 350)
}
function error(msg) { printf "E\t%s\n", msg; errors++ }
# groups.tsv: load<TAB>kind<TAB>insecure<TAB>members (comma-separated). Sets groups,
# group_root[g], group_record[g] and member_group[key of a member].
function read_groups(file,   line, lineno, n, f, where, m, members, i, key, bad, shown) {
	if ((getline line < file) < 0) { error(file ": cannot read (the chart writes the load groups there)"); return }
	close(file)
	lineno = 0
	while ((getline line < file) > 0) {
		lineno++
		if (line ~ /^[ \t]*(#|$)/) continue
		n = split(line, f, "\t")
		where = "groups.tsv:" lineno ": "
		if (n != 4) { error(where "expected 4 tab-separated fields (load, kind, insecure, members), found " n); continue }
		if (f[2] != "generate" && f[2] != "embed") { error(where "kind must be generate or embed, not \"" f[2] "\""); continue }
		if (f[3] != "true" && f[3] != "false") { error(where "insecure must be true or false, not \"" f[3] "\""); continue }
		m = split(f[4], members, ",")
		bad = (m == 0)
		if (bad) error(where "no members")
		for (i = 1; i <= m; i++) if (!valid_name(members[i])) { error(where "member \"" members[i] "\" is not an Ollama model name"); bad = 1 }
		if (bad) continue
		if (!valid_name(f[1])) { error(where "\"" f[1] "\" is not an Ollama model name"); continue }
		shown = ""
		for (i = 1; i <= m; i++) {
			key = name_key(members[i])
			if (key in member_group) { error(where "\"" members[i] "\" is also in the group of line " group_line[member_group[key]]); bad = 1; continue }
			member_group[key] = groups + 1
			shown = shown (i > 1 ? "," : "") display(members[i])
		}
		if (bad) continue
		key = name_key(f[1])
		if (!(key in member_group) || member_group[key] != groups + 1) { error(where "load \"" f[1] "\" is not a member of its group"); continue }
		groups++
		group_line[groups] = lineno
		group_root[groups] = display(members[1])
		group_kind[groups] = f[2]
		group_record[groups] = group_root[groups] "\t" display(f[1]) "\t" f[2] "\t" f[3] "\t" shown
	}
	close(file)
}
BEGIN {
	models_file = config_dir "/models.tsv"
	derived_file = config_dir "/derived.tsv"
	read_groups(config_dir "/groups.tsv")
	if ((getline line < models_file) < 0) { error(models_file ": cannot read"); exit }
	close(models_file)
	lineno = 0
	while ((getline line < models_file) > 0) {
		lineno++
		if (line ~ /^[ \t]*(#|$)/) continue
		n = split(line, f, "\t")
		where = "models.tsv:" lineno ": "
		# The keep-alive column (the last) may be left out: "-", OIL_LOAD_KEEPALIVE.
		if (n != 4 && n != 5) { error(where "expected 5 tab-separated fields (name, digest, insecure, kind, keep-alive), found " n); continue }
		name = f[1]; digest = f[2]; insecure = f[3]; kind = f[4]; keepalive = (n == 5 ? f[5] : "-")
		sub(/^sha256:/, "", digest)
		if (!valid_name(name)) { error(where "\"" name "\" is not an Ollama model name"); continue }
		if (digest != "-" && digest !~ /^[0-9a-f]+$/ || digest != "-" && length(digest) != 64) {
			error(where "digest \"" f[2] "\" is neither \"-\" nor 64 lowercase hex"); continue
		}
		if (insecure != "true" && insecure != "false") { error(where "insecure must be true or false, not \"" insecure "\""); continue }
		if (kind != "generate" && kind != "embed") { error(where "kind must be generate or embed, not \"" kind "\""); continue }
		if (keepalive != "-" && keepalive != "0" && keepalive !~ /^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/) { error(where "keep-alive \"" keepalive "\" is neither \"-\" nor a Go duration with a unit"); continue }
		d = display(name)
		key = tolower(d)
		if (key in listed) { error(where "\"" name "\" is listed twice (as " d ")"); continue }
		listed[key] = 1; model_keepalive[key] = keepalive
		if (!(key in member_group)) { error(where "\"" name "\" is in no load group of groups.tsv"); continue }
		printf "M\t%s\t%s\t%s\t%s\t%s\t%s/manifests/%s/%s/%s/%s\n", name, d, digest, insecure, kind, models_dir, host, ns, model, tag
	}
	close(models_file)
	if ((getline line < derived_file) >= 0) {
		close(derived_file)
		lineno = 0
		while ((getline line < derived_file) > 0) {
			lineno++
			if (line ~ /^[ \t]*(#|$)/) continue
			n = split(line, f, "\t")
			where = "derived.tsv:" lineno ": "
			if (n != 2) { error(where "expected 2 tab-separated fields (name, modelfile), found " n); continue }
			if (!valid_name(f[1])) { error(where "\"" f[1] "\" is not an Ollama model name"); continue }
			if (f[2] !~ /^[A-Za-z0-9._-]+$/) { error(where "modelfile \"" f[2] "\" must be a file name in " config_dir); continue }
			d = display(f[1]); key = tolower(d)
			if (key in listed) { error(where "\"" f[1] "\" is listed twice (as " d ")"); continue }
			listed[key] = 1
			path = config_dir "/" f[2]
			if ((getline mline < path) < 0) { error(where path ": cannot read the Modelfile"); continue }
			close(path)
			if (!(key in member_group)) { error(where "\"" f[1] "\" is in no load group of groups.tsv"); continue }
			g = member_group[key]
			printf "D\t%s\t%s\t%s\t%s\t%s\n", f[1], d, path, group_root[g], group_kind[g]
		}
		close(derived_file)
	}
	# A group loads with the keep-alive of its root model ("-": OIL_LOAD_KEEPALIVE).
	for (g = 1; g <= groups; g++) {
		key = tolower(group_root[g])
		printf "G\t%s\t%s\n", group_record[g], (key in model_keepalive) ? model_keepalive[key] : "-"
	}
}'
}

# Runs oil_plan into OIL_PLAN; prints every configuration error and exits 2 when there is one.
oil_load_plan() {
	if ! OIL_PLAN=$(oil_plan); then
		oil_error "configuration: reading the model lists in $OIL_CONFIG_DIR failed (awk exited non-zero)"
		exit 2
	fi
	oil_lp_errors=$(printf '%s\n' "$OIL_PLAN" | sed -n "s/^E${OIL_TAB}//p")
	if [ -n "$oil_lp_errors" ]; then
		printf '%s\n' "$oil_lp_errors" | while IFS= read -r oil_lp_line; do
			oil_error "configuration: $oil_lp_line"
		done
		exit 2
	fi
}

# The records of one kind from OIL_PLAN, without the leading kind field.
oil_plan_records() {
	printf '%s\n' "$OIL_PLAN" | sed -n "s/^$1${OIL_TAB}//p"
}

# The tables of `ollama list` (NAME ID SIZE MODIFIED) and `ollama ps` (NAME ID SIZE PROCESSOR
# CONTEXT UNTIL) are read by their header, not by position: cells are separated by runs of
# spaces, NAME and ID never contain one, and later cells may ("4 minutes from now"). A table
# without the expected header is read as NAME first, ID second. Names are compared through
# name_key, so `phi`, `phi:latest` and `registry.ollama.ai/library/phi:latest` are one model.
# shellcheck disable=SC2016 # an awk program: $i are awk fields
OIL_AWK_TABLE='
function read_header(   i) {
	name_col = 0; id_col = 0
	for (i = 1; i <= NF; i++) {
		if ($i == "NAME") name_col = i
		else if ($i == "ID") id_col = i
	}
	if (name_col == 0) { name_col = 1; id_col = 2; return 0 }
	return 1
}
NF == 0 { next }
!seen_header { seen_header = 1; if (read_header()) next }
'

# `oil_list_find NAME` reads `ollama list` output on stdin and prints the row of NAME as
# "listed-name<TAB>id<TAB>manifest-path" (the manifest path follows the listed name, which
# carries the server's own spelling of each part); nothing when NAME is not listed.
oil_list_find() {
	awk -v want="$1" -v models_dir="$OLLAMA_MODELS" -v default_registry="$OIL_DEFAULT_REGISTRY" \
		"$OIL_AWK_NAMES$OIL_AWK_TABLE"'
name_key($name_col) == name_key(want) {
	printf "%s\t%s\t%s\n", $name_col, tolower($id_col), manifest_path($name_col)
	exit
}'
}

# Reads `ollama list` output on stdin and prints the name key of every model listed.
oil_list_keys() {
	awk -v models_dir="$OLLAMA_MODELS" -v default_registry="$OIL_DEFAULT_REGISTRY" \
		"$OIL_AWK_NAMES$OIL_AWK_TABLE"'{ print name_key($name_col) }'
}

# Reads `ollama ps` output on stdin and prints "name-key<TAB>loaded|stopping" per listed model.
# UNTIL `Stopping...` means the runner's expiry has passed: it is being unloaded, or requests
# have kept it busy since (Ollama sets the expiry when the last request ends, sched.go).
oil_ps_states() {
	awk -v models_dir="$OLLAMA_MODELS" -v default_registry="$OIL_DEFAULT_REGISTRY" \
		"$OIL_AWK_NAMES$OIL_AWK_TABLE"'
{
	state = "loaded"
	for (i = 1; i <= NF; i++) if (i != name_col && $i == "Stopping...") state = "stopping"
	printf "%s\t%s\n", name_key($name_col), state
}'
}

# `oil_manifest_with HEX`: the manifest file of the model store whose sha256 starts with HEX
# (a model's digest is its manifest's; `ollama list` shows the first 12 hex), whatever spelling
# the server stored it under; nothing when none.
oil_manifest_with() {
	find "$OLLAMA_MODELS/manifests" -type f -exec sha256sum {} + 2>/dev/null |
		awk -v hex="$1" 'index($1, hex) == 1 { sub(/^[0-9a-f]+ [ *]/, ""); print; exit }'
}

# `oil_blob_problems MANIFEST OUT SCRATCH`: each blob the manifest names that the model store
# lacks, holds at another size than the manifest says or, with OIL_VERIFY_BLOBS true, holds bytes
# whose sha256 is not the one naming it, one "sha256:HEX: why" a line in the file OUT (empty when
# all are whole; not standard output, which a signal's trap writes its words to).
# Ollama lists a model from its manifest alone and takes any blob file there as downloaded
# (server/download.go), so a lost, cut or replaced blob stays so through every pull until the
# file goes. Each layer object's digest and size are read from its own braces. The loop runs in
# the calling shell and each hash in the background, waited for (its output in the file
# SCRATCH): hashing a large blob takes minutes on a slow volume, and a signal must not wait for
# it (a foreground command defers the trap; the EXIT trap's oil_stop_children ends the hash).
oil_blob_problems() {
	oil_bp_list=$(tr '{}' '[\n*]' <"$1" | awk '
		match($0, /"digest"[ \t]*:[ \t]*"sha256:[0-9a-f]+"/) {
			digest = substr($0, RSTART, RLENGTH)
			sub(/.*sha256:/, "", digest)
			sub(/"$/, "", digest)
			size = "-"
			if (match($0, /"size"[ \t]*:[ \t]*[0-9]+/)) {
				size = substr($0, RSTART, RLENGTH)
				sub(/.*:[ \t]*/, "", size)
			}
			print digest "\t" size
		}') || return 1
	: >"$2"
	while IFS="$OIL_TAB" read -r oil_bp_hex oil_bp_size; do
		[ -n "$oil_bp_hex" ] || continue
		oil_bp_file="$OLLAMA_MODELS/blobs/sha256-$oil_bp_hex"
		if [ ! -f "$oil_bp_file" ]; then
			printf 'sha256:%s: missing\n' "$oil_bp_hex" >>"$2"
			continue
		fi
		if [ "$oil_bp_size" != - ]; then
			oil_bp_have=$(wc -c <"$oil_bp_file") || oil_bp_have=-1
			oil_bp_have=$((oil_bp_have + 0))
			if [ "$oil_bp_have" -ne "$oil_bp_size" ]; then
				printf 'sha256:%s: %s bytes, not %s\n' "$oil_bp_hex" "$oil_bp_have" "$oil_bp_size" >>"$2"
				continue
			fi
		fi
		[ "$OIL_VERIFY_BLOBS" = true ] || continue
		# Hashed whole already in this run (OIL_HASHED, when the caller keeps that list).
		if [ -n "${OIL_HASHED-}" ] && grep -qx "$oil_bp_hex" "$OIL_HASHED" 2>/dev/null; then
			continue
		fi
		sha256sum <"$oil_bp_file" >"$3" 2>/dev/null &
		OIL_BG_PID=$!
		oil_bp_status=0
		wait "$OIL_BG_PID" || oil_bp_status=$?
		OIL_BG_PID=
		oil_bp_sum=
		[ "$oil_bp_status" -ne 0 ] || IFS= read -r oil_bp_sum <"$3" || :
		if [ -z "$oil_bp_sum" ]; then
			printf 'sha256:%s: cannot be read to hash it\n' "$oil_bp_hex" >>"$2"
			continue
		fi
		oil_bp_sum=${oil_bp_sum%% *}
		if [ "$oil_bp_sum" != "$oil_bp_hex" ]; then
			printf 'sha256:%s: its bytes hash to sha256:%s, not to its name\n' "$oil_bp_hex" "$oil_bp_sum" >>"$2"
		elif [ -n "${OIL_HASHED-}" ]; then
			printf '%s\n' "$oil_bp_hex" >>"$OIL_HASHED"
		fi
	done <<EOF
$oil_bp_list
EOF
}

# The digest of a listed model: "full <64 hex>", or "id <hex>" when only the server's ID column
# (the first 12 hex) is known; nothing when the model is not listed.
# The server's digest is the sha256 of the manifest file's bytes (manifest/manifest.go), which is
# the registry's manifest digest, so hashing the on-disk manifest gives all 64 hex. The file is
# looked up from the listed name (the server's own spelling of each part), then from the
# configured one, and is trusted only when its hash starts with the listed ID.
# `oil_local_digest NAME PLANNED-MANIFEST-PATH`
oil_local_digest() {
	oil_ld_status=0
	oil_ld_list=$(oil_timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null 2>&1) ||
		oil_ld_status=$?
	if [ "$oil_ld_status" -eq 124 ] || [ "$oil_ld_status" -eq 137 ]; then
		oil_error "ollama list did not answer within OIL_CLI_TIMEOUT_SECONDS=${OIL_CLI_TIMEOUT_SECONDS}s (chart value lifecycle.cliTimeoutSeconds; a model store on slow storage may need more)" >&2
		return 1
	fi
	if [ "$oil_ld_status" -ne 0 ]; then
		oil_last_line "$oil_ld_list"
		oil_error "ollama list failed (exit $oil_ld_status): $OIL_LAST_LINE" >&2
		return 1
	fi
	if ! oil_ld_row=$(printf '%s\n' "$oil_ld_list" | oil_list_find "$1"); then
		oil_error "reading the output of ollama list failed (awk exited non-zero)" >&2
		return 1
	fi
	[ -n "$oil_ld_row" ] || return 0
	IFS=$OIL_TAB read -r oil_ld_listed oil_ld_id oil_ld_path <<EOF
$oil_ld_row
EOF
	case $oil_ld_id in
	'' | *[!0-9a-f]*)
		oil_warn "$1: ollama list shows ID \"$oil_ld_id\", not hex; trusting the manifest file alone" >&2
		oil_ld_id=
		;;
	esac
	if [ ${#oil_ld_id} -eq 64 ]; then
		printf 'full %s\n' "$oil_ld_id"
		return 0
	fi
	for oil_ld_manifest in "$oil_ld_path" "$2"; do
		[ -r "$oil_ld_manifest" ] || continue
		if ! oil_ld_full=$(sha256sum <"$oil_ld_manifest"); then
			oil_warn "$1: sha256sum of $oil_ld_manifest failed" >&2
			continue
		fi
		oil_ld_full=${oil_ld_full%% *}
		case $oil_ld_full in
		"$oil_ld_id"*)
			printf 'full %s\n' "$oil_ld_full"
			return 0
			;;
		esac
		if oil_read_by_go "$oil_ld_manifest" "$oil_ld_id"; then
			printf 'full %s\n' "$oil_ld_full"
			return 0
		fi
		oil_warn "$1: manifest file $oil_ld_manifest (sha256 $oil_ld_full) is not what the server lists as $oil_ld_listed (ID $oil_ld_id)" >&2
	done
	oil_warn "$1: no manifest file matching the server's ID $oil_ld_id (looked for $oil_ld_path and $2): only the ID is known" >&2
	printf 'id %s\n' "${oil_ld_id:-unknown}"
}

# `oil_read_by_go FILE ID`: whether the server's ID of a manifest file is the sha256 of the first
# bytes of it Go's json.Decoder read (manifest/manifest.go ParseNamedManifest hashes what the
# decoder reads: 512 bytes, then up to 1,536, 3,584... until it holds the whole JSON value). A
# file going on past that read (a value ending exactly at one, a line break after it) is listed
# under another digest than its sha256, the registry's: it is still the pinned manifest.
oil_read_by_go() {
	oil_rg_size=$(wc -c <"$1") || return 1
	oil_rg_read=512
	while [ "$oil_rg_read" -lt "$oil_rg_size" ]; do
		oil_rg_sum=$(head -c "$oil_rg_read" "$1" | sha256sum) || return 1
		case ${oil_rg_sum%% *} in "$2"*) return 0 ;; esac
		oil_rg_read=$((oil_rg_read * 2 + 512))
	done
	return 1
}

# `oil_digest_verdict HAVE EXPECTED` sets OIL_VERDICT to match, mismatch or unverifiable: a
# pinned digest is matched on all 64 hex; an ID that is not a prefix of it is a mismatch all
# the same.
oil_digest_verdict() {
	case $1 in
	"full $2") OIL_VERDICT=match ;;
	full\ *) OIL_VERDICT=mismatch ;;
	"id unknown") OIL_VERDICT=unverifiable ;;
	*) case $2 in "${1#id }"*) OIL_VERDICT=unverifiable ;; *) OIL_VERDICT=mismatch ;; esac ;;
	esac
}
