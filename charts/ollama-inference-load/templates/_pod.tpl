{{/*
Every template ends with a trimming action ("-}}"): helm 4 keeps a template's trailing newline
and helm 3 drops it, and the two must render byte-for-byte alike (Argo CD 3.3/3.4 bundle helm 3,
3.5 helm 4).
*/}}

{{/*
The pod template shared by the Deployment and the StatefulSet, and the workload settings around
it: startup budget, mounts, resources, tolerations, spread (the update strategy is
_rollout.tpl's).
*/}}

{{/*
Cache. A volume is single-attach when it does not offer a many-node access mode.
*/}}
{{- define "oil.cacheSingleAttach" -}}
{{- if not (or (has "ReadWriteMany" .Values.cache.accessModes) (has "ReadOnlyMany" .Values.cache.accessModes)) }}
{{- "true" }}
{{- end }}
{{- end }}

{{/*
Startup. failureThreshold = ceil(budget / period); the Deployment's progress deadline covers the
pull (init container, before the startupProbe runs) and the load, plus scheduling.
*/}}
{{- define "oil.startupFailureThreshold" -}}
{{- $period := int .Values.probes.startup.periodSeconds }}
{{- div (add (int .Values.startup.budgetSeconds) (sub $period 1)) $period }}
{{- end }}

{{- define "oil.progressDeadlineSeconds" -}}
{{- add (int .Values.startup.budgetSeconds) (int .Values.startup.progressMarginSeconds) }}
{{- end }}

{{- define "oil.commonMounts" -}}
{{- $mounts := include "oil.chartMounts" . | fromJson }}
- name: scripts
  mountPath: {{ $mounts.scripts | quote }}
  readOnly: true
- name: home
  mountPath: {{ $mounts.home | quote }}
- name: tmp
  mountPath: {{ $mounts.tmp | quote }}
{{- end }}

{{- define "oil.resources" -}}
{{- $resources := deepCopy .Values.resources }}
{{- if gt (int .Values.gpu.count) 0 }}
{{- $limits := default (dict) $resources.limits }}
{{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) }}
{{- range $name, $quantity := .Values.gpu.extraResources }}
{{- $_ := set $limits $name $quantity }}
{{- end }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toYaml $resources }}
{{- end }}

{{- define "oil.gpuTolerationKey" -}}
{{- $key := .Values.gpu.tolerationKey }}
{{- if eq $key "" }}
{{- $key = ternary "nvidia.com/gpu" .Values.gpu.resourceName (hasPrefix "nvidia.com/" .Values.gpu.resourceName) }}
{{- end }}
{{- if and (gt (int .Values.gpu.count) 0) (ne $key "-") }}
{{- $key }}
{{- end }}
{{- end }}

{{- define "oil.tolerations" -}}
{{- $tolerations := .Values.tolerations }}
{{- $key := include "oil.gpuTolerationKey" . }}
{{- if $key }}
{{- $tolerations = append $tolerations (dict "key" $key "operator" "Exists" "effect" "NoSchedule") }}
{{- end }}
{{- if $tolerations }}
tolerations:
  {{- toYaml $tolerations | nindent 2 }}
{{- end }}
{{- end }}

