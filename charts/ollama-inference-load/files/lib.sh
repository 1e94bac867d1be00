# shellcheck shell=sh
# Shared helpers of the model lifecycle scripts, sourced by each of them from the same folder.
#
# Runs inside the official ollama/ollama image (ubuntu:24.04, dash as /bin/sh, no curl, no wget):
# only POSIX sh, coreutils (date, timeout, sleep, sha256sum, mktemp, tr, cut, tail), grep, sed,
# awk (mawk) and the ollama CLI are used. Every CLI fact relied on here is in
# the README, "What the scripts rely on".

# Defaults: the same as docs/interfaces.md section 2. The chart sets all but
# OIL_SERVER_STOP_TIMEOUT_SECONDS, OIL_PULL_PROGRESS_SECONDS and OIL_STATE_DIR, which keep these.
: "${OLLAMA_HOST:=127.0.0.1:11434}"
: "${OLLAMA_MODELS:=/models}"
: "${OIL_CONFIG_DIR:=/opt/ollama-inference-load}"
: "${OIL_POLL_INTERVAL_SECONDS:=2}"
: "${OIL_SERVER_START_TIMEOUT_SECONDS:=120}"
: "${OIL_SERVER_STOP_TIMEOUT_SECONDS:=30}"
: "${OIL_PULL_RETRIES:=5}"
: "${OIL_PULL_BACKOFF_SECONDS:=5}"
: "${OIL_PULL_BACKOFF_MAX_SECONDS:=120}"
: "${OIL_PULL_PROGRESS_SECONDS:=30}"
: "${OIL_CLI_TIMEOUT_SECONDS:=4}"
: "${OIL_LOAD_KEEPALIVE:=-1m}"
: "${OIL_LOAD_TIMEOUT_SECONDS:=1800}"
: "${OIL_TEST_TIMEOUT_SECONDS:=300}"
: "${OIL_STATE_DIR:=${TMPDIR:-/tmp}/ollama-inference-load}"
export OLLAMA_HOST OLLAMA_MODELS

OIL_TAB=$(printf '\t')
# Ollama's default registry: `ollama list` and `ollama ps` drop it (and the `library` namespace)
# from the names they print.
OIL_DEFAULT_REGISTRY=registry.ollama.ai

# One line per event: `<UTC time with ms> <script> <level> <message>`, no colour, no control
# characters, so `kubectl logs` output can be split on the first three spaces.
oil_log() {
	oil_log_level=$1
	shift
	printf '%s %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${OIL_SCRIPT:-lib}" \
		"$oil_log_level" "$(printf '%s' "$*" | tr '\n\r\t' '   ' | tr -d '\000-\010\013-\037')"
}

oil_info() { oil_log info "$@"; }
oil_warn() { oil_log warn "$@"; }
oil_error() { oil_log error "$@"; }

oil_now_ms() { date +%s%3N; }

# "12", "0.25", "1.5" -> milliseconds; prints nothing for anything else.
oil_to_ms() {
	case $1 in
	'' | *[!0-9.]* | *.*.* | . | .*) return 1 ;;
	*.*)
		oil_to_ms_int=${1%%.*}
		oil_to_ms_frac="${1#*.}000"
		oil_to_ms_frac=$(printf '%s' "$oil_to_ms_frac" | cut -c1-3)
		;;
	*)
		oil_to_ms_int=$1
		oil_to_ms_frac=000
		;;
	esac
	# Leading zeros would read as octal in $(( )).
	oil_to_ms_int=$(printf '%s' "$oil_to_ms_int" | sed 's/^0*//')
	oil_to_ms_frac=$(printf '%s' "$oil_to_ms_frac" | sed 's/^0*//')
	printf '%s\n' "$((${oil_to_ms_int:-0} * 1000 + ${oil_to_ms_frac:-0}))"
}

