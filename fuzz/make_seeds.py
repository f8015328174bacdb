#!/usr/bin/env python3
"""Write the seed corpora in fuzz/corpus/<target>/ (small, meaningful inputs; see fuzz/README.md).

Tokens are made with PyJWT and the keys in tests/fixtures, as of the fuzz targets' fixed NOW
(fuzz/entry.rs); key files are copied from tests/fixtures. ECDSA signatures are randomised, so a
rerun changes the ES256 seeds' bytes but not what they exercise.
Run: pip install pyjwt cryptography && python3 fuzz/make_seeds.py
"""
import base64
import hashlib
import hmac
import json
import pathlib
import shutil

import jwt

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"

NOW = 1_800_000_000  # fuzz/entry.rs NOW
SECRET = b"jwtctl-fuzz-hmac-secret-0123456789abcdef"  # fuzz/entry.rs HMAC_SECRET
EC256 = (FIX / "keys" / "ec256_pkcs8.pem").read_bytes()
EC384 = (FIX / "keys" / "ec384_pkcs8.pem").read_bytes()
CLAIMS = {"sub": "alice", "iss": "https://issuer.example", "iat": NOW - 60, "exp": NOW + 3600}


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header, payload, secret=SECRET):
    """A compact HS256 JWS over exactly these header and payload bytes."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def copy(target, *paths):
    for p in paths:
        src = FIX / p
        write(target, src.name, src.read_bytes())


def claims(**kw):
    return json.dumps({**CLAIMS, **kw}, separators=(",", ":"))


for d in CORPUS.glob("*"):
    shutil.rmtree(d)

# verify_hmac: valid tokens, odd headers, broken shapes.
T = "verify_hmac"
good = hs256('{"alg":"HS256","typ":"JWT"}', claims())
write(T, "valid", good)
write(T, "valid_kid_typ_lower", hs256('{"alg":"HS256","typ":"jwt","kid":"k1"}', claims(aud="x")))
write(T, "bearer_crlf", f"Bearer {good}\r\n")
write(T, "expired", hs256('{"alg":"HS256"}', claims(exp=NOW - 1)))
write(T, "exp_float_nbf_future", hs256('{"alg":"HS256"}', claims(exp=NOW + 0.5, nbf=NOW + 9)))
write(T, "exp_string", hs256('{"alg":"HS256"}', claims(exp=str(NOW + 60))))
write(T, "crit", hs256('{"alg":"HS256","crit":["exp"]}', claims()))
write(T, "typ_at_jwt", hs256('{"alg":"HS256","typ":"application/at+jwt"}', claims()))
write(T, "kid_number", hs256('{"alg":"HS256","kid":7}', claims()))
write(T, "alg_none", b64('{"alg":"none"}') + "." + b64(claims()) + ".")
write(T, "alg_hs512", hs256('{"alg":"HS512"}', claims()))
write(T, "alg_missing", hs256('{"typ":"JWT"}', claims()))
write(T, "payload_array", hs256('{"alg":"HS256"}', "[1,2]"))
write(T, "header_not_json", f"{b64('alg')}.{b64(claims())}.AAAA")
write(T, "bad_signature", good[:-4] + "AAAA")
write(T, "four_parts", good + ".x")
write(T, "two_parts", "eyJhbGciOiJIUzI1NiJ9.e30")
copy(T, "pyjwt/hs256.jwt")

# verify_es256: tokens for the fixed P-256 key, and others.
T = "verify_es256"
write(T, "valid", jwt.encode(CLAIMS, EC256, algorithm="ES256", headers={"kid": "ec"}))
write(T, "expired", jwt.encode({**CLAIMS, "exp": NOW - 5}, EC256, algorithm="ES256"))
write(T, "es384", jwt.encode(CLAIMS, EC384, algorithm="ES384"))
es = jwt.encode(CLAIMS, EC256, algorithm="ES256")
head, body, sig = es.split(".")
write(T, "short_signature", f"{head}.{body}.{sig[:20]}")
write(T, "zero_signature", f"{head}.{body}.{b64(bytes(64))}")
# Key confusion: HS256 MACed with the public key's PEM text.
write(T, "hs256_with_public_pem", hs256('{"alg":"HS256"}', claims(), (FIX / "keys" / "ec256_pub.pem").read_bytes()))
copy(T, "pyjwt/es256.jwt", "pyjwt/kid.jwt", "formats/es256_nojti.jwt")

# key_classify: one file of each key format jwtctl reads or refuses, and secrets.
T = "key_classify"
copy(
    T,
    "keys/ec256_pkcs8.pem", "keys/ec256_sec1.pem", "keys/ec256_pub.pem", "keys/ec384_pkcs8.pem",
    "keys/ec521_sec1.pem", "keys/ed25519.pem", "keys/ed25519_pub.pem", "keys/rsa_pkcs1.pem",
    "keys/rsa_pub_spki.pem", "keys/dsa.pem", "keys/csr.pem",
    "formats/ec256_pkcs8.der", "formats/ec256_pub.der", "formats/ec256_sec1.der",
    "formats/ed25519_pkcs8.der", "formats/ed25519_cert.der", "formats/rsa_pkcs1.der",
    "formats/rsa_pub_pkcs1.der", "formats/rsa_cert.pem", "formats/rsa1024_pub.pem",
    "formats/rsa_pub_bom.pem", "formats/rsa_pkcs8_encrypted.pem", "formats/ec256_pub_ws.pem",
    "formats/dsa_pub.der", "formats/ssh_ed25519.pub", "formats/ssh2_rsa.pub",
    "formats/rsa_private_nocrt.jwk", "formats/rsa_public_bom.jwk",
    "pyjwt/ec256_private.jwk", "pyjwt/ed25519_private.jwk", "pyjwt/oct.jwk", "pyjwt/hmac.key",
    "rfc/rfc7515_a1.jwk",
)
write(T, "secret_crlf", SECRET + b"\r\n")
write(T, "secret_short", b"x\n")
write(T, "json_array", b'[{"kty":"oct","k":"AAAA"}]')
write(T, "putty", b"PuTTY-User-Key-File-3: ssh-ed25519\n")

# jwks_parse: sets from the fixtures, and sets with odd entries.
T = "jwks_parse"
copy(T, "pyjwt/jwks.json", "pyjwt/jwks_single.json", "formats/jwks_oct_mixed.json")
rfc = json.loads((FIX / "rfc" / "rfc7515_a1.jwk").read_text())
ec = json.loads((FIX / "pyjwt" / "ec256_public.jwk").read_text())
oct_key = {"kty": "oct", "k": b64(SECRET)}
sets = {
    "rfc7515": {"keys": [rfc]},
    "enc_and_sig": {"keys": [{**ec, "use": "enc", "kid": "e"}, {**ec, "use": "sig", "kid": "s"}]},
    "duplicate_kids": {"keys": [{**oct_key, "kid": "k"}, {**ec, "kid": "k"}]},
    "alg_mismatch": {"keys": [{**ec, "alg": "RS256", "kid": "m"}, {**oct_key, "alg": "HS512", "kid": "o"}]},
    "weak_oct": {"keys": [{"kty": "oct", "k": "c2hvcnQ", "kid": "w"}]},
    "unknown_kty": {"keys": [{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}, "str", 1, None]},
    "empty": {"keys": []},
    "keys_not_array": {"keys": {"kty": "oct"}},
}
for name, value in sets.items():
    write(T, name, json.dumps(value))

# jwks_remote: the jwks_parse seeds, and sets a provider must not publish (secret and private
# keys, mixed with public ones), as a fetched set is read.
T = "jwks_remote"
for f in sorted((CORPUS / "jwks_parse").iterdir()):
    write(T, f.name, f.read_bytes())
ec_private = json.loads((FIX / "pyjwt" / "ec256_private.jwk").read_text())
ed_private = json.loads((FIX / "pyjwt" / "ed25519_private.jwk").read_text())
rsa_private = json.loads((FIX / "formats" / "rsa_private_jose.jwk").read_text())
hostile = {
    "oct_beside_public": {"keys": [{**oct_key, "kid": "k"}, {**ec, "kid": "ec"}]},
    "private_members": {"keys": [{**ec_private, "kid": "k"}, {**ed_private, "kid": "ed"},
                                 {**rsa_private, "kid": "rsa"}, {**ec, "kid": "pub"}]},
    "public_with_d_only": {"keys": [{**ec, "d": "AA", "kid": "k"}, {**ec, "kid": "pub"}]},
    "only_secrets": {"keys": [{**oct_key, "kid": "a"}, {**ec_private, "kid": "b"}]},
    "key_ops": {"keys": [{**ec, "kid": "k", "key_ops": ["encrypt"]},
                         {**ec, "kid": "v", "key_ops": ["verify"]},
                         {**ec, "kid": "w", "key_ops": ["wrapKey", "sign"]}]},
    "oth_member": {"keys": [{**ec, "kid": "k", "oth": []}, {**ec, "kid": "pub"}]},
}
for name, value in hostile.items():
    write(T, name, json.dumps(value))

# claims_policy: claims objects against the strict and lenient policies of fuzz/entry.rs.
T = "claims_policy"
strict = {
    "iss": "https://issuer.example", "aud": ["web", "api"], "sub": "alice", "scope": "read",
    "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 600,
}
seeds = {
    "strict_ok": strict,
    "near_cap": {**strict, "orig_iat": NOW - 86_000},
    "at_cap": {**strict, "orig_iat": NOW - 86_400},
    "iat_skewed": {"exp": NOW + 600, "iat": NOW + 20},
    "orig_iat_skewed": {"exp": NOW + 600, "orig_iat": NOW + 20},
    "float_claim": {"exp": NOW + 60, "f": 0.1, "g": 5e-324, "h": 1.7976931348623157e308},
    "in_grace": {"exp": NOW - 100, "iat": NOW - 1000, "sub": "bob"},
    "aud_string": {**strict, "aud": "api"},
    "aud_mixed": {**strict, "aud": ["api", 1]},
    "min_remaining": {**strict, "exp": NOW + 59},
    "too_old": {**strict, "iat": NOW - 3631},
    "exp_float_huge": {"exp": 1e300, "iat": -1e300},
    "orig_iat_string": {"exp": NOW + 60, "orig_iat": "0"},
    "unicode": {"exp": NOW + 60, "sub": "\u2028\u0000\"\\\U0001F600", "x": {"y": [None, True, 1.5]}},
    "empty": {},
}
for name, value in seeds.items():
    write(T, name, json.dumps(value, ensure_ascii=False))
write(T, "duplicate_exp", '{"exp":1,"exp":%d,"sub":"a"}' % (NOW + 60))

# batch_lines: byte 0 is the line limit, byte 1 the reader's buffer size, then the input.
T = "batch_lines"
write(T, "short_lines", b"\x08\x03abc\n\nlong-line-here\nlast")
write(T, "crlf_blank", b"\x20\x07tok1\r\n\r\n  Bearer tok2 \r\n\n")
write(T, "long_line", b"\x10\x01" + b"x" * 300 + b"\n" + b"y" * 16 + b"\n" + b"z" * 17)
write(T, "only_newlines", b"\x00\x02\n\n\n")
write(T, "zero_limit", b"\x00\x3fa\nbb\n")
write(T, "tokens", b"\xff\x3f" + (good + "\n" + es + "\n").encode())

# policy_file: policy files (TOML and JSON) with the shapes `--policy` takes: paths into nested
# claims, aliases, require paths, all/any, and hostile keys and values.
T = "policy_file"
HEAD = '[[issuer]]\nurl = "https://ci.example"\njwks_file = "k.json"\naudiences = ["vault"]\n'
policy_seeds = {
    "github.toml": '[[issuer]]\nurl = "https://token.actions.githubusercontent.com"\n'
    'preset = "github-actions"\noidc = true\naudiences = ["https://github.com/acme"]\n'
    'algorithms = ["RS256"]\nmax_age = "10m"\n\n[[issuer.rule]]\nclaim = "repository_id"\neq = "2002"\n\n'
    '[[issuer.rule]]\nany = [\n  { claim = "ref", eq = "refs/heads/main" },\n'
    '  { all = [{ claim = "ref_type", eq = "tag" }, { claim = "ref", regex = \'refs/tags/v[0-9]+\' }] },\n]\n',
    "kubernetes_paths.toml": '[[issuer]]\nurl = "https://ci.example"\npreset = "kubernetes"\noidc = true\n'
    'audiences = ["vault"]\nrequire = ["sub", ["kubernetes.io", "namespace"]]\n\n[[issuer.rule]]\n'
    'claim = "sub"\nglob = "system:serviceaccount:prod:*"\n\n[[issuer.rule]]\n'
    'claim = ["kubernetes.io", "serviceaccount", "uid"]\none_of = ["1a2b3c4d", "x"]\n',
    "google_aliases.toml": '[[issuer]]\nurl = "https://accounts.google.com"\npreset = "google"\n'
    'oidc = true\naudiences = ["app"]\n[[issuer.rule]]\nclaim = "email_verified"\neq = true\n'
    '[[issuer]]\nurl = "https://ci.example"\naliases = ["ci.example", "https://ci.example/"]\n'
    'jwks_url = "https://ci.example/keys"\naudiences = ["vault"]\n[[issuer.rule]]\nclaim = "n"\none_of = [7, 7.0, -0.0, 1e300]\n',
    "hostile_keys.toml": HEAD + '[[issuer.rule]]\nclaim = ["a\\"b", "c\\u001b[2J\\n"]\neq = "\\u202ex"\n'
    '[[issuer.rule]]\nclaim = ["["]\nregex = "(a+)+$"\n[[issuer.rule]]\nclaim = " "\neq = 1\n',
    "path_limits.toml": HEAD + '[[issuer.rule]]\nclaim = [' + ", ".join(['"k"'] * 17) + ']\neq = 1\n',
    "empty_path.toml": HEAD + '[[issuer.rule]]\nclaim = []\neq = 1\n',
    "paths.json": json.dumps({"issuer": [{"url": "https://ci.example", "oidc": True, "audiences": ["vault"],
        "require": [["kubernetes.io", "namespace"]],
        "rule": [{"any": [{"claim": ["kubernetes.io", "serviceaccount", "uid"], "eq": "1a2b3c4d"},
                          {"claim": "repository_id", "one_of": ["2002", ["2002"]]}]}]}]}),
}
for name, text in policy_seeds.items():
    write(T, name, text)
