{{/*
Which of Ollama's endpoints the HTTPRoute and the Ingress route. The list lives in ONE file,
api/ollama-endpoints.yaml (read from Ollama's server/routes.go at the chart's appVersion); each
endpoint has an access class. inference and read-only are always routed, administration only
with exposure.administration, none never. Returns YAML {classes: [...], endpoints: [...]}: the
routed classes in order and the routed endpoints, for fromYaml.
*/}}
{{- define "oil.routedEndpoints" -}}
{{- $api := .Files.Get "api/ollama-endpoints.yaml" | fromYaml }}
{{- if not $api.endpoints }}
{{- fail "api/ollama-endpoints.yaml is missing or lists no endpoints: the chart package is incomplete" }}
{{- end }}
{{- $classes := list "inference" "read-only" }}
{{- if .Values.exposure.administration }}
{{- $classes = append $classes "administration" }}
{{- end }}
{{- $routed := list }}
{{- range $api.endpoints }}
{{- if has .access $classes }}
{{- $routed = append $routed . }}
{{- end }}
{{- end }}
{{- toYaml (dict "classes" $classes "endpoints" $routed) }}
{{- end }}

{{/*
Ingress pathType of an endpoint's Gateway API match type (Ingress cannot match methods).
*/}}
{{- define "oil.ingressPathType" -}}
{{- ternary "Exact" "Prefix" (eq . "Exact") }}
{{- end }}

{{/*
Capabilities: true when the cluster (or --api-versions) serves the API, or the user asserts it in
assumeApiVersions. Call with (list $ "group/version" "Kind").
*/}}
{{- define "oil.hasApi" -}}
{{- $root := index . 0 }}
{{- $groupVersion := index . 1 }}
{{- $kind := index . 2 }}
{{- if or ($root.Capabilities.APIVersions.Has (printf "%s/%s" $groupVersion $kind)) (has $groupVersion $root.Values.assumeApiVersions) }}
{{- "true" }}
{{- end }}
{{- end }}

{{- define "oil.gatewayHostname" -}}
{{- if .Values.gateway.tls.hostname }}
{{- .Values.gateway.tls.hostname }}
{{- else if .Values.httpRoute.hostnames }}
{{- first .Values.httpRoute.hostnames }}
{{- end }}
{{- end }}
