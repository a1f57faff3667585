"""Kubernetes: what `./photomesh k8s ...` does for the manifests in deploy/.

`edge` renders the Envoy edge's files for the cluster's Service names (kept current by
`gen --check`), `secrets` makes the Secrets of one install, `tools` builds kustomize and
kubeconform, `schemas` vendors the JSON schemas kubeconform validates against, and
`manifests` renders and validates the overlays.
"""
