#!/bin/sh
# livenessProbe of the server container: alive when the server answers, nothing more.
#
# `ollama list` is used because it fails when the server does not answer (`ollama -v` exits 0
# even then) and says nothing of the models' state: a long load must not get the container
# restarted. Bounded by `timeout`.
# Exit status: 0 the server answered, 1 it did not, 2 bad configuration.

set -eu
OIL_SCRIPT=probe-live
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

oil_require OLLAMA_HOST OIL_CLI_TIMEOUT_SECONDS
oil_connectable_host

oil_seconds_setting OIL_CLI_TIMEOUT_SECONDS "$OIL_CLI_TIMEOUT_SECONDS"
oil_settings_checked

list_status=0
list_output=$(oil_timeout "$OIL_CLI_TIMEOUT_SECONDS" ollama list </dev/null 2>&1) || list_status=$?
[ "$list_status" -ne 0 ] || exit 0
if [ "$list_status" -eq 124 ] || [ "$list_status" -eq 137 ]; then
	oil_log not-alive "ollama list did not answer on $OLLAMA_HOST within ${OIL_CLI_TIMEOUT_SECONDS}s"
else
	oil_last_line "$list_output"
	oil_log not-alive "ollama list failed on $OLLAMA_HOST: $OIL_LAST_LINE"
fi
exit 1
