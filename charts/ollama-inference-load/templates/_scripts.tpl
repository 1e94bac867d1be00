{{/* Where the lifecycle scripts and model lists are mounted (docs/interfaces.md section 2). */}}
{{- define "oil.configDir" -}}
/opt/ollama-inference-load
{{- end }}

{{/*
Data of the scripts ConfigMap: every file under files/ plus the model lists in the format of
docs/interfaces.md section 2. The pod template's checksum is taken over this, so a script or
model change rolls the pods.
*/}}
{{- define "oil.scriptsData" -}}
{{- $data := dict }}
{{- range $path, $_ := .Files.Glob "files/*" }}
{{- $_ := set $data (base $path) ($.Files.Get $path) }}
{{- end }}
{{- $models := list "# name\tdigest-or-dash\tinsecure\tkind (generate/embed)" }}
{{- range .Values.models }}
{{- $models = append $models (printf "%s\t%s\t%t\t%s" .name (default "-" .digest) (default false .insecure) (ternary "embed" "generate" (default false .embedding))) }}
{{- end }}
{{- $_ := set $data "models.tsv" (printf "%s\n" (join "\n" $models)) }}
{{- $derived := list "# name\tmodelfile" }}
{{- range $index, $model := .Values.derivedModels }}
{{- $file := printf "modelfile-%d" $index }}
{{- $derived = append $derived (printf "%s\t%s" $model.name $file) }}
{{- $_ := set $data $file $model.modelfile }}
{{- end }}
{{- $_ := set $data "derived.tsv" (printf "%s\n" (join "\n" $derived)) }}
{{- toYaml $data }}
{{- end }}
