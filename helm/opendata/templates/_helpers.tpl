{{/* Names and shared pieces of the opendata chart. */}}

{{/*
The release's base name, Helm's usual way: `fullnameOverride`, else the release name when it
already holds the chart's name (`opendata` rather than `opendata-opendata`), else both. Cut to 52
characters, so that with a component (`-governance`, `-incentives`) it stays a 63-character DNS
label.
*/}}
{{- define "opendata.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "opendata.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* A service's URL inside the cluster: https when the gRPC services speak TLS. */}}
{{- define "opendata.url" -}}
{{ if .root.Values.grpcTls.existingSecret }}https{{ else }}http{{ end }}://{{ include "opendata.fullname" .root }}-{{ .service }}:{{ .port }}
{{- end -}}

{{/* The Meilisearch search uses: the bundled server, else `search.meilisearch.url` (empty: none). */}}
{{- define "opendata.meilisearchUrl" -}}
{{- if .Values.meilisearch.enabled -}}
http://{{ include "opendata.fullname" . }}-meilisearch:7700
{{- else -}}
{{ .Values.search.meilisearch.url }}
{{- end -}}
{{- end -}}

{{/* Ports of the components. */}}
{{- define "opendata.port" -}}
{{- get (dict "governance" 50051 "catalog" 50052 "ingestion" 50053 "search" 50054 "incentives" 50055 "edge" 8080) . -}}
{{- end -}}

{{/*
A component's configuration file (TOML), everything but secrets: those come from Secrets as
OPENDATA_* variables, which override the file. Strings are written as JSON strings, which TOML
reads alike.
*/}}
{{- define "opendata.config" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $values := index $root.Values $name -}}
{{- $grpc := ne $name "edge" -}}
{{- $url := dict -}}
{{- range $service := list "governance" "catalog" "ingestion" "search" "incentives" -}}
{{- $_ := set $url $service (include "opendata.url" (dict "root" $root "service" $service "port" (include "opendata.port" $service))) -}}
{{- end -}}
# opendata serve {{ $name }}
listen = {{ printf "0.0.0.0:%s" (include "opendata.port" $name) | toJson }}
drain_secs = {{ $values.drainSeconds | default $root.Values.drainSeconds }}
{{- if $root.Values.metrics.enabled }}
metrics_listen = {{ printf "0.0.0.0:%v" $root.Values.metrics.port | toJson }}
{{- end }}

[telemetry]
log_filter = {{ $root.Values.telemetry.logFilter | toJson }}
log_json = {{ $root.Values.telemetry.logJson }}
{{- with $root.Values.telemetry.otlpEndpoint }}
otlp_endpoint = {{ . | toJson }}
{{- end }}
{{- if has $name (list "governance" "catalog" "ingestion" "incentives") }}

[database]
max_connections = {{ $root.Values.database.maxConnections }}
{{- end }}
{{- if $grpc }}

[nats]
url = {{ $root.Values.nats.url | toJson }}
prefix = {{ $root.Values.nats.prefix | toJson }}
stream_replicas = {{ $root.Values.nats.streamReplicas }}
tls_required = {{ $root.Values.nats.tlsRequired }}
{{- if $root.Values.nats.credentialsSecret }}
credentials_file = "/etc/opendata/nats-credentials/creds"
{{- end }}
{{- if $root.Values.nats.caSecret }}
ca_file = "/etc/opendata/nats-ca/ca.crt"
{{- end }}
{{- if $root.Values.grpcTls.existingSecret }}

[tls]
cert_file = "/etc/opendata/tls/tls.crt"
key_file = "/etc/opendata/tls/tls.key"
{{- end }}
{{- end }}

[{{ $name }}]
{{- if ne $name "governance" }}
governance_url = {{ $url.governance | toJson }}
{{- end }}
{{- if has $name (list "governance" "ingestion" "search" "incentives" "edge") }}
catalog_url = {{ $url.catalog | toJson }}
{{- end }}
{{- if has $name (list "governance" "incentives" "edge") }}
ingestion_url = {{ $url.ingestion | toJson }}
{{- end }}
{{- if ne $name "governance" }}
auth_cache_ttl_secs = {{ $root.Values.authCacheTtlSeconds }}
{{- end }}
{{- if eq $name "governance" }}
retired_public_days = {{ $values.retiredPublicDays }}
stale_grace_percent = {{ $values.staleGracePercent }}
session_lifetime_secs = {{ $values.sessionLifetimeSeconds }}
{{- else if eq $name "catalog" }}
query_timeout_secs = {{ $values.queryTimeoutSeconds }}
token_query_timeout_secs = {{ $values.tokenQueryTimeoutSeconds }}
anonymous_query_timeout_secs = {{ $values.anonymousQueryTimeoutSeconds }}
max_concurrent_queries = {{ $values.maxConcurrentQueries }}
max_concurrent_public_queries = {{ $values.maxConcurrentPublicQueries }}
max_concurrent_anonymous_queries = {{ $values.maxConcurrentAnonymousQueries }}
{{- else if eq $name "ingestion" }}
receive_idle_timeout_secs = {{ $values.receiveIdleTimeoutSeconds }}
uncommitted_expiry_secs = {{ $values.uncommittedExpirySeconds }}
retired_table_grace_secs = {{ $values.retiredTableGraceSeconds }}
max_concurrent_loads = {{ $values.maxConcurrentLoads }}
{{- else if eq $name "search" }}
incentives_url = {{ $url.incentives | toJson }}
incentives_agency_id = {{ $root.Values.incentives.agencyId | toJson }}
{{- $meilisearch := include "opendata.meilisearchUrl" $root }}
{{- if $meilisearch }}

[search.meilisearch]
url = {{ $meilisearch | toJson }}
index_prefix = {{ $values.meilisearch.indexPrefix | toJson }}
{{- end }}
{{- else if eq $name "incentives" }}
agency_id = {{ $values.agencyId | toJson }}
search_url = {{ $url.search | toJson }}

[incentives.dataset]
id = {{ $values.datasetId | toJson }}
sync_interval_secs = {{ $values.datasetSyncIntervalSeconds }}
{{- else if eq $name "edge" }}
search_url = {{ $url.search | toJson }}
incentives_url = {{ $url.incentives | toJson }}
public_url = {{ $values.publicUrl | toJson }}
portal_name = {{ $values.portalName | toJson }}

[edge.rate_limits]
# Behind the ingress every connection comes from it: the client is the address the ingress
# appends to X-Forwarded-For, or every visitor would share one quota.
trust_forwarded_for = {{ $values.ingress.enabled }}
{{- end }}
{{- end -}}
