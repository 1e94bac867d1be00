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
