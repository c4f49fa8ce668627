"""Static token file parsing, the generated admin token, and request authentication."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from teapot.apiserver.auth import (
    ANONYMOUS,
    Authenticator,
    TokenAuthenticator,
    TokenFileError,
    UserInfo,
    bearer_token,
    ensure_admin_token_file,
    load_token_file,
    parse_token_csv,
    user_from_peercert,
)

GOOD = """\
# operators
tok-admin,admin,uid-1,"system:masters,operators"
tok-alice,alice,uid-2,acme

tok-bob,bob,uid-3
  # indented comment
tok-carol,carol,uid-4,"",extra,columns
"""


def test_parse_good_file() -> None:
    tf = parse_token_csv(GOOD, "tokens.csv")
    users = {e.token: e.user for e in tf.entries}
    assert users["tok-admin"] == UserInfo(
        "admin", "uid-1", ("system:masters", "operators", "system:authenticated")
    )
    assert users["tok-alice"] == UserInfo("alice", "uid-2", ("acme", "system:authenticated"))
    assert users["tok-bob"].groups == ("system:authenticated",)
    assert users["tok-carol"].groups == ("system:authenticated",)
    assert [e.line for e in tf.entries] == [2, 3, 5, 7]
    assert tf.first_token_in_group("system:masters") == "tok-admin"
    assert tf.first_token_in_group("nobody") is None
    assert tf.warnings == ()


def test_tokens_are_not_in_repr() -> None:
    assert "tok-admin" not in repr(parse_token_csv(GOOD))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tok,alice\n", "f.csv:1: must have at least 3 columns (token, user name, user uid), found 2"),
        ("# c\n\ntok\n", "f.csv:3: must have at least 3 columns"),
        ('ok,a,1\ntok,alice,1,"a,b\n', "f.csv:2: malformed CSV"),
        ('tok,"alice"x,1\n', "f.csv:1: malformed CSV"),
        ("to k,alice,1\n", "f.csv:1: token contains whitespace"),
        ("tok,,1\n", "f.csv:1: empty user name"),
    ],
)
def test_malformed_lines_are_named(text: str, message: str) -> None:
    with pytest.raises(TokenFileError) as err:
        parse_token_csv(text, "f.csv")
    assert str(err.value).startswith(message)


def test_empty_and_duplicate_tokens_warn_like_kube() -> None:
    tf = parse_token_csv(",alice,1\ntok,bob,2\ntok,carol,3\n", "f.csv")
    assert [e.user.name for e in tf.entries] == ["carol"]
    assert tf.warnings == (
        "f.csv:1: empty token, record skipped",
        "f.csv:3: duplicate token (first on line 2), last one wins",
    )


def test_load_token_file_errors_name_path(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot read token file"):
        load_token_file(tmp_path / "missing.csv")
    (tmp_path / "t.csv").write_text('tok,alice,1,"g1,g2"\n')
    assert load_token_file(tmp_path / "t.csv").entries[0].user.groups == ("g1", "g2", "system:authenticated")


def test_generated_admin_token_is_private_and_stable(tmp_path: Path) -> None:
    path = ensure_admin_token_file(tmp_path / "data")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = load_token_file(path)
    token = first.first_token_in_group("system:masters")
    assert token and len(token) >= 40
    assert ensure_admin_token_file(tmp_path / "data") == path
    assert load_token_file(path).first_token_in_group("system:masters") == token
    assert ensure_admin_token_file(tmp_path / "other") != path
    assert load_token_file(tmp_path / "other" / "tokens.csv").first_token_in_group("system:masters") != token


def _auth() -> Authenticator:
    return Authenticator([TokenAuthenticator(parse_token_csv(GOOD).entries)])


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"authorization", b"Bearer tok-alice")], "alice"),
        ([(b"authorization", b"bearer tok-alice")], "alice"),
        ([(b"Authorization", b"  Bearer tok-alice  ")], "alice"),
        ([(b"authorization", b"Bearer tok-alice extra")], "alice"),
        ([(b"authorization", b"Bearer tok-alicex")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([(b"authorization", b"Bearer")], None),
        ([(b"authorization", b"Basic dG9rLWFsaWNl")], None),
        ([(b"authorization", b"tok-alice")], None),
        ([], None),
        ([(b"authorization", b"Bearer nope"), (b"authorization", b"Bearer tok-alice")], None),
    ],
)
def test_bearer_authentication(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    user = _auth().authenticate(headers)
    assert (user.name if user else None) == expected


def test_bearer_token_helper() -> None:
    assert bearer_token([(b"x", b"y"), (b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_token([]) is None


PEER = {
    "subject": (
        (("organizationName", "system:masters"),),
        (("organizationName", "ops"),),
        (("commonName", "teapot-admin"),),
    ),
    "issuer": ((("commonName", "teapot-ca"),),),
}


def test_client_cert_user_and_precedence() -> None:
    assert user_from_peercert(PEER) == UserInfo(
        "teapot-admin", "", ("system:masters", "ops", "system:authenticated")
    )
    assert user_from_peercert({"subject": ((("organizationName", "x"),),)}) is None
    assert user_from_peercert({}) is None
    auth = _auth()
    # a verified certificate wins over a token, as in kube's union authenticator
    user = auth.authenticate([(b"authorization", b"Bearer tok-alice")], PEER)
    assert user is not None and user.name == "teapot-admin"
    # a certificate without CN falls through to the token
    user = auth.authenticate([(b"authorization", b"Bearer tok-alice")], {"subject": ()})
    assert user is not None and user.name == "alice"
    no_certs = Authenticator([], client_certificates=False)
    assert no_certs.authenticate([], PEER) is None


def test_token_lookup_is_by_digest() -> None:
    ta = TokenAuthenticator(parse_token_csv(GOOD).entries)
    assert len(ta) == 4
    assert ta.authenticate_token("") is None
    assert ta.authenticate_token("tok-bob") == UserInfo("bob", "uid-3", ("system:authenticated",))


def test_anonymous_only_without_any_credential() -> None:
    auth = Authenticator([TokenAuthenticator(parse_token_csv(GOOD).entries)], anonymous=True)
    assert auth.authenticate([]) == ANONYMOUS
    assert ANONYMOUS.groups == ("system:unauthenticated",)
    assert auth.authenticate([(b"authorization", b"Bearer wrong")]) is None
    assert auth.authenticate([(b"authorization", b"Basic eDp5")]) is None
    assert auth.authenticate([], {"subject": ()}) is None  # a certificate without CN is not anonymous
    assert _auth().authenticate([]) is None  # off by default
