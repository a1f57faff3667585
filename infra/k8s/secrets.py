"""The Secrets of one install, made fresh: `./photomesh k8s secrets | kubectl create -f -`.

No secret is in deploy/ or in an image: the manifests refer to these objects by name and
this command makes their values, once per install (run it again only to rotate, then
restart what reads them). Nothing is written to disk unless `--out` is given.

    photomesh-jwt-signing      auth's Ed25519 private key (signs access tokens)
    photomesh-jwt-public       (a ConfigMap) its public key as PEM and as a JWKS for the edge,
                               and every process's service public key (JSON name -> PEM)
    photomesh-service-keys     one Ed25519 key per process (`<name>.pem`); each Deployment mounts
                               only its own, so a stolen key signs only as its process (its
                               page-token key is derived from it too)
    photomesh-minio            MinIO's root user and password (services and MinIO itself)
    photomesh-minio-upload     the upload key: a MinIO user the media service makes at start-up,
                               allowed PutObject under uploads/ only; it signs upload URLs
    photomesh-redis            Redis's password
    photomesh-nats             the NATS user's password

CQL credentials (`photomesh-cql`: username, password) are optional and not made here: they
exist only once the ScyllaCluster's authenticator is turned on (deploy/README.md).
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.edge import jwks
from infra.services import SERVICES

#: Secret name -> its keys (what the manifests may refer to).
SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "photomesh-jwt-signing": ("jwt_private.pem",),
    "photomesh-service-keys": tuple(f"{name}.pem" for name in SERVICES),
    "photomesh-minio": ("access-key", "secret-key"),
    "photomesh-minio-upload": ("access-key", "secret-key"),
    "photomesh-redis": ("password",),
    "photomesh-nats": ("password",),
}
#: Optional Secrets: referred to with `optional: true`, made by the operator if wanted.
OPTIONAL_SECRET_KEYS: dict[str, tuple[str, ...]] = {"photomesh-cql": ("username", "password")}
PUBLIC_KEY_CONFIGMAP = "photomesh-jwt-public"
#: The key of the services' public keys (JSON name -> PEM) in PUBLIC_KEY_CONFIGMAP.
SERVICE_PUBLIC_KEYS = "service_public_keys.json"


def _key_pair() -> tuple[bytes, bytes]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def _secret(name: str, data: dict[str, bytes | str], namespace: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name,
                                "labels": {"app.kubernetes.io/part-of": "photomesh"}}
    if namespace:
        metadata["namespace"] = namespace
    encoded = {k: base64.b64encode(v.encode() if isinstance(v, str) else v).decode()
               for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata,
            "data": encoded}


def install_objects(namespace: str | None = None) -> list[dict[str, Any]]:
    """Fresh values for every Secret of SECRET_KEYS, and the public key ConfigMap."""
    jwt_private, jwt_public = _key_pair()
    service_pairs = {name: _key_pair() for name in SERVICES}
    # Hex only: the Redis and NATS passwords go into URLs. MinIO keys have the shapes
    # infra/credentials.py makes for a local install.
    values: dict[str, dict[str, bytes | str]] = {
        "photomesh-jwt-signing": {"jwt_private.pem": jwt_private},
        "photomesh-service-keys": {f"{name}.pem": private
                                   for name, (private, _) in service_pairs.items()},
        "photomesh-minio": {"access-key": f"pmroot{secrets.token_hex(7)}",
                            "secret-key": secrets.token_hex(20)},
        "photomesh-minio-upload": {"access-key": f"pmupload{secrets.token_hex(6)}",
                                   "secret-key": secrets.token_hex(20)},
        "photomesh-redis": {"password": secrets.token_hex(24)},
        "photomesh-nats": {"password": secrets.token_hex(24)},
    }
    assert {k: tuple(v) for k, v in values.items()} == SECRET_KEYS
    objects = [_secret(name, data, namespace) for name, data in values.items()]
    metadata: dict[str, Any] = {"name": PUBLIC_KEY_CONFIGMAP,
                                "labels": {"app.kubernetes.io/part-of": "photomesh"}}
    if namespace:
        metadata["namespace"] = namespace
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                    "data": {"jwt_public.pem": jwt_public.decode(),
                             "jwks.json": json.dumps(jwks(jwt_public)),
                             SERVICE_PUBLIC_KEYS: json.dumps(
                                 {name: public.decode()
                                  for name, (_, public) in service_pairs.items()},
                                 indent=1, sort_keys=True)}})
    return objects


def render(namespace: str | None = None) -> str:
    """The objects as one YAML stream."""
    import yaml

    return yaml.safe_dump_all(install_objects(namespace), sort_keys=False)
