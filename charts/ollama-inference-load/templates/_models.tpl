{{/*
Models. The one place that computes load groups (docs/interfaces.md, "Who owns which rule"):
Ollama's scheduler keys loaded runners by the weights file (server/sched.go), so a derived model
and its FROM model share one runner and `ollama ps` lists only the name that loaded it. The chart
renders the groups into groups.tsv for the scripts (probe-ready.sh, test-models.sh), sets
OLLAMA_MAX_LOADED_MODELS from their number (oil.maxLoadedModels) and checks
ollama.maxLoadedModels against it (_validate.tpl). Like _validate.tpl this file reads .Values
only and calls no helper of another file: catalog-gen copies both into its driver chart.
*/}}

{{/*
An Ollama model reference in the form `ollama list` and `ollama ps` print it (types/model/name.go,
DisplayShortest): the tag follows the last ":" after the last "/", then from the right model,
namespace, host (a scheme dropped); defaults registry.ollama.ai, library, latest. The scripts read
the CLI's tables with the same grammar (lib.sh, OIL_AWK_NAMES; tests/scripts/test_load_groups.py
compares the two). Two references name one model when their displays are equal without case.
*/}}
{{- define "oil.modelDisplay" -}}
{{- $name := include "oil.modelParts" . | fromJson }}
{{- if ne (lower $name.host) "registry.ollama.ai" }}
{{- printf "%s/%s/%s:%s" $name.host $name.namespace $name.model $name.tag }}
{{- else if ne (lower $name.namespace) "library" }}
{{- printf "%s/%s:%s" $name.namespace $name.model $name.tag }}
{{- else }}
{{- printf "%s:%s" $name.model $name.tag }}
{{- end }}
{{- end }}

{{/*
Where Ollama stores a reference's manifest (types/model/name.go Filepath: host/namespace/model/tag,
defaults filled, letter case kept). `ollama create` looks a FROM model up there, by exact
spelling (server/model.go parseFromModel), while show and run ignore case.
*/}}
{{- define "oil.modelPath" -}}
{{- $name := include "oil.modelParts" . | fromJson }}
{{- printf "%s/%s/%s/%s" $name.host $name.namespace $name.model $name.tag }}
{{- end }}

{{/*
A reference's parts as JSON {"host", "namespace", "model", "tag"}, defaults filled, case kept.
*/}}
{{- define "oil.modelParts" -}}
{{- $parts := splitList "/" . }}
{{- $model := last $parts }}
{{- $tag := "" }}
{{- if contains ":" $model }}
{{- $tag = regexReplaceAll "^.*:" $model "" }}
{{- $model = regexReplaceAll ":[^:]*$" $model "" }}
{{- end }}
{{- $count := len $parts }}
{{- $namespace := "" }}
{{- if ge $count 2 }}
{{- $namespace = index $parts (sub $count 2) }}
{{- end }}
{{- $host := "" }}
{{- if ge $count 3 }}
{{- $host = join "/" (slice $parts 0 (sub $count 2)) }}
{{- end }}
{{- if contains "://" $host }}
{{- $host = regexReplaceAll "^.*?://" $host "" }}
{{- end }}
{{- $host = default "registry.ollama.ai" $host }}
{{- $namespace = default "library" $namespace }}
{{- $tag = default "latest" $tag }}
{{- toJson (dict "host" $host "namespace" $namespace "model" $model "tag" $tag) }}
{{- end }}

