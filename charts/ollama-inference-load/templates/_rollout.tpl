{{/*
Rollouts that fit the GPUs (docs/interfaces.md, "Rollouts"). A rolling update with maxSurge > 0
starts new pods before old ones stop: each needs gpu.count more GPUs than the service holds.
Without spare GPUs (updateStrategy.gpuSurge) the new pod stays Pending until
progressDeadlineSeconds and the rollout never finishes, so GPU workloads default to stopping an
old pod first.
*/}}

{{/*
The replica count the workload renders, or "" when an autoscaler owns it (then spec.replicas is
left out and nothing may assume a count). Every rule on the replica count asks this helper.
*/}}
{{- define "oil.fixedReplicas" -}}
{{- if not (include "oil.autoscaled" .) }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}

{{/* "true" when an intOrPercent value is zero (0 or "0%"). */}}
{{- define "oil.isZero" -}}
{{- /* 0, 00, 0%, 00%: Kubernetes reads each as zero */}}
{{- if regexMatch "^0+%?$" (toString .) }}
{{- "true" }}
{{- end }}
{{- end }}

{{/*
The Deployment's spec.strategy as JSON. Empty updateStrategy keys are derived:
- maxSurge: with GPUs, the pods updateStrategy.gpuSurge spare GPUs hold (gpuSurge / gpu.count,
  rounded down, so 0 without spare GPUs); without GPUs 1.
- maxUnavailable: 0 when maxSurge is not zero (no capacity lost), else 1 (stop one old pod, then
  start its replacement on the GPUs it released).
- type: Recreate for a single-attach sharedPVC (a rolling update would wait forever for the
  volume) and for a GPU workload of at most one fixed replica that cannot surge (same GPUs,
  and the new pod is created only once the old one is gone); else RollingUpdate.
Explicit values always win; templates/_validate.tpl refuses a RollingUpdate that can neither
surge nor stop a pod.
*/}}
{{- define "oil.deploymentStrategy" -}}
{{- $settings := .Values.updateStrategy }}
{{- $gpus := int .Values.gpu.count }}
{{- $surge := $settings.maxSurge }}
{{- if eq (toString $surge) "" }}
{{- $surge = ternary (div (int $settings.gpuSurge) (max $gpus 1)) 1 (gt $gpus 0) }}
{{- end }}
{{- $unavailable := $settings.maxUnavailable }}
{{- if eq (toString $unavailable) "" }}
{{- $unavailable = ternary 1 0 (eq (include "oil.isZero" $surge) "true") }}
{{- end }}
{{- $type := $settings.type }}
{{- $replicas := include "oil.fixedReplicas" . }}
{{- if not $type }}
{{- $type = "RollingUpdate" }}
{{- if and (eq .Values.cache.mode "sharedPVC") (eq (include "oil.cacheSingleAttach" .) "true") }}
{{- $type = "Recreate" }}
{{- else if and (gt $gpus 0) (eq (include "oil.isZero" $surge) "true") (ne $replicas "") }}
{{- if le (atoi $replicas) 1 }}
{{- $type = "Recreate" }}
{{- end }}
{{- end }}
{{- end }}
{{- $strategy := dict "type" $type }}
{{- if eq $type "RollingUpdate" }}
{{- $_ := set $strategy "rollingUpdate" (dict "maxSurge" $surge "maxUnavailable" $unavailable) }}
{{- end }}
{{- toJson $strategy }}
{{- end }}