# Milliseconds -> "1.234" (seconds), for logs and for sleep/timeout arguments.
oil_ms_to_s() {
	printf '%d.%03d' "$(($1 / 1000))" "$(($1 % 1000))"
}

# `oil_duration_ms NAME VALUE`: a duration setting in milliseconds; a wrong value is reported
# (on stderr, as this runs inside $(...)) and fails.
oil_duration_ms() {
	if ! oil_to_ms "$2"; then
		oil_error "$1=$2 is not a number of seconds" >&2
		return 1
	fi
}

# `oil_require_count NAME VALUE`: fails unless VALUE is a whole number >= 1.
oil_require_count() {
	case $2 in
	'' | *[!0-9]* | 0 | 0*)
		oil_error "$1=$2 is not a whole number >= 1" >&2
		return 1
		;;
	esac
}

# The ollama CLI's `--keepalive` is a Go duration and needs a unit ("-1" is refused while the
# server's OLLAMA_KEEP_ALIVE accepts it), so a bare number of seconds gets its unit here.
oil_keepalive_flag_value() {
	case $1 in
	0 | *[!0-9-]*) printf '%s' "$1" ;;
	*) printf '%ss' "$1" ;;
	esac
}

# True while the process runs. A finished child of this shell or an orphan that nobody reaps
# (in the main container PID 1 is ollama, which reaps nothing but its own children) stays a
# zombie, which `kill -0` still reports alive, so /proc is asked first.
oil_pid_running() {
	[ -n "$1" ] || return 1
	if [ -r "/proc/$1/stat" ]; then
		oil_pr_state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
		[ -n "$oil_pr_state" ] && [ "$oil_pr_state" != Z ] && [ "$oil_pr_state" != X ]
		return
	fi
	kill -0 "$1" 2>/dev/null
}

