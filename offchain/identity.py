"""An organisation's off-chain identity: its TLS certificate and HPKE key pair.

Keys at rest are PKCS#8 PEM encrypted under the organisation's passphrase
(never stored in a config file). What the organisation publishes on chain is
derived here: the SHA-256 fingerprint of its self-signed certificate (DER) and
its HPKE public key, ML-KEM-768 (1184 bytes) followed by X25519 (32 bytes), for
the post-quantum hybrid suite MLKEM768X25519 of RFC 9180 HPKE.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography.x509.oid import NameOID

from offchain.errors import ConfigError

TLS_KEY_FILE = "tls-key.pem"
TLS_CERT_FILE = "tls-cert.pem"
HPKE_KEY_FILE = "hpke-key.pem"
HPKE_PUBLIC_LEN = 1216
CERT_VALIDITY = datetime.timedelta(days=730)
HPKE_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_FINGERPRINT = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class KeyDecryptionFailed(ConfigError):
    """A key file could not be decrypted: wrong passphrase or a damaged file."""


@dataclass(frozen=True)
class Identity:
    """An organisation's loaded keys (private parts decrypted in memory only)."""

    name: str
    tls_key_pem_path: Path
    tls_cert_path: Path
    tls_fingerprint: bytes
    hpke_private: hpke.MLKEM768X25519PrivateKey
    hpke_public: bytes


def fingerprint_of(cert_pem: bytes) -> bytes:
    """SHA-256 over the DER encoding of a PEM certificate (32 bytes)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256())


def parse_fingerprint(text: str) -> bytes:
    """A fingerprint given as 64 hex digits (optionally 0x-prefixed or colon-separated)."""
    cleaned = text.strip().replace(":", "")
    if not _FINGERPRINT.match(cleaned):
        raise ConfigError(
            f"malformed TLS fingerprint {text!r}: expected the SHA-256 of the certificate "
            "as 64 hexadecimal digits (e.g. from `mpcc org show`)"
        )
    return bytes.fromhex(cleaned.removeprefix("0x"))


def parse_hpke_public(raw: bytes) -> hpke.MLKEM768X25519PublicKey:
    """An HPKE public key from its 1216 published bytes; ``ConfigError`` if malformed."""
    if len(raw) != HPKE_PUBLIC_LEN:
        raise ConfigError(
            f"malformed HPKE public key: {len(raw)} bytes, expected {HPKE_PUBLIC_LEN} "
            "(ML-KEM-768 then X25519)"
        )
    try:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:1184]),
            x25519.X25519PublicKey.from_public_bytes(raw[1184:]),
        )
    except ValueError as err:
        raise ConfigError(f"malformed HPKE public key: {err}") from err


def create(directory: Path, name: str, endpoint: str, passphrase: bytes) -> Identity:
    """Generate TLS and HPKE keys for ``name`` into ``directory`` (refuses to overwrite)."""
    if not passphrase:
        raise ConfigError("an empty passphrase would leave the keys unprotected; set MPCC_PASSPHRASE")
    directory.mkdir(parents=True, exist_ok=True)
    for filename in (TLS_KEY_FILE, TLS_CERT_FILE, HPKE_KEY_FILE):
        if (directory / filename).exists():
            raise ConfigError(f"{directory / filename} exists already; keys are never overwritten")
    encryption = serialization.BestAvailableEncryption(passphrase)
    tls_key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(tls_key, name, endpoint)
    _write_private(directory / TLS_KEY_FILE, tls_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    (directory / TLS_CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ml, xk = mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    pems = [k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            for k in (ml, xk)]
    _write_private(directory / HPKE_KEY_FILE, b"".join(pems))
    return load(directory, name, passphrase)


def load(directory: Path, name: str, passphrase: bytes) -> Identity:
    """Load and decrypt an organisation's keys from ``directory``."""
    cert_pem = _read(directory / TLS_CERT_FILE)
    _decrypt(directory / TLS_KEY_FILE, _read(directory / TLS_KEY_FILE), passphrase)
    blocks = _pem_blocks(_read(directory / HPKE_KEY_FILE))
    if len(blocks) != 2:
        raise ConfigError(f"{directory / HPKE_KEY_FILE} must hold two keys (ML-KEM-768, X25519)")
    ml = _decrypt(directory / HPKE_KEY_FILE, blocks[0], passphrase)
    xk = _decrypt(directory / HPKE_KEY_FILE, blocks[1], passphrase)
    if not isinstance(ml, mlkem.MLKEM768PrivateKey) or not isinstance(xk, x25519.X25519PrivateKey):
        raise ConfigError(f"{directory / HPKE_KEY_FILE} holds keys of the wrong types")
    public = _raw_public(ml.public_key()) + _raw_public(xk.public_key())
    return Identity(name, directory / TLS_KEY_FILE, directory / TLS_CERT_FILE,
                    fingerprint_of(cert_pem), hpke.MLKEM768X25519PrivateKey(ml, xk), public)


def hpke_seal(public_key: bytes, plaintext: bytes, info: bytes) -> bytes:
    """Encrypt ``plaintext`` to a published HPKE key, bound to context ``info``."""
    return HPKE_SUITE.encrypt(plaintext, parse_hpke_public(public_key), info=info)


def hpke_open(identity: Identity, ciphertext: bytes, info: bytes) -> bytes:
    """Decrypt a ciphertext sealed to ``identity``; raises on tampering."""
    return HPKE_SUITE.decrypt(ciphertext, identity.hpke_private, info=info)


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str, endpoint: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + CERT_VALIDITY)
            .add_extension(x509.SubjectAlternativeName(_alt_names(endpoint)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def _alt_names(endpoint: str) -> list[x509.GeneralName]:
    host = endpoint.rsplit(":", 1)[0].strip("[]") if endpoint else "localhost"
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host or "localhost")]


def _raw_public(key: mlkem.MLKEM768PublicKey | x25519.X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _pem_blocks(data: bytes) -> list[bytes]:
    end = b"-----END ENCRYPTED PRIVATE KEY-----"
    return [block.strip() + b"\n" + end + b"\n" for block in data.split(end) if block.strip()]


def _decrypt(path: Path, pem: bytes, passphrase: bytes):  # type: ignore[no-untyped-def]
    try:
        return serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as err:
        raise KeyDecryptionFailed(
            f"cannot decrypt {path}: wrong passphrase or a damaged key file "
            "(the passphrase comes from MPCC_PASSPHRASE or the prompt)"
        ) from err


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path} is missing; create the organisation's keys with `mpcc org init`") from None


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


