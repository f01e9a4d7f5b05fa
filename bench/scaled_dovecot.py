"""The test suite's throwaway Dovecot, sized for many accounts and optionally serving TLS.

tests/servers/dovecot.py keeps Dovecot's stock limits (100 processes per service, 10
connections per user and IP), which time out logins long before 1,000 accounts. This subclass
rewrites its config for `clients` simultaneous connections, and with `tls=True` turns on
implicit TLS (an imaps listener, port 993-style) and STARTTLS on the plain port, with a
throwaway self-signed certificate for 127.0.0.1 made with `cryptography`. A client trusts it
through `cert_path` (e.g. SSL_CERT_FILE=<cert_path> for Python's default context).
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from tests.servers.dovecot import Dovecot, free_port

# Login processes in "high-performance" mode (one process serves many logins, and proxies
# TLS for them) instead of one process per connection.
LIMITS = """
default_process_limit = {processes}
default_client_limit = {clients}
default_vsz_limit = 0
mail_max_userip_connections = {per_user}
service imap-login {{
  service_count = 0
  process_min_avail = {login_processes}
  process_limit = {login_processes}
  client_limit = {clients}
}}
service imap {{
  process_limit = {processes}
}}
# auth and anvil serve every login and imap process: Dovecot asks for both limits summed.
service auth {{
  client_limit = {clients2}
}}
service anvil {{
  client_limit = {clients2}
}}
"""

TLS = """ssl = yes
ssl_cert = <{d}/tls/cert.pem
ssl_key = <{d}/tls/key.pem
ssl_min_protocol = TLSv1.2"""


class ScaledDovecot(Dovecot):
    def __init__(self, clients: int = 1000, tls: bool = False, login_processes: int = 0):
        super().__init__()
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.cert_path = os.path.join(self.dir, "tls", "cert.pem")
        with open(self.conf) as f:
            conf = f.read()
        if tls:
            self._write_certificate()
            conf = _replace_once(conf, "ssl = no", TLS.format(d=self.dir))
            conf = _replace_once(
                conf,
                "inet_listener imaps {\n    port = 0",
                f"inet_listener imaps {{\n    port = {self.tls_port}",
            )
        clients = max(clients, 1000)
        conf += LIMITS.format(
            processes=clients + 100,
            clients=clients + 100,
            clients2=2 * (clients + 100) + 10,
            per_user=50,
            login_processes=login_processes or os.cpu_count() or 1,
        )
        with open(self.conf, "w") as f:
            f.write(conf)

    def _write_certificate(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address(self.host)), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        tls_dir = os.path.dirname(self.cert_path)
        os.makedirs(tls_dir)
        key_path = os.path.join(tls_dir, "key.pem")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        if self._as_root:  # Dovecot runs as `nobody` then (see tests/servers/dovecot.py)
            for path in (tls_dir, self.cert_path, key_path):
                os.chown(path, self.uid, self.gid)

    def imap_settings(self, email: str, smtp=None, security: str = "none") -> tuple[dict, str]:
        """As Dovecot.imap_settings, with imap_security none | ssl (the imaps port) | starttls."""
        settings, password = super().imap_settings(email, smtp)
        if security != "none":
            if not self.tls:
                raise ValueError("this Dovecot was started without TLS")
            settings["imap_security"] = security
            settings["imap_port"] = self.tls_port if security == "ssl" else self.port
        return settings, password


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"tests/servers/dovecot.py's config changed: {old!r} not found once")
    return text.replace(old, new)
