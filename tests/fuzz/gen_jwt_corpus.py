#!/usr/bin/python3
"""gen_jwt_corpus.py: writes the seed corpus of fuzz_jwt.

Each seed is 8 bytes of "now" (int64, little-endian) and then a token, as
fuzz_jwt.c reads its input. Most tokens are signed (HS256) with the fuzzer's
two secrets, so that the fuzzer starts from tokens that verify; a few are
malformed, and a few are bare claims JSON for claims_parse.

Only the standard library (hmac, hashlib, base64), so that the seeds do not
depend on the code under test.

  /usr/bin/python3 tests/fuzz/gen_jwt_corpus.py [OUTDIR]

OUTDIR defaults to tests/fuzz/corpus/jwt next to this script.
"""

import base64
import hashlib
import hmac
import os
import struct
import sys

# Also in fuzz_jwt.c.
SECRET1 = b"ringcast-fuzz-jwt-secret-one-32b"
SECRET2 = b"ringcast-fuzz-jwt-secret-two-32b"
assert len(SECRET1) == 32 and len(SECRET2) == 32

NOW = 1700000000
HS256 = b'{"alg":"HS256","typ":"JWT"}'


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token(header, payload, secret=SECRET1):
    signing = b64url(header) + b"." + b64url(payload)
    return signing + b"." + b64url(hmac.new(secret, signing, hashlib.sha256).digest())


def seed(data, now=NOW):
    return struct.pack("<q", now) + data


FULL = (b'{"sub":"user:7","tenant":"acme","org":"o1","orgs":["o2","o3"],'
        b'"roles":["admin","ops"],"subscribe":["customer_id:42:>","jobs.*","*"],'
        b'"publish":["customer_id:42:call:*"],"exp":1800000000,"nbf":1600000000}')

GOOD = token(HS256, b'{"sub":"alice"}')

SEEDS = {
    # signed, valid at NOW
    "valid-empty": seed(token(HS256, b"{}")),
    "valid-full": seed(token(HS256, FULL)),
    "valid-full-second-secret": seed(token(HS256, FULL, SECRET2)),
    "valid-alg-only": seed(token(b'{"alg":"HS256"}', b'{"sub":"bob","roles":[]}')),
    "valid-header-members": seed(token(b'{"alg":"HS256","typ":"at+jwt","kid":"2024-01"}',
                                       b'{"sub":"kid"}')),
    "valid-rfc-style": seed(token(b'{"typ":"JWT",\r\n "alg":"HS256"}',
                                  b'{"iss":"joe",\r\n "exp":1800000000,\r\n'
                                  b' "http://example.com/is_root":true}')),
    "valid-fraction": seed(token(HS256, b'{"exp":1700000000.5,"nbf":1699999999.25}')),
    "valid-unicode": seed(token(HS256, '{"sub":"j\u00fcrgen","tenant":"\\u6771\\u4eac"}'
                                .encode())),
    "valid-unknown-claims": seed(token(HS256, b'{"aud":["x"],"iat":1,"x":{"y":[1,null,true]},'
                                       b'"note":"a\\u0000b"}')),
    # signed, but refused
    "expired": seed(token(HS256, b'{"sub":"a","exp":1700000000}')),
    "not-yet-valid": seed(token(HS256, b'{"sub":"a","nbf":1700000001}')),
    "bad-claims-type": seed(token(HS256, b'{"roles":"admin","orgs":[1]}')),
    "bad-claims-nul": seed(token(HS256, b'{"sub":"a\\u0000b"}')),
    "payload-not-json": seed(token(HS256, b'{"sub":')),
    "payload-duplicate": seed(token(HS256, b'{"sub":"a","sub":"b"}')),
    "alg-none": seed(b64url(b'{"alg":"none"}') + b"." + b64url(b'{"sub":"a"}') + b"."),
    "alg-hs384": seed(token(b'{"alg":"HS384","typ":"JWT"}', b'{"sub":"a"}')),
    "alg-lowercase": seed(token(b'{"alg":"hs256"}', b'{"sub":"a"}')),
    "crit": seed(token(b'{"alg":"HS256","crit":["exp"]}', b'{"sub":"a"}')),
    "typ-number": seed(token(b'{"alg":"HS256","typ":1}', b"{}")),
    "wrong-secret": seed(token(HS256, b'{"sub":"a"}', b"x" * 32)),
    # malformed
    "two-parts": seed(GOOD.rsplit(b".", 1)[0]),
    "four-parts": seed(GOOD + b"." + GOOD.rsplit(b".", 1)[1]),
    "padding": seed(GOOD + b"="),
    "base64-not-url": seed(GOOD.replace(b"-", b"+").replace(b"_", b"/") + b"+/"),
    "empty-parts": seed(b".."),
    # claims JSON, for claims_parse (and a token that is not one)
    "json-full": seed(FULL),
    "json-limits": seed(b'{"roles":[' + b",".join([b'"r"'] * 1025) + b"]}"),
    "json-types": seed(b'{"sub":1,"exp":"x"}'),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "jwt")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
