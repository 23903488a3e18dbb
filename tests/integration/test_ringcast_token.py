"""build/ringcast-token mints HS256 tokens that a JWT library we did not write
(Debian's python3-jwt, PyJWT 2.6) accepts, with every flag in its claim.

The other direction (PyJWT signs, our C verifier accepts) cannot be run from
here; it is in tests/unit/test_jwt.c (test_pyjwt_vectors), as literal tokens
made once with PyJWT.
"""

import base64
import json
import os
import subprocess
import time

import jwt
import pytest

from conftest import binary

SECRET = b"integration-test-secret-of-32+bytes-for-hs256"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(SECRET + b"\n")  # one trailing newline: not part of the secret
    return str(path)


def run(*args, check=True):
    p = subprocess.run([binary("ringcast-token")] + list(args), capture_output=True, text=True,
                       timeout=30)
    if check:
        assert p.returncode == 0, "ringcast-token %s: exit %d: %s" % (args, p.returncode, p.stderr)
    return p


def mint(secret_file, *args):
    p = run("--secret-file", secret_file, *args)
    assert p.stdout.endswith("\n") and p.stdout.count("\n") == 1, repr(p.stdout)
    assert p.stderr == ""
    return p.stdout[:-1]


def decode(token, secret=SECRET, **kwargs):
    return jwt.decode(token, secret, algorithms=["HS256"], **kwargs)


def test_header_is_hs256_jwt(secret_file):
    token = mint(secret_file, "--sub", "u")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert "=" not in token and "+" not in token and "/" not in token
    assert len(token.split(".")) == 3
    # The exact header bytes, as documented in --help.
    assert base64.urlsafe_b64decode(token.split(".")[0] + "==") == b'{"alg":"HS256","typ":"JWT"}'


def test_every_flag_lands_in_its_claim(secret_file):
    before = int(time.time())
    token = mint(secret_file, "--sub", "user:7", "--tenant", "acme", "--org", "o1", "--org", "o2",
                 "--org", "o3", "--role", "admin", "--role", "ops", "--subscribe",
                 "customer_id:42:>", "--subscribe", "jobs.*", "--publish", "customer_id:42:call:*",
                 "--publish", "*")
    after = int(time.time())
    claims = decode(token)
    exp = claims.pop("exp")
    assert before + 3600 <= exp <= after + 3600  # the default --ttl is 1h
    assert claims == {
        "sub": "user:7",
        "tenant": "acme",
        "orgs": ["o1", "o2", "o3"],
        "roles": ["admin", "ops"],
        "subscribe": ["customer_id:42:>", "jobs.*"],
        "publish": ["customer_id:42:call:*", "*"],
    }


def test_one_org_is_the_org_claim(secret_file):
    claims = decode(mint(secret_file, "--org", "solo", "--role", "viewer"))
    assert claims["org"] == "solo"
    assert "orgs" not in claims
    assert claims["roles"] == ["viewer"]  # an array even with one


def test_only_the_flags_given(secret_file):
    claims = decode(mint(secret_file))
    assert set(claims) == {"exp"}
    claims = decode(mint(secret_file, "--ttl", "0"))
    assert claims == {}


def test_unicode_values(secret_file):
    claims = decode(mint(secret_file, "--sub", "j\u00fcrgen", "--tenant", "\u6771\u4eac"))
    assert claims["sub"] == "j\u00fcrgen"
    assert claims["tenant"] == "\u6771\u4eac"


@pytest.mark.parametrize("ttl,seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800),
                                          ("45", 45), ("0s", None), ("0", None)])
def test_ttl(secret_file, ttl, seconds):
    before = int(time.time())
    claims = decode(mint(secret_file, "--ttl", ttl))
    after = int(time.time())
    if seconds is None:
        assert "exp" not in claims
    else:
        assert before + seconds <= claims["exp"] <= after + seconds
        assert isinstance(claims["exp"], int)


def test_exp_overrides_ttl(secret_file):
    assert decode(mint(secret_file, "--exp", "4102444800"))["exp"] == 4102444800
    assert decode(mint(secret_file, "--ttl", "5m", "--exp", "4102444800"))["exp"] == 4102444800
    assert decode(mint(secret_file, "--exp", "4102444800", "--ttl", "0"))["exp"] == 4102444800


def test_expired_token_is_expired(secret_file):
    token = mint(secret_file, "--exp", str(int(time.time()) - 10))
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(token)
    assert decode(token, options={"verify_exp": False})["exp"] < time.time()


def test_nbf_in(secret_file):
    before = int(time.time())
    token = mint(secret_file, "--nbf-in", "1h", "--ttl", "2h")
    after = int(time.time())
    with pytest.raises(jwt.ImmatureSignatureError):
        decode(token)
    claims = decode(token, options={"verify_nbf": False})
    assert before + 3600 <= claims["nbf"] <= after + 3600
    assert claims["exp"] - claims["nbf"] == 3600
    claims = decode(mint(secret_file, "--nbf-in", "0"))
    assert before <= claims["nbf"] <= int(time.time())


