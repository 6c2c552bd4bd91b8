"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from landgis.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()


@cache
def _dummy() -> str:
    """A hash of a fixed string, verified against when the user does not exist, so that a failed
    log-in takes as long for an unknown name as for a wrong password. Made on first use, not at
    import: hashing takes ~0.15 s, which every command line start would pay."""
    return _hasher.hash("landgis-no-such-user")


def check_strength(password: str) -> None:
    """Refuse passwords too short or too long to be sensible."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_LENGTH} 个字符 (password must have at least {MIN_LENGTH} characters)")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"密码最多 {MAX_LENGTH} 个字符 (password longer than {MAX_LENGTH} characters)")
    if password.strip() != password or not password.strip():
        raise InvalidInput("密码首尾不能有空格 (password must not start or end with spaces)")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (None: no password set, always False)."""
    try:
        return _hasher.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
