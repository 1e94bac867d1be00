{{/*
Every template ends with a trimming action ("-}}"): helm 4 keeps a template's trailing newline
and helm 3 drops it, and the two must render byte-for-byte alike (Argo CD 3.3/3.4 bundle helm 3,
3.5 helm 4).
*/}}
{{/* Where the lifecycle scripts and model lists are mounted (docs/interfaces.md section 2). */}}
{{- define "oil.configDir" -}}
/opt/ollama-inference-load
{{- end }}

{{/*
Where probe-ready.sh keeps its loaders' pid files and last results (OIL_STATE_DIR): under /tmp,
the pod's emptyDir (oil.commonMounts), so it is writable and starts empty with the pod.
*/}}
{{- define "oil.stateDir" -}}
/tmp/ollama-inference-load
{{- end }}

{{/*
Labels. Selector labels include the component so the Service, PDB and NetworkPolicy never select
the helm test pod.
*/}}
{{- define "oil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oil.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: inference
{{- end }}

{{/*
Labels of every resource: the standard set, backstage.io/kubernetes-id and commonLabels (which
cannot override the standard ones). Call with (list $ "component").
*/}}
{{- define "oil.labelsFor" -}}
{{- $root := index . 0 }}
{{- $labels := dict
  "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/name" (include "oil.name" $root)
  "app.kubernetes.io/instance" $root.Release.Name
  "app.kubernetes.io/version" (include "oil.serverImageTag" $root | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/managed-by" $root.Release.Service
  "app.kubernetes.io/part-of" "ollama-inference-load"
  "app.kubernetes.io/component" (index . 1)
}}
{{- if $root.Values.backstage.kubernetesId }}
{{- $_ := set $labels "backstage.io/kubernetes-id" $root.Values.backstage.kubernetesId }}
{{- end }}
{{- toYaml (merge $labels $root.Values.commonLabels) }}
{{- end }}

{{- define "oil.labels" -}}
{{- include "oil.labelsFor" (list . "inference") }}
{{- end }}

{{/* Prefix of the cost allocation labels (docs/cost.md): cost.ollama-inference-load.io/team... */}}
{{- define "oil.costLabelPrefix" -}}
cost.ollama-inference-load.io/
{{- end }}

{{/* Pod labels: the resource labels, podLabels, and the non-empty costLabels. */}}
{{- define "oil.podLabels" -}}
{{- $labels := include "oil.labels" . | fromYaml }}
{{- range $key, $value := .Values.costLabels }}
{{- if $value }}
{{- $_ := set $labels (printf "%s%s" (include "oil.costLabelPrefix" $) $key) $value }}
{{- end }}
{{- end }}
{{- toYaml (merge $labels .Values.podLabels) }}
{{- end }}

{{- define "oil.testLabels" -}}
{{- include "oil.labelsFor" (list . "test") }}
{{- end }}

{{/*
Images: registry/repository:tag@digest, global.imageRegistry replacing the registry. An empty tag
is the chart's appVersion, followed by "-" and the variant when one is given.
Call with (list $ .Values.image) or (list $ .Values.image "variant").
*/}}
{{- define "oil.imageTag" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- $tag := $image.tag }}
{{- if not $tag }}
{{- $tag = $root.Chart.AppVersion }}
{{- if and (gt (len .) 2) (index . 2) }}
{{- $tag = printf "%s-%s" $tag (index . 2) }}
{{- end }}
{{- end }}
{{- $tag }}
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

{{/*
Ollama's image variant for the GPUs the pod requests: "rocm" for AMD GPUs (an `amd.com/`
resource; Ollama publishes `ollama/ollama:<version>-rocm`, the plain tag carries CUDA only), else
none. A CPU-only pod keeps the plain image.
*/}}
{{- define "oil.imageVariant" -}}
{{- if and (gt (int .Values.gpu.count) 0) (hasPrefix "amd.com/" .Values.gpu.resourceName) }}
{{- "rocm" }}
{{- end }}
{{- end }}

{{/* The Ollama server's image (init container and server) and its tag. */}}
{{- define "oil.serverImage" -}}
{{- include "oil.image" (list . .Values.image (include "oil.imageVariant" .)) }}
{{- end }}

{{- define "oil.serverImageTag" -}}
{{- include "oil.imageTag" (list . .Values.image (include "oil.imageVariant" .)) }}
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

{{/*
Cache. A volume is single-attach when it does not offer a many-node access mode.
*/}}
{{- define "oil.cacheSingleAttach" -}}
{{- if not (or (has "ReadWriteMany" .Values.cache.accessModes) (has "ReadOnlyMany" .Values.cache.accessModes)) }}
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

{{/*
Keep-alive for the scripts' self-heal load: `ollama run --keepalive` needs a unit, Ollama's
OLLAMA_KEEP_ALIVE accepts plain seconds.
*/}}
{{- define "oil.loadKeepAlive" -}}
{{- include "oil.keepAliveFlag" .Values.ollama.keepAlive }}
{{- end }}

{{/* A keep-alive (Go duration or plain seconds) as `--keepalive` takes it. */}}
{{- define "oil.keepAliveFlag" -}}
{{- $keepAlive := toString . }}
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
- name: OIL_LOAD_KEEPALIVE
  value: {{ include "oil.loadKeepAlive" . | quote }}
# A self-heal load in the readiness probe may take as long as a first start.
- name: OIL_LOAD_TIMEOUT_SECONDS
  value: {{ .Values.startup.budgetSeconds | int | quote }}
- name: OIL_STATE_DIR
  value: {{ include "oil.stateDir" . | quote }}
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

{{/* Server settings (docs/interfaces.md section 1, `ollama`). */}}
{{- define "oil.serverEnv" -}}
- name: OLLAMA_HOST
  value: {{ printf "0.0.0.0:%d" (int .Values.ollama.port) | quote }}
- name: OLLAMA_KEEP_ALIVE
  value: {{ toString .Values.ollama.keepAlive | quote }}
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

{{- define "oil.commonMounts" -}}
- name: scripts
  mountPath: {{ include "oil.configDir" . | quote }}
  readOnly: true
- name: home
  mountPath: {{ .Values.homeDir | quote }}
- name: tmp
  mountPath: /tmp
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
{{- $constraints = append $constraints (merge (dict) . (dict "labelSelector" $selector)) }}
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

{{/*
Data of the scripts ConfigMap: every file under files/ plus the model lists and load groups
(oil.loadGroups) in the format of docs/interfaces.md section 2. The pod template's checksum is
taken over this, so a script or model change rolls the pods.
*/}}
{{- define "oil.scriptsData" -}}
{{- $data := dict }}
{{- range $path, $_ := .Files.Glob "files/*" }}
{{- $_ := set $data (base $path) ($.Files.Get $path) }}
{{- end }}
{{- /* keep-alive is the last column (docs/interfaces.md section 2): "-" = OIL_LOAD_KEEPALIVE. */}}
{{- $models := list "# name\tdigest-or-dash\tinsecure\tkind (generate/embed)\tkeep-alive (Go duration or -)" }}
{{- range .Values.models }}
{{- $keepAlive := "-" }}
{{- if and (hasKey . "keepAlive") (ne (toString .keepAlive) "") }}
{{- $keepAlive = include "oil.keepAliveFlag" .keepAlive }}
{{- end }}
{{- $models = append $models (printf "%s\t%s\t%t\t%s\t%s" .name (default "-" .digest) (default false .insecure) (ternary "embed" "generate" (default false .embedding)) $keepAlive) }}
{{- end }}
{{- $_ := set $data "models.tsv" (printf "%s\n" (join "\n" $models)) }}
{{- $derived := list "# name\tmodelfile" }}
{{- range $index, $model := .Values.derivedModels }}
{{- $file := printf "modelfile-%d" $index }}
{{- $derived = append $derived (printf "%s\t%s" $model.name $file) }}
{{- $_ := set $data $file $model.modelfile }}
{{- end }}
{{- $_ := set $data "derived.tsv" (printf "%s\n" (join "\n" $derived)) }}
{{- $groups := list "# load\tkind\tinsecure\tmembers (comma-separated; the group is loaded when any member is)" }}
{{- range (include "oil.loadGroups" . | fromJson).groups }}
{{- $groups = append $groups (printf "%s\t%s\t%t\t%s" .load .kind .insecure (join "," .members)) }}
{{- end }}
{{- $_ := set $data "groups.tsv" (printf "%s\n" (join "\n" $groups)) }}
{{- toYaml $data }}
{{- end }}

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
