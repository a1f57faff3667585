"""A TLS certificate for the edge, made locally when none is given (development and CI).

`ensure_certificate(directory, host)` writes, once, a self-signed ECDSA P-256 certificate
valid for ``localhost``, ``127.0.0.1`` and the edge's host, with its key (mode 0600); a
client trusts it by taking ``cert.pem`` as its root (``curl --cacert``,
``grpc.ssl_channel_credentials(root_certificates=...)``). In production the certificate
comes from the operator (``PHOTOMESH_EDGE_TLS_CERT_PATH`` / ``_KEY_PATH``, e.g. a
cert-manager Secret), never from here.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

CERT, KEY = "cert.pem", "key.pem"
VALID_DAYS = 365


def _names(host: str) -> list:  # type: ignore[type-arg]
    from cryptography import x509

    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.append(x509.DNSName(host))
    else:
        if not address.is_unspecified and str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return names


def ensure_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """(certificate, key) under `directory`, made if missing or expiring within a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = directory / CERT, directory / KEY
    now = datetime.datetime.now(datetime.UTC)
    if cert_path.exists() and key_path.exists():
        current = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if current.not_valid_after_utc - now > datetime.timedelta(days=1):
            return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "photomesh edge (local)")])
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    tmp_key = directory / f".{KEY}.tmp"
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    tmp_cert = directory / f".{CERT}.tmp"
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)
    return cert_path, key_path