{{/*
A Modelfile as Ollama's parser reads it, as JSON {"from", "unterminated"}: what its FROM command
names, the last one, as that parser keeps it (parser/parser.go: CreateRequest sets From for
every FROM), unquoted as it unquotes, empty when there is none; and whether the text ends inside
a quoted value (the parser then fails: "unexpected EOF"). Read as that parser reads (ParseFile, parseRuneForState, unquote): a command is
a word at the start of a line (leading blanks skipped, `#` a comment), then its value (for
PARAMETER and MESSAGE, after a second word), which runs on over line ends for as long as it opens
with `"""` and does not yet end with `"""`, or opens with one `"` and does not yet end with `"`.
So "From the excerpts below" inside a quoted SYSTEM or MESSAGE text is text, not a FROM.
*/}}
{{- define "oil.modelfileParse" -}}
{{- $from := "" }}
{{- $command := "" }}
{{- $value := "" }}
{{- $open := false }}
{{- /* A lone CR ends a line too; a CRLF stays in a value that runs over it, as it stays there. */}}
{{- range splitList "\n" (regexReplaceAll "\r([^\n]|$)" . "\n${1}") }}
{{- if $open }}
{{- $value = printf "%s\n%s" $value . }}
{{- else }}
{{- $line := regexReplaceAll "^[ \t]+" . "" }}
{{- $command = "" }}
{{- $value = "" }}
{{- if and $line (not (hasPrefix "#" $line)) }}
{{- $command = lower (regexFind "^[A-Za-z]*" $line) }}
{{- $words := ternary "^[A-Za-z]+[ \t]+[A-Za-z0-9_]+[ \t]" "^[A-Za-z]+[ \t]" (has $command (list "parameter" "message")) }}
{{- $value = ternary (regexReplaceAll $words $line "") "" (regexMatch $words $line) }}
{{- end }}
{{- end }}
{{- $text := trim $value }}
{{- $triple := hasPrefix "\"\"\"" $text }}
{{- $open = or (and $triple (not (and (ge (len $text) 6) (hasSuffix "\"\"\"" $text)))) (and (not $triple) (hasPrefix "\"" $text) (not (and (ge (len $text) 2) (hasSuffix "\"" $text)))) }}
{{- if and (not $open) (eq $command "from") }}
{{- $from = $text }}
{{- if $triple }}
{{- $from = trimSuffix "\"\"\"" (trimPrefix "\"\"\"" $from) }}
{{- else if hasPrefix "\"" $from }}
{{- $from = trimSuffix "\"" (trimPrefix "\"" $from) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (dict "from" $from "unterminated" $open) }}
{{- end }}

