{{/*
The chart's own volumes and where every container mounts them: the one list the pod templates
(oil.commonMounts, the models mount) and the template rules (_validate.tpl: extra volumes and
mounts must not clash with them) read. Reads .Values only through chains (catalog-gen copies this
file beside _validate.tpl, check/chart_templates.py).
*/}}

{{/* Where the lifecycle scripts and model lists are mounted (docs/interfaces.md section 2). */}}
{{- define "oil.configDir" -}}
/opt/ollama-inference-load
{{- end }}

{{/* The pod's own volumes (a JSON object): volume name -> its mount path in the containers. */}}
{{- define "oil.chartMounts" -}}
{{- dict
  "models" .Values.cache.mountPath
  "scripts" (include "oil.configDir" .)
  "home" .Values.homeDir
  "tmp" "/tmp"
  | toJson }}
{{- end }}

{{/* "true" when path lies inside folder, both compared as the runtime mounts them (path.Clean),
else "". Call with (list folder path). */}}
{{- define "oil.inside" -}}
{{- if hasPrefix (printf "%s/" (trimSuffix "/" (clean (index . 0)))) (clean (index . 1)) }}true{{ end }}
{{- end }}
