{{/* Names: <release>-<chart>, shortened to 63 characters (a DNS label). */}}
{{- define "nda.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nda.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nda.bastion.fullname" -}}{{ include "nda.fullname" . }}-bastion{{- end -}}
{{- define "nda.keys.fullname" -}}{{ include "nda.fullname" . }}-keys-service{{- end -}}
{{- define "nda.bootstrap.fullname" -}}{{ include "nda.fullname" . }}-bootstrap{{- end -}}

{{- define "nda.caSecretName" -}}
{{- default (printf "%s-ca" (include "nda.fullname" .)) .Values.keysService.ca.existingSecret -}}
{{- end -}}

{{- define "nda.hostKeySecretName" -}}
{{- default (printf "%s-bastion-host-key" (include "nda.fullname" .)) .Values.bastion.hostKey.existingSecret -}}
{{- end -}}

{{/* True (non-empty) when the pre-install Job has anything to create. */}}
{{- define "nda.bootstrap.needed" -}}
{{- if or (not .Values.keysService.ca.existingSecret) (not .Values.bastion.hostKey.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "nda.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "nda.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: neetodeploy-access
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: bastion, keys-service or bootstrap. */}}
{{- define "nda.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nda.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nda.componentLabels" -}}
{{ include "nda.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nda.image" -}}
{{- $repo := .image.repository -}}
{{- if .root.Values.image.registry -}}{{- $repo = printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $repo -}}{{- end -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "nda.bastion.image" -}}{{ include "nda.image" (dict "root" . "image" .Values.bastion.image) }}{{- end -}}
{{- define "nda.keys.image" -}}{{ include "nda.image" (dict "root" . "image" .Values.keysService.image) }}{{- end -}}

{{- define "nda.bastion.serviceAccountName" -}}{{ include "nda.bastion.fullname" . }}{{- end -}}
{{- define "nda.keys.serviceAccountName" -}}{{ include "nda.keys.fullname" . }}{{- end -}}

{{/* The in-cluster URL the bastion polls for trust (`<url>/api/v1/ca`). */}}
{{- define "nda.keys.internalUrl" -}}
{{- $scheme := ternary "https" "http" .Values.keysService.tls.enabled -}}
{{- printf "%s://%s.%s.svc:%d" $scheme (include "nda.keys.fullname" .) .Release.Namespace (int .Values.keysService.servicePort) -}}
{{- end -}}

{{- define "nda.keys.publicUrl" -}}
{{- if .Values.keysService.publicUrl -}}
{{- .Values.keysService.publicUrl -}}
{{- else if and .Values.keysService.ingress.enabled .Values.keysService.ingress.host -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.keysService.ingress.tls.enabled) .Values.keysService.ingress.host -}}
{{- else -}}
{{- include "nda.keys.internalUrl" . -}}
{{- end -}}
{{- end -}}

{{/* Host certificate principals: the public name and the virtual-host wildcard. */}}
{{- define "nda.bastion.hostPrincipals" -}}
{{- printf "%s,*%s" .Values.bastion.publicName .Values.bastion.virtualHostSuffix -}}
{{- end -}}

{{/* Restricted-profile container security context shared by every container. */}}
{{- define "nda.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "nda.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "nda.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Egress to the cluster DNS and the API server, shared by the NetworkPolicies. */}}
{{- define "nda.egress.dnsAndApi" -}}
- to:
    - namespaceSelector:
        matchLabels: {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 10 }}
      podSelector:
        matchLabels: {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 10 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
- to:
{{- range .Values.networkPolicy.apiServerCidrs }}
    - ipBlock:
        cidr: {{ . }}
{{- end }}
  ports:
{{- range .Values.networkPolicy.apiServerPorts }}
    - protocol: TCP
      port: {{ . }}
{{- end }}
{{- end -}}

{{/* The Kubernetes platform's config (kubernetesPlatformConfigSchema), shared by both servers. */}}
{{/* The app namespaces ConfigMap, its mount folder and the file the servers follow in it. */}}
{{- define "nda.appNamespaces.configMapName" -}}{{ include "nda.fullname" . }}-app-namespaces{{- end -}}
{{- define "nda.appNamespaces.mountPath" -}}/etc/neetodeploy/app-namespaces{{- end -}}
{{- define "nda.appNamespaces.json" -}}
{{- $names := list -}}
{{- range .Values.appNamespaces }}{{ $names = append $names .name }}{{ end -}}
{{- toJson (sortAlpha $names) -}}
{{- end -}}

{{- define "nda.platformConfig" -}}
{{- $p := .Values.platform -}}
{{- /* Listing each app namespace keeps both servers free of cluster-wide rights. The list is a
  file of its own ConfigMap, followed at runtime, not part of this config: adding a namespace
  then changes no config checksum and restarts no bastion (no SSH session is cut). */ -}}
{{- $file := printf "%s/namespaces.json" (include "nda.appNamespaces.mountPath" .) -}}
{{- $namespaces := dict "mode" "per-app" "prefix" $p.namespacePrefix "appNamespacesFile" $file -}}
{{- if eq $p.namespaceMode "shared" -}}
{{- $namespaces = dict "mode" "shared" "namespace" (index .Values.appNamespaces 0).name -}}
{{- end -}}
{{- toJson (dict
  "type" "kubernetes"
  "namespaces" $namespaces
  "configSecretName" $p.configSecretName
  "console" (dict "defaultProcess" $p.console.defaultProcess "activeDeadlineSeconds" (int $p.console.activeDeadlineSeconds))) -}}
{{- end -}}

{{/* Names of the config Secrets in one app namespace: listed, derived (per-app) or none. */}}
{{- define "nda.configSecretNames" -}}
{{- $ns := .ns -}}
{{- $p := .root.Values.platform -}}
{{- if $ns.configSecretNames -}}
{{- toJson $ns.configSecretNames -}}
{{- else if eq $p.namespaceMode "per-app" -}}
{{- toJson (list (replace "{app}" (trimPrefix $p.namespacePrefix $ns.name) $p.configSecretName)) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* The namespace of the keys-service's store (tokens, sessions): never the release namespace. */}}
{{- define "nda.keys.storeNamespace" -}}
{{- default (printf "%s-store" .Release.Namespace | trunc 63 | trimSuffix "-") .Values.keysService.store.namespace -}}
{{- end -}}

{{/* The keys-service's platform: never the orphan reaper (it may not delete pods; the bastion,
which creates console pods, reaps them). */}}
{{- define "nda.keys.platformConfig" -}}
{{- $c := include "nda.platformConfig" . | fromJson -}}
{{- $_ := set $c "reaper" (dict "intervalMs" 0) -}}
{{- toJson $c -}}
{{- end -}}

{{/*
Where session recordings live (the bastion writes, the keys-service reads): the same `store`
block for both, as JSON. Credentials are never here: they come from a Secret as environment.
*/}}
{{- define "nda.recordingStore" -}}
{{- $s := .Values.recording.s3 -}}
{{- $store := dict "kind" "s3" "region" $s.region "bucket" $s.bucket "prefix" $s.prefix "forcePathStyle" $s.forcePathStyle -}}
{{- if $s.endpoint -}}
{{- $_ := set $store "endpoint" $s.endpoint -}}
{{- end -}}
{{- toJson $store -}}
{{- end -}}
