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

# `check_model NAME KIND`
check_model() {
	oil_now_ms
	cm_start=$OIL_NOW_MS
	if ! oil_wait_bounded "$OIL_CLI_TIMEOUT_SECONDS" ollama show "$1" </dev/null >/dev/null 2>"$ERR"; then
		oil_cli_error "$ERR"
		oil_log FAIL "$1: not available on $OLLAMA_HOST: $OIL_CLI_ERROR"
		return 1
	fi
	# A thinking model's reasoning is not its answer: Ollama 0.32.0 turns thinking on by itself
	# for a model that can think and prints the reasoning to stdout, exit 0 even when no answer
	# follows; --hidethinking prints the answer alone.
	if [ "$2" = embed ]; then
		set -- "$1" "$2" ready
	else
		set -- "$1" "$2" "$PROMPT" --hidethinking
	fi
	if ! oil_wait_bounded "$OIL_TEST_TIMEOUT_SECONDS" ollama run ${4:+"$4"} "$1" "$3" </dev/null >"$OUT" 2>"$ERR"; then
		oil_cli_error "$ERR"
		oil_log FAIL "$1: ollama run failed: $OIL_CLI_ERROR"
		return 1
	fi
	cm_answer=$(cat "$OUT") || return 1
	oil_elapsed "$cm_start"
	cm_took=$OIL_S
	if [ "$2" = embed ]; then
		case $cm_answer in
		\[*\]*)
			cm_dims=$(printf '%s' "$cm_answer" | tr ',' '\n' | grep -c .) || return 1
			oil_log PASS "$1: embedding of $cm_dims dimensions in ${cm_took}s"
			return 0
			;;
		esac
		cm_head=$(printf '%s' "$cm_answer" | head -c 200) || cm_head=
		oil_log FAIL "$1: expected an embedding vector, got: $cm_head"
		return 1
	fi
	# The answer's last non-empty line (the reasoning stays hidden, above).
	cm_word=$(printf '%s\n' "$cm_answer" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-80) || cm_word=
	if [ -z "$cm_word" ]; then
		oil_log FAIL "$1: empty answer after ${cm_took}s"
		return 1
	fi
	oil_log PASS "$1: answered \"$cm_word\" in ${cm_took}s"
}

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
