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

{{/* Environment of the services that own a database schema. */}}
{{- define "opendata.databaseEnv" -}}
- name: OPENDATA_DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: url
- name: OPENDATA_DATABASE__MAX_CONNECTIONS
  value: {{ .Values.database.maxConnections | quote }}
{{- end -}}

{{/* Environment every service shares. */}}
{{- define "opendata.commonEnv" -}}
- name: OPENDATA_TELEMETRY__LOG_FILTER
  value: {{ .Values.telemetry.logFilter | quote }}
- name: OPENDATA_TELEMETRY__LOG_JSON
  value: {{ .Values.telemetry.logJson | quote }}
{{- if .Values.telemetry.otlpEndpoint }}
- name: OPENDATA_TELEMETRY__OTLP_ENDPOINT
  value: {{ .Values.telemetry.otlpEndpoint | quote }}
{{- end }}
{{- end -}}

{{- define "opendata.natsEnv" -}}
- name: OPENDATA_NATS__URL
  value: {{ .Values.nats.url | quote }}
- name: OPENDATA_NATS__PREFIX
  value: {{ .Values.nats.prefix | quote }}
- name: OPENDATA_NATS__STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
{{- end -}}

{{- define "opendata.url" -}}
http://{{ include "opendata.fullname" .root }}-{{ .service }}:{{ .port }}
{{- end -}}