{{/*
The load groups, as JSON {"groups": [...], "problems": [...]}. A group is {"load": the name to
load, "kind": generate|embed, "insecure": bool, "members": display names, any of which loaded
means the group is}. Every model of `models` roots a group, in order (a name listed twice,
in any spelling, once). A derived model joins the group of the end of its FROM chain; FROM a file
or blob (".", "/", "~" or "@") has weights of its own, so the derived model roots a group. A group
loads its first derived model (what clients call), else its root, with the root model's kind and
insecure flag. "problems" are {"value", "message"} for a Modelfile without FROM, a FROM chain that
loops and one that ends at a model `models` does not list (`ollama create` would pull it itself,
unpinned, unverified, and without the entry's insecure flag); those derived models join no group.
*/}}
{{- define "oil.loadGroups" -}}
{{- $groups := dict }}
{{- $order := list }}
{{- range .Values.models }}
{{- $display := include "oil.modelDisplay" .name }}
{{- $key := lower $display }}
{{- if not (hasKey $groups $key) }}
{{- $_ := set $groups $key (dict "load" "" "root" $display "kind" (ternary "embed" "generate" (default false .embedding)) "insecure" (default false .insecure) "members" (list $display) "names" (list) "paths" (list)) }}
{{- $order = append $order $key }}
{{- end }}
{{- $group := index $groups $key }}
{{- $_ := set $group "names" (append $group.names .name) }}
{{- $_ := set $group "paths" (append $group.paths (include "oil.modelPath" .name)) }}
{{- end }}
{{- $derived := dict }}
{{- $derivedOrder := list }}
{{- $problems := list }}
{{- range .Values.derivedModels }}
{{- $display := include "oil.modelDisplay" .name }}
{{- $key := lower $display }}
{{- $parsed := include "oil.modelfileParse" .modelfile | fromJson }}
{{- $from := $parsed.from }}
{{- if $parsed.unterminated }}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: the modelfile of %s ends inside a quoted value (a \" or \"\"\" never closed): Ollama's parser refuses it (unexpected EOF), so ollama create would fail at every start; close the quote" .name)) }}
{{- else if not $from }}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: the modelfile of %s has no FROM line: start it with FROM and the model it derives from" .name)) }}
{{- else if not (hasKey $derived $key) }}
{{- $entry := dict "display" $display "from" $key "fromDisplay" $display "name" .name "path" (include "oil.modelPath" .name) "fromText" $from "fromPath" "" }}
{{- $self := false }}
{{- if not (or (regexMatch "^[./~]" $from) (contains "@" $from)) }}
{{- $fromDisplay := include "oil.modelDisplay" $from }}
{{- $self = eq (lower $fromDisplay) $key }}
{{- $_ := set $entry "from" (lower $fromDisplay) }}
{{- $_ := set $entry "fromDisplay" $fromDisplay }}
{{- $_ := set $entry "fromPath" (include "oil.modelPath" $from) }}
{{- end }}
{{- if $self }}
{{- /* A file root points at itself too ("from" is its own key): a model name must not. */}}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: %s is built FROM itself: ollama create would pull %s from its registry, unpinned and unverified, and build over it; name the model it derives from" .name $entry.fromDisplay)) }}
{{- else }}
{{- $_ := set $derived $key $entry }}
{{- $derivedOrder = append $derivedOrder $key }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key := $derivedOrder }}
{{- $entry := index $derived $key }}
{{- /* The spellings the FROM model is stored under: those models lists it by, or the derived
model's own name. */}}
{{- $names := list }}
{{- $paths := list }}
{{- if hasKey $derived $entry.from }}
{{- $names = append $names (index $derived $entry.from).name }}
{{- $paths = append $paths (index $derived $entry.from).path }}
{{- end }}
{{- if and (hasKey $groups $entry.from) (index $groups $entry.from).paths }}
{{- $names = concat $names (index $groups $entry.from).names }}
{{- $paths = concat $paths (index $groups $entry.from).paths }}
{{- end }}
{{- if and $entry.fromPath $paths (not (has $entry.fromPath $paths)) }}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: the modelfile of %s says FROM %s, which is %s spelled otherwise: ollama create finds a FROM model by its exact spelling (show and run ignore case), so it would pull %s from its registry itself, unpinned and unverified, or fail; write FROM %s" $entry.name $entry.fromText (first $names) $entry.fromText (first $names))) }}
{{- end }}
{{- $last := $key }}
{{- $root := $entry.from }}
{{- range until (len $derivedOrder) }}
{{- if and (hasKey $derived $root) (ne (index $derived $root).from $root) }}
{{- $last = $root }}
{{- $root = (index $derived $root).from }}
{{- end }}
{{- end }}
{{- if and (hasKey $derived $root) (ne (index $derived $root).from $root) }}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: the FROM chain of %s loops: a derived model must come from a model or a file" $entry.name)) }}
{{- else if not (or (hasKey $groups $root) (hasKey $derived $root)) }}
{{- $problems = append $problems (dict "value" "derivedModels" "message" (printf "derivedModels: the FROM chain of %s ends at %s, which is neither in models nor a derivedModels entry: ollama create would pull it itself, unpinned and unverified; add it to models (with its digest where models are pinned)" $entry.name (index $derived $last).fromDisplay)) }}
{{- else }}
{{- if not (hasKey $groups $root) }}
{{- $rootDisplay := (index $derived $last).fromDisplay }}
{{- if hasKey $derived $root }}
{{- $rootDisplay = (index $derived $root).display }}
{{- end }}
{{- $_ := set $groups $root (dict "load" "" "root" $rootDisplay "kind" "generate" "insecure" false "members" (list $rootDisplay)) }}
{{- $order = append $order $root }}
{{- end }}
{{- $group := index $groups $root }}
{{- if not $group.load }}
{{- $_ := set $group "load" $entry.display }}
{{- end }}
{{- if ne $entry.display $group.root }}
{{- $_ := set $group "members" (append $group.members $entry.display) }}
{{- end }}
{{- end }}
{{- end }}
{{- $list := list }}
{{- range $order }}
{{- $group := index $groups . }}
{{- $list = append $list (dict "load" (default $group.root $group.load) "kind" $group.kind "insecure" $group.insecure "members" $group.members) }}
{{- end }}
{{- toJson (dict "groups" $list "problems" $problems) }}
{{- end }}
