#!/bin/sh
# `helm test` pod: asks every configured model for an answer through the Service, with the
# ollama CLI and OLLAMA_HOST=<service>:<port> (set by the chart), and fails if any model does not
# answer. Generation models must return a non-empty answer to a one-word question; embedding
# models must return an embedding vector. Models are first checked with `ollama show`, because
# `ollama run` would otherwise start pulling a missing model on the server.
# Exit status: 0 every model answered, 1 at least one did not, 2 bad configuration.

set -u
OIL_SCRIPT=test-models
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_duration_ms OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS" >/dev/null || exit 2
oil_duration_ms OIL_TEST_TIMEOUT_SECONDS "$OIL_TEST_TIMEOUT_SECONDS" >/dev/null || exit 2
oil_load_plan

PROMPT="Reply with exactly one word: ready"
ERR=$(mktemp "${TMPDIR:-/tmp}/oil-test.XXXXXX") || exit 1
trap 'rm -f "$ERR"' EXIT

# `check_model NAME KIND`
check_model() {
	cm_start=$(oil_now_ms)
	if ! timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama show "$1" </dev/null >/dev/null 2>"$ERR"; then
		oil_log FAIL "$1: not available on $OLLAMA_HOST: $(oil_cli_error "$ERR")"
		return 1
	fi
	if [ "$2" = embed ]; then
		set -- "$1" "$2" ready
	else
		set -- "$1" "$2" "$PROMPT"
	fi
	if ! cm_answer=$(timeout "$OIL_TEST_TIMEOUT_SECONDS" ollama run "$1" "$3" </dev/null 2>"$ERR"); then
		oil_log FAIL "$1: ollama run failed: $(oil_cli_error "$ERR")"
		return 1
	fi
	cm_took=$(oil_ms_to_s "$(($(oil_now_ms) - cm_start))")
	if [ "$2" = embed ]; then
		case $cm_answer in
		\[*\]*)
			oil_log PASS "$1: embedding of $(printf '%s' "$cm_answer" | tr ',' '\n' | grep -c .) dimensions in ${cm_took}s"
			return 0
			;;
		esac
		oil_log FAIL "$1: expected an embedding vector, got: $(printf '%s' "$cm_answer" | head -c 200)"
		return 1
	fi
	# Thinking models print their reasoning first; the answer is the last non-empty line.
	cm_word=$(printf '%s\n' "$cm_answer" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-80)
	if [ -z "$cm_word" ]; then
		oil_log FAIL "$1: empty answer after ${cm_took}s"
		return 1
	fi
	oil_log PASS "$1: answered \"$cm_word\" in ${cm_took}s"
}

failed=0
checked=0
# Pulled models, then derived ones: name, display name, kind.
while IFS="$OIL_TAB" read -r name display kind <&3; do
	[ -n "$name" ] || continue
	checked=$((checked + 1))
	check_model "$display" "$kind" || failed=$((failed + 1))
done 3<<PLAN
$(oil_plan_records M | cut -f1,2,5)
$(oil_plan_records D | cut -f1,2,5)
PLAN

if [ "$failed" -gt 0 ]; then
	oil_log FAIL "$failed of $checked models did not answer through $OLLAMA_HOST"
	exit 1
fi
oil_log PASS "all $checked models answered through $OLLAMA_HOST"
exit 0
