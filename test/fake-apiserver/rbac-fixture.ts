/** RBAC as the chart will render it for the bastion: pods read + exec + log in app-a only. */
export const RBAC_YAML = `
apiVersion: v1
kind: Namespace
metadata:
  name: app-a
---
apiVersion: v1
kind: Namespace
metadata:
  name: app-b
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bastion
  namespace: app-a
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: bastion-exec
  namespace: app-a
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["pods/exec"]
    verbs: ["get", "create"]
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bastion-exec
  namespace: app-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: bastion-exec
subjects:
  - kind: ServiceAccount
    name: bastion
    namespace: app-a
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: config-reader
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    resourceNames: ["app-b-config"]
    verbs: ["get"]
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: config-reader
  namespace: app-b
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: config-reader
subjects:
  - kind: ServiceAccount
    name: bastion
    namespace: app-a
  - kind: Group
    name: developers
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: app-b
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get"]
  - apiGroups: [""]
    resources: ["pods/exec"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: pod-reader
  namespace: app-b
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-reader
subjects:
  - kind: ServiceAccount
    name: bastion
    namespace: app-a
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ignored-by-the-rbac-loader
  namespace: app-a
spec: {}
`;
