{{/* Labels: the selector, the common set, the pod's and the test pod's. */}}

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
  "app.kubernetes.io/version" (include "oil.versionLabel" $root)
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

{{/*
Labels of the StatefulSet's volumeClaimTemplates: the selector labels only. Kubernetes forbids
any change to a StatefulSet's volumeClaimTemplates, so a label there that changes with the chart
version (helm.sh/chart), the image tag (app.kubernetes.io/version), commonLabels or
backstage.kubernetesId would make every such upgrade (helm upgrade, an Argo CD sync) fail. The
selector labels are themselves immutable (spec.selector), so anything that changes them could not
be upgraded anyway; the controller copies them onto each claim too.
*/}}
{{- define "oil.claimTemplateLabels" -}}
{{- include "oil.selectorLabels" . }}
{{- end }}

{{/* Prefix of the cost allocation labels (docs/cost.md): cost.ollama-inference-load.io/team... */}}
{{- define "oil.costLabelPrefix" -}}
cost.ollama-inference-load.io/
{{- end }}

{{/* Pod labels: the resource labels, podLabels, and the non-empty costLabels. */}}
{{- define "oil.podLabels" -}}
{{- $labels := include "oil.labels" . | fromYaml }}
{{- /* Not helm.sh/chart: any pod-template change rolls the pods (with Recreate, an outage; with
an emptyDir cache, every model pulled again), and a chart release that changes nothing the pods
run must not. It stays on the workload itself. */}}
{{- $_ := unset $labels "helm.sh/chart" }}
{{- range $key, $value := .Values.costLabels }}
{{- if $value }}
{{- $_ := set $labels (printf "%s%s" (include "oil.costLabelPrefix" $) $key) $value }}
{{- end }}
{{- end }}
{{- toYaml (merge $labels .Values.podLabels) }}
{{- end }}

{{/* The helm test pod's labels: the resource labels (component test, which the server's
NetworkPolicy admits) and test.podLabels, which cannot override them. */}}
{{- define "oil.testLabels" -}}
{{- $labels := include "oil.labelsFor" (list . "test") | fromYaml }}
{{- toYaml (merge $labels .Values.test.podLabels) }}
{{- end }}

{{/*
The image tag as a label value: a tag may start with `_` and end in `.`, `_` or `-` (and is cut
to 63 characters, which may end it so), a label value must start and end with a letter or digit
(the API server refuses the resource otherwise).
*/}}
{{- define "oil.versionLabel" -}}
{{- regexReplaceAll "^[^A-Za-z0-9]+|[^A-Za-z0-9]+$" (include "oil.serverImageTag" . | trunc 63) "" }}
{{- end }}
