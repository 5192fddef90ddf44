"""The dashboard's TLS certificate: the owner's own, or a self-signed one made once.

``ensure_self_signed(tls_dir, hostnames, now)`` creates ``cert.pem`` and ``key.pem``
(mode 0600) in ``tls_dir`` on first start and reuses them afterwards, so the fingerprint
the owner noted stays valid. ``fingerprint(cert_pem)`` is the SHA-256 of the DER
certificate as colon-separated hex: the string the log and ``nvr status`` print so the
owner can compare it with what the browser shows.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nvr.errors import UserError

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALIDITY = timedelta(days=825)  # the longest lifetime Apple platforms accept for TLS certs


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    fingerprint: str
    self_signed: bool


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of a PEM certificate, ``AB:CD:...`` as browsers show it."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _san(hostnames: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for name in dict.fromkeys(hostnames):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(names)


def make_self_signed(hostnames: list[str], now: datetime) -> tuple[bytes, bytes]:
    """A new P-256 key and a self-signed server certificate for ``hostnames``: (cert, key) PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Porchlight"),
            x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(_san(hostnames), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def ensure_self_signed(tls_dir: Path, hostnames: list[str], now: datetime) -> TlsFiles:
    """Reuse the certificate in ``tls_dir`` or create one; returns paths and fingerprint."""
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return TlsFiles(cert_path, key_path, fingerprint(cert_path.read_bytes()), True)
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = make_self_signed(hostnames, now)
    _write_private(key_path, key_pem, 0o600)
    _write_private(cert_path, cert_pem, 0o644)
    return TlsFiles(cert_path, key_path, fingerprint(cert_pem), True)


def load_owner_files(cert: Path, key: Path) -> TlsFiles:
    """The owner's own certificate and key, checked to be readable PEM."""
    try:
        cert_pem = cert.read_bytes()
        key.read_bytes()
        fp = fingerprint(cert_pem)
    except OSError as exc:
        raise UserError(f"cannot read TLS file: {exc}") from exc
    except ValueError as exc:
        raise UserError(
            f"{cert}: not a PEM certificate", hint="server.tls.cert must be a PEM file"
        ) from exc
    return TlsFiles(cert, key, fp, False)
