{{/* Names and labels, the usual shape. */}}
{{- define "incident-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "incident-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "incident-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incident-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "incident-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "incident-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: incident-operator
{{- end -}}

{{- define "incident-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "incident-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "incident-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The Secret-backed files: a list of {flag, name, key, file} for every configured secret.
They are mounted through one projected volume at /etc/incident-operator/secrets.
*/}}
{{- define "incident-operator.secretFiles" -}}
{{- $files := list -}}
{{- with .Values.alertmanager.tokenSecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "alertmanager-token-file" "name" .name "key" .key "file" "alertmanager-token") -}}{{- end -}}{{- end -}}
{{- with .Values.slack.tokenSecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "slack-token-file" "name" .name "key" .key "file" "slack-token") -}}{{- end -}}{{- end -}}
{{- with .Values.slack.signingSecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "slack-signing-secret-file" "name" .name "key" .key "file" "slack-signing-secret") -}}{{- end -}}{{- end -}}
{{- with .Values.pagerduty.routingKeySecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "pagerduty-routing-key-file" "name" .name "key" .key "file" "pagerduty-routing-key") -}}{{- end -}}{{- end -}}
{{- with .Values.teams.webhookUrlSecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "teams-webhook-url-file" "name" .name "key" .key "file" "teams-webhook-url") -}}{{- end -}}{{- end -}}
{{- with .Values.webhook.secret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "webhook-secret-file" "name" .name "key" .key "file" "webhook-secret") -}}{{- end -}}{{- end -}}
{{- if .Values.subscriptions.enabled -}}
{{- with .Values.subscriptions.keySecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "subscriptions-key-file" "name" .name "key" .key "file" "subscriptions-key") -}}{{- end -}}{{- end -}}
{{- with .Values.subscriptions.smtp.passwordSecret -}}{{- if .name -}}{{- $files = append $files (dict "flag" "smtp-password-file" "name" .name "key" .key "file" "smtp-password") -}}{{- end -}}{{- end -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{- define "incident-operator.statusPageUrl" -}}
{{- if .Values.statusPage.externalURL -}}
{{- .Values.statusPage.externalURL -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s/status" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) .Values.ingress.host -}}
{{- end -}}
{{- end -}}