# The start time of a process (clock ticks since boot, /proc/PID/stat field 22); nothing
# without /proc. A pid and its start time name one process for good, even after pid reuse.
oil_proc_start_time() {
	[ -r "/proc/$1/stat" ] && sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# The last `Error: ...` line the ollama CLI wrote (stderr also carries ANSI progress, which is
# stripped), else the last non-empty line. Used to quote the server's own error in our logs.
oil_cli_error() {
	oil_ce_text=$(tr '\r' '\n' <"$1" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | tr -d '\000-\010\013-\037')
	oil_ce_line=$(printf '%s\n' "$oil_ce_text" | grep 'Error: ' | tail -n 1 | sed 's/^.*\(Error: \)/\1/')
	if [ -z "$oil_ce_line" ]; then
		oil_ce_line=$(printf '%s\n' "$oil_ce_text" | grep -v '^[[:space:]]*$' | tail -n 1)
	fi
	printf '%s' "${oil_ce_line:-no error output}"
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

# Reads models.tsv and derived.tsv (docs/interfaces.md section 2) plus each derived model's
# Modelfile and prints the plan, one record a line, tab separated:
#   M name display digest insecure kind manifest-path      a model to pull (display = how
#                                                          `ollama list`/`ps` print the name)
#   D name display modelfile-path root-display kind        a model built with `ollama create`
#   G root-display load-name load-kind insecure members    a load group: models sharing weights
#   E message                                              a configuration error
#
# Load groups exist because Ollama's scheduler keys loaded runners by the weights file
# (server/sched.go schedulerModelKey): a derived model and its FROM model share one runner, and
# `ollama ps` shows only the name that loaded it. Requiring both names to be loaded would never
# succeed, so a group is loaded when any member is, and a derived model is what gets loaded
# (clients call it; its base answers through the same runner when the options match).
oil_plan() {
	awk -F '\t' -v config_dir="$OIL_CONFIG_DIR" -v models_dir="$OLLAMA_MODELS" \
		-v default_registry="$OIL_DEFAULT_REGISTRY" "$OIL_AWK_NAMES"'
function valid_name(ref) {
	return ref ~ /^[A-Za-z0-9][A-Za-z0-9_.:\/-]*$/ && ref !~ /[\/:]$/ && ref !~ /@/
}
function error(msg) { printf "E\t%s\n", msg; errors++ }
BEGIN {
	models_file = config_dir "/models.tsv"
	derived_file = config_dir "/derived.tsv"
	if ((getline line < models_file) < 0) { error(models_file ": cannot read"); exit }
	close(models_file)
	lineno = 0
	while ((getline line < models_file) > 0) {
		lineno++
		if (line ~ /^[ \t]*(#|$)/) continue
		n = split(line, f, "\t")
		where = "models.tsv:" lineno ": "
		if (n != 4) { error(where "expected 4 tab-separated fields (name, digest, insecure, kind), found " n); continue }
		name = f[1]; digest = f[2]; insecure = f[3]; kind = f[4]
		sub(/^sha256:/, "", digest)
		if (!valid_name(name)) { error(where "\"" name "\" is not an Ollama model name"); continue }
		if (digest != "-" && digest !~ /^[0-9a-f]+$/ || digest != "-" && length(digest) != 64) {
			error(where "digest \"" f[2] "\" is neither \"-\" nor 64 lowercase hex"); continue
		}
		if (insecure != "true" && insecure != "false") { error(where "insecure must be true or false, not \"" insecure "\""); continue }
		if (kind != "generate" && kind != "embed") { error(where "kind must be generate or embed, not \"" kind "\""); continue }
		d = display(name)
		key = tolower(d)
		if (key in model_kind) { error(where "\"" name "\" is listed twice (as " d ")"); continue }
		model_kind[key] = kind; model_insecure[key] = insecure
		printf "M\t%s\t%s\t%s\t%s\t%s\t%s/manifests/%s/%s/%s/%s\n", name, d, digest, insecure, kind, models_dir, host, ns, model, tag
		group_order[++groups] = key; group_display[key] = d
	}
	close(models_file)
	nderived = 0
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
			if ((key in model_kind) || (key in derived_from)) { error(where "\"" f[1] "\" is listed twice (as " d ")"); continue }
			path = config_dir "/" f[2]
			from = ""
			while ((getline mline < path) > 0) {
				if (mline ~ /^[ \t]*[Ff][Rr][Oo][Mm][ \t]/) {
					from = mline
					sub(/^[ \t]*[Ff][Rr][Oo][Mm][ \t]+/, "", from)
					sub(/[ \t\r]+$/, "", from)
					gsub(/^"|"$/, "", from)
					break
				}
			}
			close(path)
			if (from == "") { error(where path ": no FROM line (missing or unreadable Modelfile)"); continue }
			# FROM a file or blob has weights of its own: the derived model is its own group.
			if (from ~ /^[.\/~]/ || from ~ /@/) from_key = key
			else from_key = tolower(display(from))
			order[++nderived] = key; derived_name[key] = f[1]; derived_display[key] = d
			derived_path[key] = path; derived_from[key] = from_key; derived_from_display[key] = (from_key == key ? d : display(from))
		}
		close(derived_file)
	}
	for (i = 1; i <= nderived; i++) {
		key = order[i]; last = key; root = derived_from[key]; hops = 0
		while ((root in derived_from) && derived_from[root] != root && hops <= nderived) { last = root; root = derived_from[root]; hops++ }
		if (hops > nderived) { error("derived.tsv: " derived_name[key] ": FROM chain loops"); continue }
		if (root in group_display) root_display = group_display[root]
		else if (root in derived_display && derived_from[root] == root) root_display = derived_display[root]
		else root_display = derived_from_display[last]
		kind = (root in model_kind) ? model_kind[root] : "generate"
		printf "D\t%s\t%s\t%s\t%s\t%s\n", derived_name[key], derived_display[key], derived_path[key], root_display, kind
		if (!(root in group_display)) { group_order[++groups] = root; group_display[root] = root_display }
		if (!(root in group_load)) { group_load[root] = derived_display[key] }
		if (derived_display[key] != group_display[root]) group_members[root] = group_members[root] "," derived_display[key]
	}
	for (i = 1; i <= groups; i++) {
		root = group_order[i]
		load = (root in group_load) ? group_load[root] : group_display[root]
		kind = (root in model_kind) ? model_kind[root] : "generate"
		insecure = (root in model_insecure) ? model_insecure[root] : "false"
		printf "G\t%s\t%s\t%s\t%s\t%s%s\n", group_display[root], load, kind, insecure, group_display[root], group_members[root]
	}
}'
}

# Runs oil_plan into OIL_PLAN; prints every configuration error and exits 2 when there is one.
oil_load_plan() {
	OIL_PLAN=$(oil_plan)
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

# Reads `ollama ps` output on stdin and prints "name-key<TAB>loaded|stopping" per listed model.
# UNTIL `Stopping...` means the keep-alive expired and the model is being unloaded: listed, but
# not usable.
oil_ps_states() {
	awk -v models_dir="$OLLAMA_MODELS" -v default_registry="$OIL_DEFAULT_REGISTRY" \
		"$OIL_AWK_NAMES$OIL_AWK_TABLE"'
{
	state = "loaded"
	for (i = 1; i <= NF; i++) if (i != name_col && $i == "Stopping...") state = "stopping"
	printf "%s\t%s\n", name_key($name_col), state
}'
}

# The digest of a listed model: "full <64 hex>", or "id <hex>" when only the server's ID column
# (the first 12 hex) is known; nothing when the model is not listed.
# The server's digest is the sha256 of the manifest file's bytes (manifest/manifest.go), which is
# the registry's manifest digest, so hashing the on-disk manifest gives all 64 hex. The file is
# looked up from the listed name (the server's own spelling of each part), then from the
# configured one, and is trusted only when its hash starts with the listed ID.
# `oil_local_digest NAME PLANNED-MANIFEST-PATH`
oil_local_digest() {
	if ! oil_ld_list=$(timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null 2>&1); then
		oil_error "ollama list failed: $(printf '%s' "$oil_ld_list" | tail -n 1)" >&2
		return 1
	fi
	oil_ld_row=$(printf '%s\n' "$oil_ld_list" | oil_list_find "$1")
	[ -n "$oil_ld_row" ] || return 0
	oil_ld_listed=$(printf '%s\n' "$oil_ld_row" | cut -f1)
	oil_ld_id=$(printf '%s\n' "$oil_ld_row" | cut -f2)
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
	for oil_ld_manifest in "$(printf '%s\n' "$oil_ld_row" | cut -f3)" "$2"; do
		[ -r "$oil_ld_manifest" ] || continue
		oil_ld_full=$(sha256sum <"$oil_ld_manifest" | cut -c1-64)
		case $oil_ld_full in
		"$oil_ld_id"*)
			printf 'full %s\n' "$oil_ld_full"
			return 0
			;;
		esac
		oil_warn "$1: manifest file $oil_ld_manifest (sha256 $oil_ld_full) is not what the server lists as $oil_ld_listed (ID $oil_ld_id)" >&2
	done
	oil_warn "$1: no manifest file matching the server's ID $oil_ld_id (looked for $(printf '%s\n' "$oil_ld_row" | cut -f3) and $2): only the ID is known" >&2
	printf 'id %s\n' "${oil_ld_id:-unknown}"
}

# `oil_digest_verdict HAVE EXPECTED` prints match, mismatch or unverifiable: a pinned digest is
# matched on all 64 hex; an ID that is not a prefix of it is a mismatch all the same.
oil_digest_verdict() {
	case $1 in
	"full $2") echo match ;;
	full\ *) echo mismatch ;;
	"id unknown") echo unverifiable ;;
	*) case $2 in "${1#id }"*) echo unverifiable ;; *) echo mismatch ;; esac ;;
	esac
}
