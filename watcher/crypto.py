"""Encryption at rest for refresh tokens and mail passwords.

MultiFernet with the configured keys, newest first: new secrets are encrypted with the first key,
any listed key decrypts. To rotate: put a new key in front of REPLYWATCH_ENCRYPTION_KEYS, run
`python -m watcher db rotate-keys` (re-encrypts every stored secret with the new key), then drop
the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import CryptoError


class SecretBox:
    def __init__(self, keys: tuple[str, ...] | list[str]):
        if not keys:
            raise CryptoError("no encryption key configured (REPLYWATCH_ENCRYPTION_KEYS)")
        try:
            self._fernet = MultiFernet(
                [Fernet(k.encode() if isinstance(k, str) else k) for k in keys]
            )
        except ValueError:
            raise CryptoError("an encryption key is not a valid Fernet key") from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise CryptoError(
                "a stored secret cannot be decrypted with the configured keys; "
                "was the encryption key changed without rotation?"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt with the newest key (keeps the original timestamp)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise CryptoError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from None
