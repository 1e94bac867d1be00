#!/bin/sh
# livenessProbe of the server container: alive when the server answers, nothing more.
#
# `ollama list` is used because it fails when the server does not answer (`ollama -v` exits 0
# even then) and, unlike `ollama ps`, it is not held up while a model loads: a long load must not
# get the container restarted. Bounded by `timeout`.
# Exit status: 0 the server answered, 1 it did not, 2 bad configuration.

set -u
OIL_SCRIPT=probe-live
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_duration_ms OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS" >/dev/null || exit 2

if list_output=$(timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null 2>&1); then
	exit 0
fi
list_status=$?
if [ "$list_status" -eq 124 ]; then
	oil_log not-alive "ollama list did not answer on $OLLAMA_HOST within ${OIL_CLI_TIMEOUT_SECONDS}s"
else
	oil_log not-alive "ollama list failed on $OLLAMA_HOST: $(printf '%s' "$list_output" | tail -n 1)"
fi
exit 1
