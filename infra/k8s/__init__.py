"""Kubernetes: what `./photomesh k8s ...` does for the manifests in deploy/.

`edge` renders the Envoy edge's files for the cluster's Service names (kept current by
`gen --check`), `secrets` makes the Secrets of one install, `schemas` vendors the JSON
schemas kubeconform validates against, `manifests` renders and validates the overlays
(kustomize and kubeconform are built by infra/install.py), and `env_contract` says which
variables each process reads and each container is given (tests/deploy compares them).
"""
