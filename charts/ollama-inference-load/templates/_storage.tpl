{{/* PVC spec shared by the shared claim and the per-replica volumeClaimTemplate. */}}
{{- define "oil.claimSpec" -}}
accessModes:
  {{- toYaml .Values.cache.accessModes | nindent 2 }}
{{- if eq .Values.cache.storageClass "-" }}
storageClassName: ""
{{- else if .Values.cache.storageClass }}
storageClassName: {{ .Values.cache.storageClass | quote }}
{{- end }}
resources:
  requests:
    storage: {{ .Values.cache.size | quote }}
{{- end }}