def test_claims_merge(secret_file):
    extra = {"x": {"nested": [1, 2.5, None, True]}, "iss": "tests", "sub": "from-claims",
             "roles": "not-an-array"}
    claims = decode(mint(secret_file, "--sub", "from-flag", "--tenant", "t", "--role", "r",
                         "--claims", json.dumps(extra), "--claims", '{"iss":"second","n":1}'))
    assert claims["sub"] == "from-claims"  # --claims is merged last
    assert claims["roles"] == "not-an-array"  # any type: tests need wrong ones
    assert claims["x"] == {"nested": [1, 2.5, None, True]}
    assert claims["iss"] == "second"
    assert claims["n"] == 1
    assert claims["tenant"] == "t"
    assert "exp" in claims
    # --claims can replace exp, even with a fraction.
    claims = decode(mint(secret_file, "--claims", '{"exp":4102444800.5}'))
    assert claims["exp"] == 4102444800.5


def test_secret_file_newline_rules(tmp_path):
    # One trailing newline is dropped, not two, and nothing else is trimmed.
    path = tmp_path / "s"
    path.write_bytes(SECRET + b"\n\n")
    token = mint(str(path), "--sub", "a")
    decode(token, secret=SECRET + b"\n")
    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, secret=SECRET)
    path.write_bytes(b" " + SECRET + b" ")
    decode(mint(str(path)), secret=b" " + SECRET + b" ")
    path.write_bytes(SECRET)
    decode(mint(str(path)))
    # Binary secrets are bytes like any other.
    raw = bytes(range(256))
    path.write_bytes(raw)
    decode(mint(str(path)), secret=raw)


def test_wrong_secret_is_refused_by_pyjwt(secret_file):
    with pytest.raises(jwt.InvalidSignatureError):
        decode(mint(secret_file, "--sub", "a"), secret=SECRET + b"x")


@pytest.mark.parametrize("content", [b"", b"\n", b"x" * 31, b"x" * 31 + b"\n"])
def test_short_secret_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "short"
    path.write_bytes(content)
    p = run("--secret-file", str(path), check=False)
    assert p.returncode == 2
    assert p.stdout == ""
    assert "--secret-file" in p.stderr and "at least 32" in p.stderr
    # 32 bytes is enough.
    path.write_bytes(b"y" * 32 + b"\n")
    decode(mint(str(path)), secret=b"y" * 32)


def test_missing_or_unreadable_secret_file(tmp_path):
    p = run("--sub", "a", check=False)
    assert p.returncode == 2
    assert "--secret-file" in p.stderr
    assert p.stdout == ""
    p = run("--secret-file", str(tmp_path / "nope"), check=False)
    assert p.returncode == 2
    assert "--secret-file" in p.stderr and "nope" in p.stderr
    p = run("--secret-file", check=False)
    assert p.returncode == 2
    assert "--secret-file" in p.stderr


@pytest.mark.parametrize("args", [["--secret", SECRET.decode()],
                                  ["--secret=" + SECRET.decode()],
                                  ["--secret-fil", "f"], ["--sec", "f"]])
def test_secret_never_on_the_command_line(args):
    p = run(*args, check=False)
    assert p.returncode == 2
    assert "--secret-file" in p.stderr
    assert SECRET.decode() not in p.stderr + p.stdout


@pytest.mark.parametrize("args,flag", [
    (["--ttl", "1x"], "--ttl"),
    (["--ttl", "-5m"], "--ttl"),
    (["--ttl", "1h30m"], "--ttl"),
    (["--ttl", ""], "--ttl"),
    (["--ttl"], "--ttl"),
    (["--nbf-in", "soon"], "--nbf-in"),
    (["--exp", "tomorrow"], "--exp"),
    (["--exp", "1.5"], "--exp"),
    (["--claims", "[1,2]"], "--claims"),
    (["--claims", "{"], "--claims"),
    (["--claims", '{"a":1,"a":2}'], "--claims"),
    (["--sub", ""], "--sub"),
    (["--org", ""], "--org"),
    (["--role", "x" * 4097], "--role"),
    (["--bogus"], "--bogus"),
    (["extra-argument"], "extra-argument"),
])
def test_usage_errors_name_the_flag(secret_file, args, flag):
    p = run("--secret-file", secret_file, *args, check=False)
    assert p.returncode == 2, p.stdout
    assert flag in p.stderr, p.stderr
    assert p.stdout == ""


def test_help_and_version():
    p = run("--help")
    assert p.stdout.startswith("Usage: ringcast-token")
    for flag in ("--secret-file", "--sub", "--tenant", "--org", "--role", "--subscribe",
                 "--publish", "--ttl", "--exp", "--nbf-in", "--claims", "--help", "--version"):
        assert flag in p.stdout, flag
    assert run("-h").stdout == p.stdout
    v = run("--version")
    assert v.stdout.startswith("ringcast-token ")
    assert run("-V").stdout == v.stdout


def test_limits_are_checked(secret_file):
    args = []
    for i in range(1024):
        args += ["--role", "r%d" % i]
    p = run("--secret-file", secret_file, *args)
    assert len(decode(p.stdout.strip())["roles"]) == 1024
    # Printed all the same, but such a token is too long for the server.
    assert "warning" in p.stderr and "8192" in p.stderr
    p = run("--secret-file", secret_file, *(args + ["--role", "one-too-many"]), check=False)
    assert p.returncode == 2
    assert "--role" in p.stderr


def test_tokens_differ_by_secret(tmp_path, secret_file):
    other = tmp_path / "other"
    other.write_bytes(os.urandom(32))
    a = mint(secret_file, "--sub", "x", "--ttl", "0")
    b = mint(str(other), "--sub", "x", "--ttl", "0")
    assert a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0]
    assert a != b
