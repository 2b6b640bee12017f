"""Signed checkpoints as text: the C2SP tlog-checkpoint body in a C2SP signed note, Ed25519.

    <origin>
    <tree size>
    <base64 root hash>
    time <ISO 8601 UTC>
    chain <hex hash of the last record (the hash chain's head)>

    — <origin> <base64(key hash[4] || signature[64])>

The signature covers every byte before the blank line. This module needs only a key and text:
the offline verifier uses it without the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_DASH = "\u2014 "


class CheckpointError(Exception):
    """A checkpoint that is malformed or not signed by the key it is checked with."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    at: str
    chain_head: str

    def body(self) -> str:
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {self.at}\nchain {self.chain_head}\n"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    """The signed-note key hash: SHA-256(name || LF || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + raw_public(key)).digest()[:4]


def fingerprint(key: Ed25519PublicKey) -> str:
    """How a report names the key: SHA-256 of its 32 raw bytes, hex."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    body = checkpoint.body()
    signature = key.sign(body.encode())
    blob = base64.b64encode(key_hash(checkpoint.origin, key.public_key()) + signature).decode()
    return f"{body}\n{_DASH}{checkpoint.origin} {blob}\n"


def parse(note: str, key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in `note`, if one of its signature lines is `key`'s and verifies."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise CheckpointError("not a signed note (no blank line before the signatures)")
    lines = body.split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text, *extensions = lines
    try:
        size = int(size_text)
        root = base64.b64decode(root_text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise CheckpointError("the size or the root hash is malformed") from exc
    if size < 0 or str(size) != size_text or len(root) != 32:
        raise CheckpointError("the size or the root hash is malformed")
    fields = dict(line.partition(" ")[::2] for line in extensions)
    expected = key_hash(origin, key)
    for line in signatures.split("\n"):
        if not line.startswith(_DASH):
            continue
        name, _, blob = line[len(_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error:
            continue
        if name != origin or raw[:4] != expected:
            continue
        try:
            key.verify(raw[4:], (body + "\n").encode())
        except InvalidSignature as exc:
            raise CheckpointError("the signature does not verify: the note was altered") from exc
        return Checkpoint(origin, size, root, fields.get("time", ""), fields.get("chain", ""))
    raise CheckpointError(f"not signed by the given key (fingerprint {fingerprint(key)[:16]}…)")


# -- key files ------------------------------------------------------------------------------


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or the PEM private key it belongs to (operators have that one)."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
