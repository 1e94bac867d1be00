{{/*
Where probe-ready.sh keeps its loaders' pid files and last results (OIL_STATE_DIR): under /tmp,
the pod's emptyDir (oil.commonMounts), so it is writable and starts empty with the pod.
*/}}
{{- define "oil.stateDir" -}}
/tmp/ollama-inference-load
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
