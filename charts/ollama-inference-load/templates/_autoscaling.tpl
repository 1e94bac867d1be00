{{/*
Autoscaling (docs/autoscaling.md). KEDA owns the replica count when autoscaling.enabled; the
helpers below derive every number KEDA and the KEDA HTTP add-on need from the values that own it:
the per-replica target from autoscaling.target (or ollama.numParallel), the cold-start wait from
startup.*, the idle time from autoscaling.scaleToZero.afterIdle.
*/}}

{{/* "true" when KEDA owns the replica count. */}}
{{- define "oil.autoscaled" -}}
{{- if .Values.autoscaling.enabled }}
{{- "true" }}
{{- end }}
{{- end }}

{{/* "true" when the HTTPRoute goes through the KEDA HTTP add-on's interceptor. */}}
{{- define "oil.kedaHttp" -}}
{{- if and .Values.autoscaling.enabled (eq .Values.autoscaling.engine "keda-http") }}
{{- "true" }}
{{- end }}
{{- end }}

{{/* The per-replica target as YAML {metric: concurrency|requestRate, value: N}. */}}
{{- define "oil.scalingTarget" -}}
{{- $target := .Values.autoscaling.target }}
{{- if hasKey $target "requestRate" }}
{{- toYaml (dict "metric" "requestRate" "value" (int $target.requestRate)) }}
{{- else }}
{{- toYaml (dict "metric" "concurrency" "value" (int (default .Values.ollama.numParallel $target.concurrency))) }}
{{- end }}
{{- end }}

{{/* Seconds of a duration made of hours, minutes and seconds ("1h30m", "90s"). */}}
{{- define "oil.durationSeconds" -}}
{{- $seconds := 0 }}
{{- range $part := regexFindAll "[0-9]+[hms]" (toString .) -1 }}
{{- $number := int (trimSuffix "h" (trimSuffix "m" (trimSuffix "s" $part))) }}
{{- $unit := get (dict "h" 3600 "m" 60 "s" 1) (substr (int (sub (len $part) 1)) (len $part) $part) }}
{{- $seconds = add $seconds (mul $number $unit) }}
{{- end }}
{{- $seconds }}
{{- end }}

{{/* A number of milliseconds as a Gateway API duration ("1h2m3s4ms", zero parts left out). The
reverse, "oil.gatewayDurationMs", lives in _validate.tpl: its rules need it, and catalog-gen runs
that file without this one. */}}
{{- define "oil.gatewayDuration" -}}
{{- $ms := int64 . }}
{{- $text := "" }}
{{- range $unit := list (list "h" 3600000) (list "m" 60000) (list "s" 1000) (list "ms" 1) }}
{{- $size := int64 (index $unit 1) }}
{{- $count := div $ms $size }}
{{- if gt $count 0 }}
{{- $text = printf "%s%d%s" $text $count (index $unit 0) }}
{{- end }}
{{- $ms = mod $ms $size }}
{{- end }}
{{- default "0s" $text }}
{{- end }}

{{/*
The longest a request may wait for a cold start from zero: what the Deployment allows a new pod
(progressDeadlineSeconds = startup.budgetSeconds + startup.progressMarginSeconds: scheduling,
volume attach, model pull and load). The interceptor holds a request this long, and the route's
timeouts grow by as much when the service scales to zero.
*/}}
{{- define "oil.coldStartSeconds" -}}
{{- include "oil.progressDeadlineSeconds" . }}
{{- end }}

{{/* A route timeout (Gateway API duration) plus the cold start when the interceptor may hold the
request at zero replicas; the value unchanged otherwise. A zero timeout ("0s") means none (the
Gateway API's meaning) and stays zero: there is no deadline to extend, and a cold start added to
it would turn "no timeout" into a short one (and a longer backendRequest into one the CRD
refuses). Call with (list $ "600s"). */}}
{{- define "oil.routeTimeout" -}}
{{- $root := index . 0 }}
{{- $timeout := index . 1 }}
{{- $ms := include "oil.gatewayDurationMs" $timeout | int64 }}
{{- if and (gt $ms 0) (include "oil.kedaHttp" $root) $root.Values.autoscaling.scaleToZero.enabled }}
{{- include "oil.gatewayDuration" (add $ms (mul (include "oil.coldStartSeconds" $root | int64) 1000)) }}
{{- else }}
{{- $timeout }}
{{- end }}
{{- end }}

{{/* Address of the add-on's external scaler. */}}
{{- define "oil.kedaHttpScalerAddress" -}}
{{- $http := .Values.autoscaling.kedaHttp }}
{{- default (printf "keda-add-ons-http-external-scaler.%s:9090" $http.interceptorNamespace) $http.scalerAddress }}
{{- end }}

{{/* The header the HTTPRoute sets and the InterceptorRoute matches: which service a request is
for, whatever host the client used (the route sets it, overwriting any value a client sent). */}}
{{- define "oil.routeHeaderName" -}}
x-ollama-inference-load-route
{{- end }}

{{- define "oil.routeHeaderValue" -}}
{{- printf "%s/%s" .Release.Namespace (include "oil.fullname" .) }}
{{- end }}

{{/* The ReferenceGrant's name in the interceptor's namespace: one per release namespace and
service, so two releases never share (or delete) one. A dot joins them: neither a namespace nor
a full name holds one, while a dash made x + y-chat and x-y + chat one name (two Argo CD
Applications then fought over one grant, each leaving the other's route without it). */}}
{{- define "oil.referenceGrantName" -}}
{{- printf "%s.%s" .Release.Namespace (include "oil.fullname" .) }}
{{- end }}

{{/* Prometheus query with its placeholders replaced. */}}
{{- define "oil.prometheusQuery" -}}
{{- $query := .Values.autoscaling.prometheus.query }}
{{- $query = replace "${namespace}" .Release.Namespace $query }}
{{- $query = replace "${service}" (include "oil.fullname" .) $query }}
{{- $query = replace "${route}" (include "oil.fullname" .) $query }}
{{- replace "${port}" (toString (int .Values.service.port)) $query }}
{{- end }}

{{/* Fails unless the cluster serves an API the autoscaling resources need. Call with (list $
"group/version" "Kind" "what installs it"). */}}
{{- define "oil.requireApi" -}}
{{- $root := index . 0 }}
{{- $groupVersion := index . 1 }}
{{- $kind := index . 2 }}
{{- if not (include "oil.hasApi" (list $root $groupVersion $kind)) }}
{{- fail (printf "autoscaling.engine=%s needs %s %s, which the cluster does not serve: install %s, pass --api-versions %s/%s to helm template, or add %s to assumeApiVersions" $root.Values.autoscaling.engine $groupVersion $kind (index . 3) $groupVersion $kind $groupVersion) }}
{{- end }}
{{- end }}
