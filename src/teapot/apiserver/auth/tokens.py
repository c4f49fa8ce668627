"""Static bearer tokens in kube-apiserver's ``--token-auth-file`` CSV format.

Why it exists: bearer tokens are the simplest credential kubectl and the client libraries send, and
operators already know kube's file format (``token,user,uid,"group1,group2"``). This module parses
that format with errors that name the offending line, generates the admin token used when no file is
given, and answers "whose token is this?" in time that does not depend on how much of a token an
attacker guessed right.

Format notes (kube compatibility): columns are taken verbatim (no whitespace trimming), a fourth
column is split on ``,`` into groups, more columns are ignored, a record with an empty token is
skipped with a warning, and a duplicate token keeps the last record (with a warning). Extensions:
blank lines and lines starting with ``#`` are skipped, empty group names are dropped, and a token
containing whitespace or an empty user name is an error (such a record could never authenticate
anyone sensibly).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from teapot.apiserver.auth.files import write_private
from teapot.apiserver.auth.users import SYSTEM_MASTERS, UserInfo, authenticated_user

ADMIN_USER = "teapot-admin"
GENERATED_TOKEN_FILE = "tokens.csv"


class TokenFileError(ValueError):
    """A token file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """One record of a token file. The token itself never appears in ``repr``."""

    token: str = field(repr=False)
    user: UserInfo
    line: int = 0


@dataclass(frozen=True)
class TokenFile:
    """A parsed token file: records in file order (duplicates resolved) and non-fatal warnings."""

    source: str
    entries: tuple[TokenEntry, ...]
    warnings: tuple[str, ...] = ()

    def first_token_in_group(self, group: str) -> str | None:
        """The first token (in file order) whose user is in ``group``, e.g. ``system:masters``."""
        for entry in self.entries:
            if group in entry.user.groups:
                return entry.token
        return None


class TokenAuthenticatorLike(Protocol):
    """Anything that maps a bearer token to a user (static file, later ServiceAccount JWTs)."""

    def authenticate_token(self, token: str) -> UserInfo | None: ...


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class TokenAuthenticator:
    """Looks tokens up by their SHA-256 digest, then compares digests in constant time.

    A dict keyed by the raw token would leak, through lookup timing, how long a prefix of a guess
    matched a real token. Keying by a digest makes the timing depend only on the digest, which an
    attacker cannot steer towards a real token; ``hmac.compare_digest`` confirms the hit.
    """

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        self._by_digest: dict[bytes, tuple[bytes, UserInfo]] = {}
        for entry in entries:
            digest = _digest(entry.token)
            self._by_digest[digest] = (digest, entry.user)

    def __len__(self) -> int:
        return len(self._by_digest)

    def authenticate_token(self, token: str) -> UserInfo | None:
        if not token:
            return None
        digest = _digest(token)
        hit = self._by_digest.get(digest)
        if hit is None or not hmac.compare_digest(hit[0], digest):
            return None
        return hit[1]


def parse_token_csv(text: str, source: str = "<token file>") -> TokenFile:
    """Parse the static token CSV format; raise :class:`TokenFileError` naming ``source:line``."""
    by_token: dict[str, TokenEntry] = {}
    warnings: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{source}:{lineno}"
        try:
            records = list(csv.reader([line], strict=True))
        except csv.Error as exc:
            raise TokenFileError(f"{where}: malformed CSV: {exc}") from None
        if len(records) != 1:
            raise TokenFileError(f"{where}: malformed CSV: expected one record")
        record = records[0]
        if len(record) < 3:
            raise TokenFileError(
                f"{where}: must have at least 3 columns (token, user name, user uid), found {len(record)}"
            )
        token, name, uid = record[0], record[1], record[2]
        if token == "":
            warnings.append(f"{where}: empty token, record skipped")
            continue
        if any(ch.isspace() for ch in token):
            raise TokenFileError(
                f"{where}: token contains whitespace, it can never be sent as a bearer token"
            )
        if name == "":
            raise TokenFileError(f"{where}: empty user name (second column)")
        groups = record[3].split(",") if len(record) >= 4 else []
        if token in by_token:
            warnings.append(f"{where}: duplicate token (first on line {by_token[token].line}), last one wins")
            del by_token[token]
        by_token[token] = TokenEntry(token=token, user=authenticated_user(name, uid, groups), line=lineno)
    return TokenFile(source=source, entries=tuple(by_token.values()), warnings=tuple(warnings))


def load_token_file(path: str | Path) -> TokenFile:
    """Read and parse a token file (``--token-auth-file``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"{p}: cannot read token file: {exc}") from None
    return parse_token_csv(text, source=str(p))


def ensure_admin_token_file(data_dir: str | Path) -> Path:
    """Return ``<data_dir>/tokens.csv``, generating one ``system:masters`` admin token on first use.

    The file is in the same CSV format as ``--token-auth-file`` (so an operator can copy and extend
    it), written 0600, and left untouched on later starts so the token stays stable.
    """
    path = Path(data_dir) / GENERATED_TOKEN_FILE
    if not path.exists():
        token = secrets.token_urlsafe(32)
        line = f'{token},{ADMIN_USER},{ADMIN_USER},"{SYSTEM_MASTERS}"\n'
        header = '# Generated by teapot apiserver: token,user,uid,"groups" (kube static token format)\n'
        write_private(path, (header + line).encode())
    return path
