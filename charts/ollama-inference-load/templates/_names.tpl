{{/*
Names. Every name the chart derives fits the limit of the kind that carries it, and two
different full names never derive the same name: a name over its limit is cut and ends with "-"
and 8 hex characters of the sha256 of the whole name (oil.boundedName). catalog-gen derives the
same names with catalog_gen/check/names.py (tests/chart/test_names.py compares the two on helm's output)
to find collisions between the services of one namespace.
*/}}

{{/* name itself when at most limit characters, else its first (limit - 9) characters, "-" and
8 hex of sha256(name). Call with (list name limit). */}}
{{- define "oil.boundedName" -}}
{{- $name := index . 0 }}
{{- $limit := int (index . 1) }}
{{- if le (len $name) $limit }}
{{- $name }}
{{- else }}
{{- printf "%s-%s" (trunc (int (sub $limit 9)) $name) (sha256sum $name | trunc 8) }}
{{- end }}
{{- end }}

{{/* app.kubernetes.io/name label value (at most 63, like every label value). */}}
{{- define "oil.name" -}}
{{- include "oil.boundedName" (list (default .Chart.Name .Values.nameOverride) 63) }}
{{- end }}

{{/* The name of every resource without a suffix; it names a Service, so a DNS-1035 label of at
most 63 characters. */}}
{{- define "oil.fullname" -}}
{{- $name := .Values.fullnameOverride }}
{{- if not $name }}
{{- $base := default .Chart.Name .Values.nameOverride }}
{{- $name = ternary .Release.Name (printf "%s-%s" .Release.Name $base) (contains $base .Release.Name) }}
{{- end }}
{{- include "oil.boundedName" (list $name 63) }}
{{- end }}

{{/* "<fullname>-<suffix>" within 63 characters: the full name is bounded to leave room for the
suffix, so the suffix survives. Call with (list $ "suffix"). */}}
{{- define "oil.suffixedName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "oil.boundedName" (list (include "oil.fullname" $root) (sub 62 (len $suffix)))) $suffix }}
{{- end }}

{{/*
The StatefulSet's pods carry the label controller-revision-hash "<name>-<hash>" (the hash is up
to 10 characters, FNV-32 in decimal) and statefulset.kubernetes.io/pod-name "<name>-<ordinal>"
(an int32, up to 10 digits); label values are at most 63 characters, so the name is at most 52.
*/}}
{{- define "oil.statefulSetName" -}}
{{- include "oil.boundedName" (list (include "oil.fullname" .) 52) }}
{{- end }}

{{- define "oil.headlessServiceName" -}}
{{- include "oil.suffixedName" (list . "headless") }}
{{- end }}

{{/*
The scripts ConfigMap is named by its content: a mounted ConfigMap's files change under the
running pods when it changes (the kubelet updates the volume), so pods rolled out before a model
was added read the new model list, find the model missing from their store and stay unready
until replaced: a whole service down during a rollout. Each content gets its own ConfigMap, and
a pod reads the one it started with for life. The previous ones are kept (configmap-scripts.yaml
says why): a pod of an earlier revision may still have to be started.
*/}}
{{- define "oil.scriptsConfigMapName" -}}
{{- include "oil.suffixedName" (list . (printf "scripts-%s" (include "oil.scriptsData" . | sha256sum | trunc 10))) }}
{{- end }}

{{- define "oil.testPodName" -}}
{{- include "oil.suffixedName" (list . "test") }}
{{- end }}

{{- define "oil.sharedClaimName" -}}
{{- if .Values.cache.existingClaim }}
{{- .Values.cache.existingClaim }}
{{- else }}
{{- include "oil.suffixedName" (list . "models") }}
{{- end }}
{{- end }}

{{- define "oil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "oil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "oil.tlsSecretName" -}}
{{- default (include "oil.suffixedName" (list . "tls")) .Values.gateway.tls.secretName }}
{{- end }}

{{/*
Names the chart cannot fix: the full name comes from the release name when fullnameOverride is
empty, and a release name may hold dots or start with a digit, which a Service name may not.
*/}}
{{- define "oil.nameMessages" -}}
{{- $messages := list }}
{{- $fullname := include "oil.fullname" . }}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $fullname) }}
{{- $messages = append $messages (dict "value" "fullnameOverride" "message" (printf "the full name %q (from the release name %q) is not a DNS-1035 label, which a Service name must be (lowercase letters, digits and '-', starting with a letter): set fullnameOverride or choose another release name" $fullname .Release.Name)) }}
{{- end }}
{{- toJson $messages }}
{{- end }}
