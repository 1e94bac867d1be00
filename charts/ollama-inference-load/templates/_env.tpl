{{/* Container environment: the lifecycle scripts' settings and the server's. */}}

{{/*
Keep-alive for the scripts' self-heal load: `ollama run --keepalive` needs a unit, Ollama's
OLLAMA_KEEP_ALIVE accepts plain seconds.
*/}}
{{- define "oil.loadKeepAlive" -}}
{{- include "oil.keepAliveFlag" .Values.ollama.keepAlive }}
{{- end }}

{{/*
A keep-alive as text: a duration as written, a number of seconds as a whole number. A number
from a values file is a float64 to helm, which toString writes as 1e+06 from a million on: text
neither Ollama's OLLAMA_KEEP_ALIVE (which then falls back to 5m) nor `--keepalive` reads.
*/}}
{{- define "oil.keepAliveText" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- printf "%d" (int64 .) }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* A keep-alive (Go duration or plain seconds) as `--keepalive` takes it. */}}
{{- define "oil.keepAliveFlag" -}}
{{- $keepAlive := include "oil.keepAliveText" . }}
{{- if regexMatch "^-?[0-9]+$" $keepAlive }}
{{- printf "%ss" $keepAlive }}
{{- else }}
{{- $keepAlive }}
{{- end }}
{{- end }}

{{/*
Environment shared by every container that runs the ollama binary or a lifecycle script. The
chart is the only owner of these settings: the scripts carry no defaults and refuse to start
without a variable they read (docs/interfaces.md section 2; tests/scripts/test_environment.py).
*/}}
{{- define "oil.lifecycleEnv" -}}
- name: HOME
  value: {{ .Values.homeDir | quote }}
- name: OLLAMA_MODELS
  value: {{ .Values.cache.mountPath | quote }}
- name: OIL_CONFIG_DIR
  value: {{ include "oil.configDir" . | quote }}
- name: OIL_POLL_INTERVAL_SECONDS
  value: {{ .Values.lifecycle.pollIntervalSeconds | int | quote }}
- name: OIL_SERVER_START_TIMEOUT_SECONDS
  value: {{ .Values.lifecycle.serverStartTimeoutSeconds | int | quote }}
- name: OIL_SERVER_STOP_TIMEOUT_SECONDS
  value: {{ .Values.lifecycle.serverStopTimeoutSeconds | int | quote }}
- name: OIL_PULL_RETRIES
  value: {{ .Values.lifecycle.pullRetries | int | quote }}
- name: OIL_PULL_BACKOFF_SECONDS
  value: {{ .Values.lifecycle.pullBackoffSeconds | int | quote }}
- name: OIL_PULL_BACKOFF_MAX_SECONDS
  value: {{ .Values.lifecycle.pullBackoffMaxSeconds | int | quote }}
- name: OIL_PULL_PROGRESS_SECONDS
  value: {{ .Values.lifecycle.pullProgressSeconds | int | quote }}
- name: OIL_PULL_STALL_TIMEOUT_SECONDS
  value: {{ .Values.lifecycle.pullStallTimeoutSeconds | int | quote }}
- name: OIL_PULL_ATTEMPT_TIMEOUT_SECONDS
  value: {{ .Values.lifecycle.pullAttemptTimeoutSeconds | int | quote }}
- name: OIL_CLI_TIMEOUT_SECONDS
  value: {{ .Values.lifecycle.cliTimeoutSeconds | int | quote }}
- name: OIL_VERIFY_BLOBS
  value: {{ ternary "true" "false" .Values.lifecycle.verifyBlobs | quote }}
- name: OIL_LOAD_KEEPALIVE
  value: {{ include "oil.loadKeepAlive" . | quote }}
# A self-heal load in the readiness probe may take as long as a first start.
- name: OIL_LOAD_TIMEOUT_SECONDS
  value: {{ .Values.startup.budgetSeconds | int | quote }}
- name: OIL_STATE_DIR
  value: {{ include "oil.stateDir" . | quote }}
# The server whose start time the probe's state carries: `ollama serve` is the server
# container's entrypoint, its PID 1 (the pod shares no process namespace).
- name: OIL_SERVER_PID
  value: "1"
{{- end }}

{{/*
OLLAMA_MAX_LOADED_MODELS: ollama.maxLoadedModels, or, when that is 0 and there are more load
groups than Ollama's default of 3 loaded models, the number of load groups (a pod is ready only
when every group is loaded; oil.loadGroups). Empty keeps Ollama's default.
*/}}
{{- define "oil.maxLoadedModels" -}}
{{- $maxLoaded := int .Values.ollama.maxLoadedModels }}
{{- $groups := len (include "oil.loadGroups" . | fromJson).groups }}
{{- if and (eq $maxLoaded 0) (gt $groups 3) }}
{{- $maxLoaded = $groups }}
{{- end }}
{{- if gt $maxLoaded 0 }}
{{- $maxLoaded }}
{{- end }}
{{- end }}

{{/*
GPU isolation of a container that requests no GPU. Ollama's image sets NVIDIA_VISIBLE_DEVICES=all
(its Dockerfile), and under the NVIDIA container runtime (runtimeClassName: nvidia, or the node's
default runtime) a container that requests no GPU from the device plugin keeps that value and so
sees every GPU of the node, those the device plugin gave to other pods included. `void` makes the
runtime behave as runc: no GPU and no driver library (`none` would still mount the driver's
libraries and tools; NVIDIA Container Toolkit, "GPU Enumeration"). Nothing for a container whose
resources name an extended resource (vendor/name, e.g. nvidia.com/gpu or HAMi's): the device
plugin sets the variable there, and this one would hide the GPUs it allocated. extraEnv cannot set
the variable (values.schema.json). Call with the container's resources (requests, limits).
*/}}
{{- define "oil.gpuIsolationEnv" -}}
{{- $resources := default (dict) . }}
{{- $devices := false }}
{{- range $kind := list "requests" "limits" }}
{{- range $name, $_ := default (dict) (get $resources $kind) }}
{{- if contains "/" $name }}
{{- $devices = true }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $devices -}}
- name: NVIDIA_VISIBLE_DEVICES
  value: "void"
{{- end }}
{{- end }}

{{/* Server settings (docs/interfaces.md section 1, `ollama`). */}}
{{- define "oil.serverEnv" -}}
- name: OLLAMA_HOST
  value: {{ printf "0.0.0.0:%d" (int .Values.ollama.port) | quote }}
- name: OLLAMA_KEEP_ALIVE
  value: {{ include "oil.keepAliveText" .Values.ollama.keepAlive | quote }}
- name: OLLAMA_NUM_PARALLEL
  value: {{ .Values.ollama.numParallel | int | quote }}
- name: OLLAMA_MAX_QUEUE
  value: {{ .Values.ollama.maxQueue | int | quote }}
{{- with include "oil.maxLoadedModels" . }}
- name: OLLAMA_MAX_LOADED_MODELS
  value: {{ . | quote }}
{{- end }}
{{- if .Values.ollama.contextLength }}
- name: OLLAMA_CONTEXT_LENGTH
  value: {{ .Values.ollama.contextLength | int | quote }}
{{- end }}
{{- if .Values.ollama.loadTimeout }}
- name: OLLAMA_LOAD_TIMEOUT
  value: {{ .Values.ollama.loadTimeout | quote }}
{{- end }}
{{- end }}
