"""AES-256-GCM under a key with an id: the master storage key wraps month keys, which seal raw
inbound messages at rest (`gateway/store/payload_keys.py`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ConfigurationError

_NONCE = 12


@dataclass(frozen=True, slots=True)
class Sealer:
    key_id: str
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ConfigurationError("the storage key must be 32 bytes (AES-256)")

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """nonce || ciphertext+tag; `aad` binds the ciphertext to its context (key id, hash)."""
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self.key).encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        return AESGCM(self.key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
