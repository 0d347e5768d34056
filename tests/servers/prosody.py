"""A real XMPP server (Prosody, from Debian) on loopback, for the XMPP channel tests.

STARTTLS with a self-signed certificate made here for "localhost" (clients trust that file),
client-to-server only (no s2s, no HTTP), accounts added with `prosodyctl register`.
The Debian package is installed by `make install-prosody`; this helper only writes a config.
"""

from __future__ import annotations

import datetime
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from navreme import clock
from tests.servers import process

FIRST_PORT = 15222
DOMAIN = "localhost"
MODULES = ("tls", "roster", "saslauth", "disco", "ping", "posix", "offline", "carbons", "smacks")


@dataclass
class Prosody:
    """One running Prosody: its c2s port, the certificate to trust, how to add accounts."""

    port: int
    folder: Path
    config: Path
    certificate: Path
    server: subprocess.Popen[bytes]
    domain: str = DOMAIN

    def register(self, localpart: str, password: str) -> str:
        """Create an account and return its bare JID."""
        subprocess.run(
            [
                "prosodyctl",
                "--config",
                str(self.config),
                "register",
                localpart,
                self.domain,
                password,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return f"{localpart}@{self.domain}"

    def stop(self) -> None:
        process.stop(self.server)


def start_prosody(folder: Path, port: int | None = None) -> Prosody:
    """Write a config into `folder`, start Prosody in the foreground, wait until c2s answers."""
    binary = process.require_binary("prosody")
    process.require_binary("prosodyctl")
    port = port or process.free_port(FIRST_PORT)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    certificate = _write_certificate(folder / "certs")
    config = _write_config(folder, port)
    log = folder / "prosody.out"
    server = process.start([binary, "-F", "--config", str(config)], log)
    prosody = Prosody(port, folder, config, certificate, server)
    try:
        process.wait_until_ready("prosody", lambda: process.port_answers(port), server, log)
    except BaseException:
        prosody.stop()
        raise
    return prosody


def _write_config(folder: Path, port: int) -> Path:
    modules = "; ".join(f'"{module}"' for module in MODULES)
    lua = f"""
pidfile = "{folder}/prosody.pid"
data_path = "{folder}/data"
certificates = "{folder}/certs"
run_as_root = true
log = {{ info = "{folder}/prosody.log"; error = "{folder}/prosody.err" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ {modules} }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
VirtualHost "{DOMAIN}"
"""
    path = folder / "prosody.cfg.lua"
    path.write_text(lua, "utf-8")
    return path


def _write_certificate(folder: Path) -> Path:
    """A self-signed certificate for localhost, where Prosody looks for it (certs/DOMAIN.crt)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = clock.now()  # a certificate valid now, by the one clock
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / f"{DOMAIN}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path = folder / f"{DOMAIN}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path
