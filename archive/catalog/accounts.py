"""Named accounts with a role, their API tokens and their web sessions.

Secrets are never stored: a token or a session id is kept as its SHA-256 (both are 256
random bits, so a fast hash is enough), a password as scrypt with a salt of its own. A
token is shown once, when it is issued, and looks like ``onr_<id>_<secret>``: the id
names it in lists and revocations, the secret proves it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.catalog.base import Queries
from archive.catalog.engine import CatalogError
from archive.catalog.rows import from_text, to_text

ROLES = ("reader", "editor", "admin")
TOKEN_PREFIX = "onr_"
SESSION_DAYS = 14
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(CatalogError):
    """A user or token that does not exist, or cannot be made as asked."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None
    has_password: bool = False

    def can(self, role: str) -> bool:
        """True when this user's role includes ``role`` (admin > editor > reader)."""
        return self.revoked_at is None and ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Token:
    id: str
    user_name: str
    created_at: datetime
    revoked_at: datetime | None


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str | None) -> bool:
    if not stored or stored.count("$") != 2:
        return False
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


def _user(row) -> User:
    return User(
        name=row["name"],
        role=row["role"],
        created_at=from_text(row["created_at"]),
        revoked_at=from_text(row["revoked_at"]),
        has_password=bool(row["password_hash"]),
    )


class AccountQueries(Queries):
    def add_user(self, name: str, role: str, password: str | None = None) -> User:
        name = name.strip()
        if not name or len(name) > 64 or any(c.isspace() for c in name):
            raise AccountError("a user name is 1 to 64 characters without spaces")
        if role not in ROLES:
            raise AccountError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
        if self._value("SELECT 1 FROM users WHERE name = :name", name=name):
            raise AccountError(f"there is already a user named {name}")
        now = datetime.now(UTC)
        self._run(
            "INSERT INTO users (name, role, password_hash, created_at)"
            " VALUES (:name, :role, :password, :now)",
            name=name,
            role=role,
            password=hash_password(password) if password else None,
            now=to_text(now),
        )
        return User(name, role, now, None, bool(password))

    def user(self, name: str) -> User | None:
        row = self._one("SELECT * FROM users WHERE name = :name", name=name)
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(row) for row in self._rows("SELECT * FROM users ORDER BY name")]

    def issue_token(self, name: str) -> str:
        """A new API token for a user: the whole token, which only this call shows."""
        user = self.user(name)
        if user is None or user.revoked_at is not None:
            raise AccountError(f"no active user named {name}")
        token_id = secrets.token_hex(4)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        self._run(
            "INSERT INTO api_tokens (id, user_name, secret_hash, created_at)"
            " VALUES (:id, :name, :hash, :now)",
            id=token_id,
            name=name,
            hash=secret_hash(token),
            now=to_text(datetime.now(UTC)),
        )
        return token

    def tokens(self, name: str | None = None) -> list[Token]:
        if name is None:
            rows = self._rows("SELECT * FROM api_tokens ORDER BY created_at, id")
        else:
            rows = self._rows(
                "SELECT * FROM api_tokens WHERE user_name = :name ORDER BY created_at, id",
                name=name,
            )
        return [
            Token(r["id"], r["user_name"], from_text(r["created_at"]), from_text(r["revoked_at"]))
            for r in rows
        ]

    def user_of_token(self, token: str) -> User | None:
        """The active user a token belongs to; None for an unknown or revoked token."""
        row = self._one(
            "SELECT u.* FROM api_tokens t JOIN users u ON u.name = t.user_name"
            " WHERE t.secret_hash = :hash AND t.revoked_at IS NULL AND u.revoked_at IS NULL",
            hash=secret_hash(token),
        )
        return _user(row) if row else None

    def revoke_token(self, token_id: str) -> None:
        found = self._run(
            "UPDATE api_tokens SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
            id=token_id,
            now=to_text(datetime.now(UTC)),
        )
        if found.rowcount != 1:
            raise AccountError(f"no active token {token_id}")

    def revoke_user(self, name: str) -> None:
        """Revoke a user: every token and session of theirs stops working at once."""
        now = to_text(datetime.now(UTC))
        with self.transaction():
            found = self._run(
                "UPDATE users SET revoked_at = :now WHERE name = :name AND revoked_at IS NULL",
                name=name,
                now=now,
            )
            if found.rowcount != 1:
                raise AccountError(f"no active user named {name}")
            self._run(
                "UPDATE api_tokens SET revoked_at = :now"
                " WHERE user_name = :name AND revoked_at IS NULL",
                name=name,
                now=now,
            )
            self._run("DELETE FROM web_sessions WHERE user_name = :name", name=name)

    def sign_in(self, name: str, password: str) -> tuple[str, str] | None:
        """A new web session for the right name and password: (session id, CSRF token)."""
        row = self._one("SELECT * FROM users WHERE name = :name AND revoked_at IS NULL", name=name)
        if row is None or not password_matches(password, row["password_hash"]):
            return None
        session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self._run(
            "INSERT INTO web_sessions (id_hash, user_name, csrf_token, created_at, expires_at)"
            " VALUES (:hash, :name, :csrf, :now, :expires)",
            hash=secret_hash(session),
            name=name,
            csrf=csrf,
            now=to_text(now),
            expires=to_text(now + timedelta(days=SESSION_DAYS)),
        )
        return session, csrf

    def session_user(self, session: str) -> tuple[User, str] | None:
        """The user and CSRF token of a live session."""
        row = self._one(
            "SELECT u.*, s.csrf_token FROM web_sessions s JOIN users u ON u.name = s.user_name"
            " WHERE s.id_hash = :hash AND s.expires_at > :now AND u.revoked_at IS NULL",
            hash=secret_hash(session),
            now=to_text(datetime.now(UTC)),
        )
        return (_user(row), row["csrf_token"]) if row else None

    def sign_out(self, session: str) -> None:
        self._run("DELETE FROM web_sessions WHERE id_hash = :hash", hash=secret_hash(session))
