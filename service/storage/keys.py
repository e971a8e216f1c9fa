"""API keys for writes. The secret is shown once at creation; only its sha256 is stored.

A key is ``rb_<prefix>_<secret>``: 256 random bits, so a plain (fast) sha256 is a safe
hash; a slow password hash would only add latency to every write. ``prefix`` is public
and names the key in listings and logs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import InvalidField, NotFound
from .models import ApiKey, utcnow

__all__ = ["NewKey", "hash_key", "create_key", "list_keys", "revoke_key", "authenticate"]


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    prefix: str
    secret: str  # the full key: shown once, never stored
    created_at: datetime


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, admin: bool = False) -> NewKey:
    """A new key; ``admin`` keys may cancel any run, others only the runs they created."""
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidField("name must be 1..128 characters saying who or what uses the key", "name")
    prefix = secrets.token_hex(4)
    secret = f"rb_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=hash_key(secret), created_at=utcnow(), admin=admin)
    session.add(key)
    session.flush()
    return NewKey(key.id, key.name, prefix, secret, key.created_at)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, ident: str) -> ApiKey:
    """Revoke by numeric id or by prefix; revoking twice keeps the first revocation time."""
    column = ApiKey.id if ident.isdigit() else ApiKey.prefix
    value: object = int(ident) if ident.isdigit() else ident
    key = session.scalar(sa.select(ApiKey).where(column == value))
    if key is None:
        raise NotFound(f"no API key with id or prefix {ident!r}; see `rebench api-key list`", "key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key matching ``secret``, else None (unknown or revoked)."""
    digest = hash_key(secret)
    key = session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    return key