{{- define "oil.topologySpreadConstraints" -}}
{{- $selector := dict "matchLabels" (include "oil.selectorLabels" . | fromYaml) }}
{{- $constraints := list }}
{{- range .Values.topologySpreadConstraints }}
{{- /* The pods' selector only where the entry has none: merge would add the release's labels
to a selector of its own (a spread across a team's pods narrowed to this release); an empty
one, {}, is the entry's own too (every pod of the namespace). */}}
{{- $constraints = append $constraints (merge (dict) . (dict "labelSelector" (ternary .labelSelector $selector (kindIs "map" .labelSelector)))) }}
{{- end }}
{{- if $constraints }}
topologySpreadConstraints:
  {{- toYaml $constraints | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The pod template shared by the Deployment and the StatefulSet, so the two never drift. The model
volume "models" is defined by the caller (emptyDir or PVC volume, or a volumeClaimTemplate).
*/}}
{{- define "oil.podTemplate" -}}
metadata:
  labels:
    {{- include "oil.podLabels" . | nindent 4 }}
  annotations:
    {{- /* podAnnotations cannot replace the checksum: the schema refuses the key */}}
    checksum/scripts: {{ include "oil.scriptsData" . | sha256sum | quote }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "oil.serviceAccountName" . | quote }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with include "oil.imagePullSecrets" . }}
  {{- . | trim | nindent 2 }}
  {{- end }}
  {{- with .Values.runtimeClassName }}
  runtimeClassName: {{ . | quote }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds | int }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "oil.tolerations" . }}
  {{- . | trim | nindent 2 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "oil.topologySpreadConstraints" . }}
  {{- . | trim | nindent 2 }}
  {{- end }}
  initContainers:
    - name: pull-models
      image: {{ include "oil.serverImage" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
      command: ["/bin/sh", {{ printf "%s/pull-models.sh" (include "oil.configDir" .) | quote }}]
      env:
        - name: OLLAMA_HOST
          value: {{ printf "127.0.0.1:%d" (int .Values.ollama.port) | quote }}
        {{- include "oil.lifecycleEnv" . | nindent 8 }}
        {{- /* The pull needs no GPU: it must not see the node's (oil.gpuIsolationEnv). */}}
        {{- with include "oil.gpuIsolationEnv" .Values.pull.resources }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml .Values.pull.resources | nindent 8 }}
      volumeMounts:
        - name: models
          mountPath: {{ .Values.cache.mountPath | quote }}
        {{- include "oil.commonMounts" . | nindent 8 }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  containers:
    - name: ollama
      image: {{ include "oil.serverImage" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
      command: ["/bin/ollama", "serve"]
      ports:
        - name: http
          containerPort: {{ .Values.ollama.port | int }}
          protocol: TCP
      env:
        {{- include "oil.serverEnv" . | nindent 8 }}
        {{- include "oil.lifecycleEnv" . | nindent 8 }}
        {{- /* A CPU-only server (gpu.count 0) must not see the node's GPUs either. */}}
        {{- with include "oil.gpuIsolationEnv" (include "oil.resources" . | fromYaml) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        exec:
          command: ["/bin/sh", {{ printf "%s/probe-ready.sh" (include "oil.configDir" .) | quote }}]
        periodSeconds: {{ .Values.probes.startup.periodSeconds | int }}
        timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds | int }}
        failureThreshold: {{ include "oil.startupFailureThreshold" . }}
        successThreshold: 1
      readinessProbe:
        exec:
          command: ["/bin/sh", {{ printf "%s/probe-ready.sh" (include "oil.configDir" .) | quote }}]
        periodSeconds: {{ .Values.probes.readiness.periodSeconds | int }}
        timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds | int }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold | int }}
        successThreshold: 1
      livenessProbe:
        exec:
          command: ["/bin/sh", {{ printf "%s/probe-live.sh" (include "oil.configDir" .) | quote }}]
        periodSeconds: {{ .Values.probes.liveness.periodSeconds | int }}
        timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds | int }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold | int }}
        successThreshold: 1
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        {{- include "oil.resources" . | nindent 8 }}
      volumeMounts:
        - name: models
          mountPath: {{ .Values.cache.mountPath | quote }}
        {{- include "oil.commonMounts" . | nindent 8 }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: scripts
      configMap:
        name: {{ include "oil.scriptsConfigMapName" . | quote }}
        defaultMode: 0444
    - name: home
      emptyDir:
        sizeLimit: 64Mi
    - name: tmp
      emptyDir:
        sizeLimit: 1Gi
    {{- if eq .Values.cache.mode "emptyDir" }}
    - name: models
      emptyDir:
        sizeLimit: {{ .Values.cache.size | quote }}
    {{- else if eq .Values.cache.mode "sharedPVC" }}
    - name: models
      persistentVolumeClaim:
        claimName: {{ include "oil.sharedClaimName" . | quote }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
