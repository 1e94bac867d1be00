#!/bin/sh
# `helm test` pod: asks every configured model for an answer through the Service, with the
# ollama CLI and OLLAMA_HOST=<service>:<port> (set by the chart), and fails if any model does not
# answer. Generation models must return a non-empty answer to a one-word question; embedding
# models must return an embedding vector. Models are first checked with `ollama show`, because
# `ollama run` would otherwise start pulling a missing model on the server.
# Exit status: 0 every model answered, 1 at least one did not, 2 bad configuration, 143 SIGTERM
# (the running CLI call is ended first).

set -eu
OIL_SCRIPT=test-models
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_require OLLAMA_HOST OLLAMA_MODELS OIL_CONFIG_DIR OIL_CLI_TIMEOUT_SECONDS OIL_TEST_TIMEOUT_SECONDS

oil_seconds_setting OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS"
oil_seconds_setting OIL_TEST_TIMEOUT_SECONDS "$OIL_TEST_TIMEOUT_SECONDS"
oil_load_plan
oil_settings_checked

PROMPT="Reply with exactly one word: ready"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oil-test.XXXXXX") || exit 1
ERR=$WORK/err
OUT=$WORK/out
# shellcheck disable=SC2329 # invoked by the EXIT trap below
on_exit() {
	exit_status=$?
	trap '' INT TERM
	trap - EXIT
	oil_stop_children
	rm -rf "$WORK"
	exit "$exit_status"
}
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The keep-alive of NAME's load group into KEEPALIVE ("-": the server's): a model on demand is
# run with its own, as its loader runs it, or this request would keep it loaded for the
# server's default (forever) and crowd the models the pod sizes its loaded runners for.
# `keepalive_of NAME`
keepalive_of() {
	KEEPALIVE=-
	ko_key=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') || exit 2
	while IFS="$OIL_TAB" read -r _root _load _kind _insecure ko_members ko_keepalive; do
		ko_members=$(printf '%s' "$ko_members" | tr '[:upper:]' '[:lower:]') || exit 2
		case ",$ko_members," in
		*",$ko_key,"*)
			KEEPALIVE=${ko_keepalive:--}
			return 0
			;;
		esac
	done <<GROUPS
$PLAN_G
GROUPS
}

# `check_model NAME KIND`
check_model() {
	cm_name=$1
	cm_kind=$2
	oil_now_ms
	cm_start=$OIL_NOW_MS
	if ! oil_wait_bounded "$OIL_CLI_TIMEOUT_SECONDS" ollama show "$cm_name" </dev/null >/dev/null 2>"$ERR"; then
		oil_cli_error "$ERR"
		oil_log FAIL "$cm_name: not available on $OLLAMA_HOST: $OIL_CLI_ERROR"
		return 1
	fi
	set -- ollama run
	# A thinking model's reasoning is not its answer: Ollama 0.32.0 turns thinking on by itself
	# for a model that can think and prints the reasoning to stdout, exit 0 even when no answer
	# follows; --hidethinking prints the answer alone.
	[ "$cm_kind" = embed ] || set -- "$@" --hidethinking
	keepalive_of "$cm_name"
	if [ "$KEEPALIVE" != - ]; then
		oil_keepalive_flag_value "$KEEPALIVE"
		set -- "$@" "--keepalive=$OIL_KEEPALIVE_FLAG"
	fi
	if [ "$cm_kind" = embed ]; then
		set -- "$@" "$cm_name" ready
	else
		set -- "$@" "$cm_name" "$PROMPT"
	fi
	if ! oil_wait_bounded "$OIL_TEST_TIMEOUT_SECONDS" "$@" </dev/null >"$OUT" 2>"$ERR"; then
		oil_cli_error "$ERR"
		oil_log FAIL "$cm_name: ollama run failed: $OIL_CLI_ERROR"
		return 1
	fi
	cm_answer=$(cat "$OUT") || return 1
	oil_elapsed "$cm_start"
	cm_took=$OIL_S
	if [ "$cm_kind" = embed ]; then
		case $cm_answer in
		\[*\]*)
			cm_dims=$(printf '%s' "$cm_answer" | tr ',' '\n' | grep -c .) || return 1
			oil_log PASS "$cm_name: embedding of $cm_dims dimensions in ${cm_took}s"
			return 0
			;;
		esac
		cm_head=$(printf '%s' "$cm_answer" | head -c 200) || cm_head=
		oil_log FAIL "$cm_name: expected an embedding vector, got: $cm_head"
		return 1
	fi
	# The answer's last non-empty line (the reasoning stays hidden, above).
	cm_word=$(printf '%s\n' "$cm_answer" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-80) || cm_word=
	if [ -z "$cm_word" ]; then
		oil_log FAIL "$cm_name: empty answer after ${cm_took}s"
		return 1
	fi
	oil_log PASS "$cm_name: answered \"$cm_word\" in ${cm_took}s"
}

PLAN_G=$(oil_plan_records G)
PLAN_M=$(oil_plan_records M | cut -f1,2,5)
PLAN_D=$(oil_plan_records D | cut -f1,2,5)
failed=0
checked=0
# Pulled models, then derived ones: name, display name, kind.
while IFS="$OIL_TAB" read -r name display kind <&3; do
	[ -n "$name" ] || continue
	checked=$((checked + 1))
	check_model "$display" "$kind" || failed=$((failed + 1))
done 3<<PLAN
$PLAN_M
$PLAN_D
PLAN

if [ "$failed" -gt 0 ]; then
	oil_log FAIL "$failed of $checked models did not answer through $OLLAMA_HOST"
	exit 1
fi
oil_log PASS "all $checked models answered through $OLLAMA_HOST"
exit 0
