{{/*
Images: registry/repository:tag@digest, global.imageRegistry replacing the registry.
Call with (list $ .Values.image).
*/}}
{{- define "oil.imageTag" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- default $root.Chart.AppVersion $image.tag }}
{{- end }}

{{- define "oil.image" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- $registry := default $image.registry $root.Values.global.imageRegistry }}
{{- $reference := printf "%s:%s" $image.repository (include "oil.imageTag" .) }}
{{- if $registry }}
{{- $reference = printf "%s/%s" $registry $reference }}
{{- end }}
{{- if $image.digest }}
{{- $reference = printf "%s@%s" $reference $image.digest }}
{{- end }}
{{- $reference }}
{{- end }}

{{- define "oil.imagePullSecrets" -}}
{{- $names := concat .Values.global.imagePullSecrets .Values.imagePullSecrets | uniq }}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
