"""The self-signed certificate: made once, reused, private key kept private."""

from __future__ import annotations

import hashlib
import ssl
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from nvr.errors import UserError
from nvr.web import tls

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_self_signed_is_created_once_and_reused(tmp_path: Path) -> None:
    first = tls.ensure_self_signed(tmp_path / "tls", ["box.local", "127.0.0.1"], NOW)
    again = tls.ensure_self_signed(tmp_path / "tls", ["other"], NOW)
    assert first == again
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    cert = x509.load_pem_x509_certificate(first.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "box.local" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.not_valid_after_utc > NOW


def test_fingerprint_is_sha256_of_der(tmp_path: Path) -> None:
    files = tls.ensure_self_signed(tmp_path, ["localhost"], NOW)
    der = ssl.PEM_cert_to_DER_cert(files.cert.read_text())
    assert files.fingerprint.replace(":", "").lower() == hashlib.sha256(der).hexdigest()
    assert len(files.fingerprint.split(":")) == 32


def test_owner_files_must_be_pem(tmp_path: Path) -> None:
    bad = tmp_path / "cert.pem"
    bad.write_text("not a certificate")
    with pytest.raises(UserError, match="not a PEM certificate"):
        tls.load_owner_files(bad, bad)
    with pytest.raises(UserError, match="cannot read TLS file"):
        tls.load_owner_files(tmp_path / "missing.pem", tmp_path / "missing.key")
