{{/*
Rules on values that values.schema.json cannot express: arithmetic across values and counts of
list entries (docs/interfaces.md, "Who owns which rule"). Every other rule on values lives in the
schema. "oil.validationMessages" checks .Values only (no .Capabilities, .Release or helpers from
other files than _models.tpl and _mounts.tpl), so catalog-gen runs this very file and those two
through helm on its effective values; it returns a JSON list of {"value": the value to change, "message": why}.
Reach values only through chains such as .Values.gpu.count: catalog-gen sends helm only the
values those chains end on (check/chart_templates.py read_paths), and a chain read only inside
`if .Values.x` (or `if and` of chains) only for values where x holds: keep a rule that reads
per-service values (hostnames) inside the `if` that enables it, or every service becomes a case
of its own and helm judges each one (chart 0.3.16 to 0.3.19 did). .Values alone, index/get on
.Values, tpl or a bare $ make it send every value of every service (slower), and the root
context . must never be handed whole to anything that walks it (toJson ., $r := .), and values
must never be changed (set, unset or merge on a map reached through .Values: an `if` on a value
set that way reads what catalog-gen left out): the text cannot show that, so catalog-gen would
send too little.
templates/validate.yaml fails with every message at once.
*/}}
{{- define "oil.validationMessages" -}}
{{- $messages := list }}
{{- /* A probe's script waits up to cliTimeoutSeconds for the CLI, then needs a moment to answer;
a probe killed by its own timeout reports nothing useful and, for liveness, restarts the server. */}}
{{- $cliTimeout := int .Values.lifecycle.cliTimeoutSeconds }}
{{- range $probe := list "startup" "readiness" "liveness" }}
{{- $timeout := int (index $.Values.probes $probe).timeoutSeconds }}
{{- if lt $timeout (add $cliTimeout 2) }}
{{- $messages = append $messages (dict "value" (printf "probes.%s.timeoutSeconds lifecycle.cliTimeoutSeconds" $probe) "message" (printf "probes.%s.timeoutSeconds is %d, but the probe script may wait lifecycle.cliTimeoutSeconds=%d for the ollama CLI and needs about 2s more: set probes.%s.timeoutSeconds to at least %d or lower lifecycle.cliTimeoutSeconds" $probe $timeout $cliTimeout $probe (add $cliTimeout 2))) }}
{{- end }}
{{- end }}
{{- /* Load groups (models sharing weights load once): _models.tpl, their one owner. */}}
{{- $loadGroups := include "oil.loadGroups" . | fromJson }}
{{- $groups := len $loadGroups.groups }}
{{- /* A group whose root model has a finite models[].keepAlive is on demand once loaded
(probe-ready.sh): it may be evicted, and Ollama unloads the idle runner with the shortest keep-alive
first (server/sched.go, negative = forever sorts last). So the limit must hold every resident group
plus one slot for the on-demand ones. */}}
{{- $keepAlives := dict }}
{{- range .Values.models }}
{{- if hasKey . "keepAlive" }}
{{- $_ := set $keepAlives (include "oil.modelDisplay" .name | lower) (toString .keepAlive) }}
{{- end }}
{{- end }}
{{- $onDemand := 0 }}
{{- range $loadGroups.groups }}
{{- $keepAlive := get $keepAlives (index .members 0 | toString | lower) }}
{{- if and (ne $keepAlive "") (not (hasPrefix "-" $keepAlive)) }}
{{- $onDemand = add1 $onDemand }}
{{- end }}
{{- end }}
{{- $needed := sub $groups $onDemand }}
{{- if gt $onDemand 0 }}
{{- $needed = add1 $needed }}
{{- end }}
{{- $maxLoaded := int .Values.ollama.maxLoadedModels }}
{{- if and (gt $maxLoaded 0) (lt $maxLoaded $needed) (eq $onDemand 0) }}
{{- $messages = append $messages (dict "value" "ollama.maxLoadedModels models" "message" (printf "ollama.maxLoadedModels is %d but the models form %d load groups (a derived model shares its FROM model's group): they would evict each other and a pod is ready only when every model is loaded: raise ollama.maxLoadedModels to %d or leave it 0" $maxLoaded $groups $groups)) }}
{{- else if and (gt $maxLoaded 0) (lt $maxLoaded $needed) }}
{{- $messages = append $messages (dict "value" "ollama.maxLoadedModels models" "message" (printf "ollama.maxLoadedModels is %d but the models form %d load groups, %d of them resident (no finite models[].keepAlive of their own): the resident ones and one on-demand model must fit: raise ollama.maxLoadedModels to %d, or give more models a finite keepAlive" $maxLoaded $groups (sub $groups $onDemand) $needed)) }}
{{- end }}
{{- /* A rolling update must be able to start a pod (maxSurge) or stop one (maxUnavailable). With
GPUs an empty maxSurge is what updateStrategy.gpuSurge spare GPUs hold (templates/_rollout.tpl). */}}
{{- $rollout := .Values.updateStrategy }}
{{- $zero := "^0+%?$" }}
{{- $surge := toString $rollout.maxSurge }}
{{- if and (eq $surge "") (gt (int .Values.gpu.count) 0) }}
{{- $surge = toString (div (int $rollout.gpuSurge) (int .Values.gpu.count)) }}
{{- end }}
{{- if and (regexMatch $zero (toString $rollout.maxUnavailable)) (regexMatch $zero $surge) }}
{{- $messages = append $messages (dict "value" "updateStrategy.maxUnavailable updateStrategy.maxSurge" "message" (printf "updateStrategy.maxUnavailable is 0 and maxSurge is 0 (gpu.count=%d, updateStrategy.gpuSurge=%d spare GPUs): a rolling update could neither start a new pod nor stop an old one. Leave updateStrategy.maxUnavailable empty (one pod at a time), or set updateStrategy.gpuSurge to at least gpu.count if the GPU pool has that many spare GPUs" (int .Values.gpu.count) (int $rollout.gpuSurge))) }}
{{- end }}
{{- range $loadGroups.problems }}
{{- $messages = append $messages . }}
{{- end }}
{{- /* Names compare as Ollama resolves them: phi, PHI and phi:latest are one model. */}}
{{- $names := list }}
{{- range .Values.models }}
{{- $key := include "oil.modelDisplay" .name | lower }}
{{- if has $key $names }}
{{- $messages = append $messages (dict "value" "models" "message" (printf "models: %s is listed twice: remove the duplicate" .name)) }}
{{- end }}
{{- $names = append $names $key }}
{{- end }}
{{- /* One manifest under two names (llama3.2:latest and llama3.2:3b) is one set of weights:
Ollama runs one runner for it (server/sched.go keys runners by the weights file) and `ollama ps`
lists only the name that loaded it, so readiness, which waits for every name, would never hold.
pull-models.sh refuses the same for unpinned models, once they are on disk. */}}
{{- $pinned := dict }}
{{- range .Values.models }}
{{- $digest := toString (.digest | default "") }}
{{- if and $digest (hasKey $pinned $digest) }}
{{- $messages = append $messages (dict "value" "models" "message" (printf "models: %s and %s are pinned to one digest (%s), so they are one model under two names: Ollama loads it once and ollama ps lists one name, so the pod would never be Ready. List it once" (get $pinned $digest) .name $digest)) }}
{{- else if $digest }}
{{- $_ := set $pinned $digest .name }}
{{- end }}
{{- end }}
{{- range .Values.derivedModels }}
{{- $key := include "oil.modelDisplay" .name | lower }}
{{- if has $key $names }}
{{- $messages = append $messages (dict "value" "derivedModels" "message" (printf "derivedModels: %s is defined twice (models and derivedModels share one name space): rename one" .name)) }}
{{- end }}
{{- $names = append $names $key }}
{{- end }}
{{- /* Ollama's Modelfile parser keeps only printable characters (parser/parser.go: strconv.IsPrint:
letters, marks, numbers, punctuation, symbols and the ASCII space), plus the newlines and tabs
inside a value; it drops any other silently (a no-break or ideographic space, a zero-width
joiner, a C1 control), so the model would not get the text written. The C0 controls are the
schema's (values.schema.json derivedModels[].modelfile). %q shows each as Go escapes it. */}}
{{- range $index, $derived := .Values.derivedModels }}
{{- $modelfile := toString $derived.modelfile }}
{{- /* Printable ASCII first: a small pattern, where the Unicode classes cost every render (and
catalog-gen's checks) a compilation per derived model. */}}
{{- $dropped := list }}
{{- if not (regexMatch "^[ -~\\t\\n\\r]*$" $modelfile) }}
{{- $dropped = regexFindAll "[^\\p{L}\\p{M}\\p{N}\\p{P}\\p{S} \\t\\n\\r\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]" $modelfile -1 | uniq }}
{{- end }}
{{- if $dropped }}
{{- $shown := list }}
{{- range $dropped }}
{{- $shown = append $shown (printf "%q" .) }}
{{- end }}
{{- $messages = append $messages (dict "value" "derivedModels" "message" (printf "derivedModels[%d] (%s): its modelfile holds %s, which Ollama's Modelfile parser drops silently (it keeps printable characters, newlines and tabs only), so the model would not get the text written: use a plain space, or remove it" $index $derived.name (join ", " $shown))) }}
{{- end }}
{{- end }}
{{- $autoscaling := .Values.autoscaling }}
{{- if and $autoscaling.enabled (lt (int $autoscaling.maxReplicas) (int $autoscaling.minReplicas)) }}
{{- $messages = append $messages (dict "value" "autoscaling.maxReplicas autoscaling.minReplicas" "message" (printf "autoscaling.maxReplicas is %d but autoscaling.minReplicas is %d: raise autoscaling.maxReplicas to at least %d or lower autoscaling.minReplicas" (int $autoscaling.maxReplicas) (int $autoscaling.minReplicas) (int $autoscaling.minReplicas))) }}
{{- end }}
{{- /* With keda-http and scale to zero, the route's timeouts grow by the cold start (budget +
margin, templates/_autoscaling.tpl); a Gateway API duration holds at most 99999h. */}}
{{- if and $autoscaling.enabled (eq $autoscaling.engine "keda-http") $autoscaling.scaleToZero.enabled }}
{{- $coldStart := add (int64 .Values.startup.budgetSeconds) (int64 .Values.startup.progressMarginSeconds) }}
{{- range $field := list "request" "backendRequest" }}
{{- $ms := include "oil.gatewayDurationMs" (index $.Values.httpRoute.timeouts $field) | int64 }}
{{- if and (gt $ms 0) (gt (add $ms (mul $coldStart 1000)) (mul 99999 3600000)) }}
{{- $messages = append $messages (dict "value" (printf "httpRoute.timeouts.%s startup.budgetSeconds" $field) "message" (printf "httpRoute.timeouts.%s plus the cold start (startup.budgetSeconds + startup.progressMarginSeconds = %ds), which autoscaling.scaleToZero adds behind the KEDA HTTP interceptor, exceeds the Gateway API's longest duration (99999h): lower startup.budgetSeconds or httpRoute.timeouts.%s" $field $coldStart $field)) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* The Gateway API's HTTPRoute CRD refuses a backendRequest timeout longer than the request
timeout, unless request is zero, which means no timeout (its rule: !(has(self.request) &&
has(self.backendRequest) && duration(self.request) != duration('0s') &&
duration(self.backendRequest) > duration(self.request))); an empty value leaves the field out.
Behind the KEDA HTTP interceptor both grow by the same cold start and a zero one stays zero
(oil.routeTimeout), so comparing the values compares what the route renders. */}}
{{- $timeouts := .Values.httpRoute.timeouts }}
{{- if and .Values.httpRoute.enabled $timeouts.request $timeouts.backendRequest }}
{{- $requestMs := include "oil.gatewayDurationMs" $timeouts.request | int64 }}
{{- $backendMs := include "oil.gatewayDurationMs" $timeouts.backendRequest | int64 }}
{{- if and (gt $requestMs 0) (gt $backendMs $requestMs) }}
{{- $messages = append $messages (dict "value" "httpRoute.timeouts.backendRequest httpRoute.timeouts.request" "message" (printf "httpRoute.timeouts.backendRequest is %s but httpRoute.timeouts.request is %s: the Gateway API refuses an HTTPRoute whose backendRequest timeout is longer than its request timeout (a request timeout of 0s, none, allows any). Lower httpRoute.timeouts.backendRequest to at most %s, raise httpRoute.timeouts.request, or leave httpRoute.timeouts.backendRequest empty" $timeouts.backendRequest $timeouts.request $timeouts.request)) }}
{{- end }}
{{- end }}
{{- /* The API server refuses a pod whose volumes share a name, whose mounts name a volume it does
not have, or whose container mounts two volumes at one path (every container here mounts the
chart's volumes, _mounts.tpl, and extraVolumeMounts). */}}
{{- /* The API server refuses a sysctl named twice, and two spread constraints with one topologyKey
and whenUnsatisfiable. */}}
{{- $sysctls := list }}
{{- range $index, $sysctl := .Values.podSecurityContext.sysctls }}
{{- if has $sysctl.name $sysctls }}
{{- $messages = append $messages (dict "value" "podSecurityContext.sysctls" "message" (printf "podSecurityContext.sysctls[%d] sets %s again: a pod sets each sysctl once, remove one" $index $sysctl.name)) }}
{{- end }}
{{- $sysctls = append $sysctls $sysctl.name }}
{{- end }}
{{- $spreads := list }}
{{- range $index, $spread := .Values.topologySpreadConstraints }}
{{- $key := printf "%s, %s" $spread.topologyKey $spread.whenUnsatisfiable }}
{{- if has $key $spreads }}
{{- $messages = append $messages (dict "value" "topologySpreadConstraints" "message" (printf "topologySpreadConstraints[%d] repeats topologyKey and whenUnsatisfiable (%s) of an earlier one: the API server allows one constraint per pair, merge them" $index $key)) }}
{{- end }}
{{- $spreads = append $spreads $key }}
{{- end }}
{{- /* The HTTPRoute CRD (a CEL rule) refuses two parentRefs to one parent unless each names its
own sectionName. */}}
{{- $parents := dict }}
{{- range $index, $parent := .Values.httpRoute.parentRefs }}
{{- $key := printf "%s/%s" ($parent.namespace | default "") $parent.name }}
{{- $_ := set $parents $key (append (get $parents $key | default list) (toString ($parent.sectionName | default ""))) }}
{{- end }}
{{- range $key := keys $parents | sortAlpha }}
{{- $sections := get $parents $key }}
{{- if and (gt (len $sections) 1) (or (has "" $sections) (ne (len $sections) (len (uniq $sections)))) }}
{{- $messages = append $messages (dict "value" "httpRoute.parentRefs" "message" (printf "httpRoute.parentRefs names the parent %s %d times: the Gateway API refuses that unless each names a different sectionName (a listener); name one sectionName each, or keep one" $key (len $sections))) }}
{{- end }}
{{- end }}
{{- $chartMounts := include "oil.chartMounts" . | fromJson }}
{{- $volumes := keys $chartMounts | sortAlpha }}
{{- range $index, $volume := .Values.extraVolumes }}
{{- if has $volume.name $volumes }}
{{- $what := ternary "the chart's own volume" "an earlier extra volume" (hasKey $chartMounts $volume.name) }}
{{- $messages = append $messages (dict "value" "extraVolumes" "message" (printf "extraVolumes[%d] is named %q, the name of %s (the chart's are %s): a pod's volumes need unique names, rename it" $index $volume.name $what (keys $chartMounts | sortAlpha | join ", "))) }}
{{- end }}
{{- $volumes = append $volumes $volume.name }}
{{- end }}
{{- /* Paths compared as the runtime mounts them (path.Clean): /models/, //models and /models/.
are /models, where the API server, comparing text, lets two volumes meet. */}}
{{- $paths := dict }}
{{- range $name := keys $chartMounts | sortAlpha }}
{{- $_ := set $paths (clean (get $chartMounts $name)) (printf "the chart's %s volume" $name) }}
{{- end }}
{{- range $index, $mount := .Values.extraVolumeMounts }}
{{- if not (has $mount.name $volumes) }}
{{- $messages = append $messages (dict "value" "extraVolumeMounts" "message" (printf "extraVolumeMounts[%d] mounts volume %q, which the pod does not have: add it to extraVolumes, or mount one of %s" $index $mount.name (join ", " $volumes))) }}
{{- end }}
{{- if hasKey $paths (clean $mount.mountPath) }}
{{- $messages = append $messages (dict "value" "extraVolumeMounts" "message" (printf "extraVolumeMounts[%d] mounts at %s, where %s is mounted already: a container mounts one volume at a path, choose another mountPath" $index $mount.mountPath (get $paths (clean $mount.mountPath)))) }}
{{- end }}
{{- /* A mount inside the scripts volume replaces what the init container and the probes run
and read (a models list of the mount's own, unpinned); one inside the model store puts files
there that the pull takes as downloaded. */}}
{{- $what := dict "scripts" "the scripts and model lists the init container and the probes run and read" "models" "the model store's files, which a pull takes as downloaded" }}
{{- range $name := list "scripts" "models" }}
{{- $inside := clean (get $chartMounts $name) }}
{{- if include "oil.inside" (list $inside $mount.mountPath) }}
{{- $messages = append $messages (dict "value" "extraVolumeMounts" "message" (printf "extraVolumeMounts[%d] mounts at %s, inside the chart's %s volume (%s): it would replace %s; choose a mountPath outside it" $index $mount.mountPath $name $inside (get $what $name))) }}
{{- end }}
{{- end }}
{{- $_ := set $paths (clean $mount.mountPath) (printf "extraVolumeMounts[%d]" $index) }}
{{- end }}
{{- $scripts := clean (get $chartMounts "scripts") }}
{{- $owners := dict "home" "homeDir" "models" "cache.mountPath" }}
{{- range $name := list "home" "models" }}
{{- $path := clean (get $chartMounts $name) }}
{{- if or (include "oil.inside" (list $scripts $path)) (include "oil.inside" (list $path $scripts)) }}
{{- $messages = append $messages (dict "value" (get $owners $name) "message" (printf "the chart's %s volume (%s) and its scripts volume (%s) would be mounted one inside the other (the scripts replaced, or the store's files mixed with them): set %s apart from %s" $name $path $scripts (get $owners $name) $scripts)) }}
{{- end }}
{{- end }}
{{- $seen := dict }}
{{- range $name := keys $chartMounts | sortAlpha }}
{{- $path := clean (get $chartMounts $name) }}
{{- if hasKey $seen $path }}
{{- /* catalog-gen places the message at whichever of the values named the leaf sets */}}
{{- $owners := dict "home" "homeDir" "models" "cache.mountPath" }}
{{- $value := list (get $owners (get $seen $path)) (get $owners $name) | compact | join " " }}
{{- $messages = append $messages (dict "value" $value "message" (printf "the chart's %s and %s volumes would both be mounted at %s: set homeDir and cache.mountPath apart from each other, from /tmp and from %s" (get $seen $path) $name $path (get $chartMounts "scripts"))) }}
{{- end }}
{{- $_ := set $seen $path $name }}
{{- end }}
{{- /* The KEDA HTTP add-on counts requests in window / granularity buckets of whole seconds
(pkg/queue/bucketing.go): the schema keeps both whole; here the window holds at least one bucket
and at most 3600 (each route's buckets are the scaler's memory). Empty: its 1m and 1s. */}}
{{- $window := .Values.autoscaling.kedaHttp.requestRate.window | default "1m" }}
{{- $granularity := .Values.autoscaling.kedaHttp.requestRate.granularity | default "1s" }}
{{- $windowMs := include "oil.gatewayDurationMs" $window | int64 }}
{{- $granularityMs := include "oil.gatewayDurationMs" $granularity | int64 }}
{{- if and (gt $granularityMs 0) (or (lt $windowMs $granularityMs) (gt (div $windowMs $granularityMs) 3600)) }}
{{- $messages = append $messages (dict "value" "autoscaling.kedaHttp.requestRate.window autoscaling.kedaHttp.requestRate.granularity" "message" (printf "autoscaling.kedaHttp.requestRate.window is %s and granularity %s: the window must hold at least one and at most 3600 granularities (the add-on keeps a counter per granularity of each route)" $window $granularity)) }}
{{- end }}
{{- /* Clients of a LoadBalancer or NodePort Service skip the interceptor, so KEDA sees no request
and scales the service to zero while it is in use (an Ingress is refused for the same reason). */}}
{{- if and .Values.autoscaling.enabled (eq .Values.autoscaling.engine "keda-http") (ne .Values.service.type "ClusterIP") }}
{{- $messages = append $messages (dict "value" "service.type" "message" (printf "service.type is %s, but with autoscaling.engine=keda-http requests must go through the interceptor (the HTTPRoute), or KEDA counts none and scales the service to zero while it is in use: use ClusterIP" .Values.service.type)) }}
{{- end }}
{{- /* The chart's own Gateway listens for one hostname (gateway.tls.hostname, else the first
httpRoute hostname): Gateway API ignores a route hostname that does not intersect it (the
HTTPRoute CRD's hostnames: equal, or a `*.` label on either side read as a suffix match, so a
route's *.example.com takes a listener's a.example.com, and the other way round). */}}
{{- if .Values.gateway.enabled }}
{{- $listener := .Values.gateway.tls.hostname | default (first (.Values.httpRoute.hostnames | default (list ""))) }}
{{- range $hostname := .Values.httpRoute.hostnames }}
{{- $matches := eq $hostname $listener }}
{{- if and (not $matches) (hasPrefix "*." $listener) }}
{{- $matches = hasSuffix (trimPrefix "*" $listener) $hostname }}
{{- end }}
{{- if and (not $matches) (hasPrefix "*." $hostname) }}
{{- $matches = hasSuffix (trimPrefix "*" $hostname) $listener }}
{{- end }}
{{- if and $listener (not $matches) }}
{{- $messages = append $messages (dict "value" "httpRoute.hostnames gateway.tls.hostname" "message" (printf "httpRoute.hostnames has %s, but the chart's Gateway (gateway.enabled) listens for %s only: Gateway API ignores a route hostname its listener does not match, so it would get no traffic and no certificate; list one hostname, set gateway.tls.hostname to a wildcard covering them, or attach to a shared Gateway (httpRoute.parentRefs)" $hostname $listener)) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* cert-manager's webhook refuses a Certificate whose duration is under 1h, whose renewBefore
is under 5m, or whose renewBefore is not under its duration (its default 90 days):
ValidateDuration, MinimumCertificateDuration and MinimumRenewBefore; Argo CD's sync then fails. */}}
{{- if and .Values.gateway.enabled .Values.gateway.tls.enabled .Values.gateway.tls.certificate.enabled }}
{{- $durationMs := 7776000000.0 }}
{{- if .Values.gateway.tls.certificate.duration }}
{{- $durationMs = include "oil.goDurationMs" .Values.gateway.tls.certificate.duration | float64 }}
{{- if lt $durationMs 3600000.0 }}
{{- $messages = append $messages (dict "value" "gateway.tls.certificate.duration" "message" (printf "gateway.tls.certificate.duration is %s: cert-manager refuses a certificate shorter than 1h" .Values.gateway.tls.certificate.duration)) }}
{{- end }}
{{- end }}
{{- if .Values.gateway.tls.certificate.renewBefore }}
{{- $renewMs := include "oil.goDurationMs" .Values.gateway.tls.certificate.renewBefore | float64 }}
{{- if lt $renewMs 300000.0 }}
{{- $messages = append $messages (dict "value" "gateway.tls.certificate.renewBefore" "message" (printf "gateway.tls.certificate.renewBefore is %s: cert-manager refuses one under 5m" .Values.gateway.tls.certificate.renewBefore)) }}
{{- else if ge $renewMs $durationMs }}
{{- $messages = append $messages (dict "value" "gateway.tls.certificate.renewBefore gateway.tls.certificate.duration" "message" (printf "gateway.tls.certificate.renewBefore is %s, not less than the certificate's duration (%s): cert-manager refuses it; lower it or lengthen gateway.tls.certificate.duration" .Values.gateway.tls.certificate.renewBefore (.Values.gateway.tls.certificate.duration | default "2160h, cert-manager's default"))) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $messages }}
{{- end }}

{{/*
Milliseconds of a Gateway API duration (1 to 4 parts of h, m, s or ms, ^([0-9]{1,5}(h|m|s|ms)){1,4}$
as the schema and the CRDs check it; empty is 0). Here, not in _autoscaling.tpl (which uses it
too), because catalog-gen runs this file's rules on their own.
*/}}
{{- define "oil.gatewayDurationMs" -}}
{{- $total := 0 }}
{{- range $part := regexFindAll "[0-9]+(ms|h|m|s)" (toString .) -1 }}
{{- $unit := regexFind "(ms|h|m|s)$" $part }}
{{- $number := int64 (trimSuffix $unit $part) }}
{{- $total = add $total (mul $number (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
Milliseconds of a Go duration (time.ParseDuration's units, fractions allowed: 1.5h, 90m, 300ms),
as a float: the schema keeps the text to ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$.
*/}}
{{- define "oil.goDurationMs" -}}
{{- $total := 0.0 }}
{{- $units := dict "ns" 0.000001 "us" 0.001 "µs" 0.001 "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0 }}
{{- range $part := regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" (toString .) -1 }}
{{- $unit := regexFind "(ns|us|µs|ms|s|m|h)$" $part }}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit $part)) (get $units $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/* Fails with every message of "oil.validationMessages" and "oil.nameMessages", one a line. */}}
{{- define "oil.validate" -}}
{{- $messages := concat (include "oil.validationMessages" . | fromJsonArray) (include "oil.nameMessages" . | fromJsonArray) }}
{{- if $messages }}
{{- $lines := list (printf "%d chart value(s) to change:" (len $messages)) }}
{{- range $messages }}
{{- $lines = append $lines (printf "- %s" .message) }}
{{- end }}
{{- fail (join "\n" $lines) }}
{{- end }}
{{- end }}
