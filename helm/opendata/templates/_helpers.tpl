{{/* Names and shared pieces of the opendata chart. */}}
{{- define "opendata.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
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
- name: OPENDATA_DRAIN_SECS
  value: {{ .Values.drainSeconds | quote }}
{{- end -}}

{{- define "opendata.natsEnv" -}}
- name: OPENDATA_NATS__URL
  value: {{ .Values.nats.url | quote }}
- name: OPENDATA_NATS__PREFIX
  value: {{ .Values.nats.prefix | quote }}
{{- end -}}

{{- define "opendata.url" -}}
http://{{ include "opendata.fullname" .root }}-{{ .service }}:{{ .port }}
{{- end -}}
