#!/usr/bin/env python3
"""Check tests/fixtures/formats (run by scripts/make-fixture-formats.sh; can be run on its own).

Every token is verified with both PyJWT and jwcrypto against the matching PUBLIC key, and its
header and claims are compared exactly. Keys, JWKs, certificates and OpenSSH/encrypted/text
variants are checked to hold the same key as the tests/fixtures/keys file they were made from.
Needs: pip install pyjwt jwcrypto cryptography
"""
import base64
import json
import pathlib
import re
import sys
import warnings

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization as s
from jwcrypto import jwk as jcjwk
from jwcrypto import jws as jcjws
from jwt.algorithms import RSAAlgorithm

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
KEYS = ROOT / "keys"
F = ROOT / "formats"
FAR = 4102444800
IAT = 1767225600
PW = b"test-password"
BOM = b"\xef\xbb\xbf"
warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)


def spki(key):
    return key.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)


def pub_of(name):
    return spki(s.load_pem_public_key((KEYS / name).read_bytes()))


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def check_token(name, public_pem, alg, header, claims, secret=None):
    raw = (F / name).read_text()
    assert raw.endswith("\n") and not raw.endswith("\n\n") and raw.count("\n") == 1, name
    token = raw[:-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), name
    assert b64json(token.split(".")[0]) == header, (name, b64json(token.split(".")[0]))
    # PyJWT
    key = secret if secret is not None else public_pem
    got = jwt.decode(token, key, algorithms=[alg], options={"verify_aud": False})
    assert got == claims, (name, got)
    # jwcrypto
    k = jcjwk.JWK(kty="oct", k=jwt.utils.base64url_encode(secret).decode()) if secret is not None \
        else jcjwk.JWK.from_pem(public_pem)
    assert not k.has_private
    sig = jcjws.JWS()
    sig.deserialize(token)
    sig.verify(k, alg=alg)
    assert json.loads(sig.payload) == claims, name
    print(f"ok  {name}: {alg}, PyJWT + jwcrypto")


rsa_pub = (KEYS / "rsa_pub_spki.pem").read_bytes()
jose_claims = {"sub": "jose", "iss": "node-jose", "iat": IAT, "exp": FAR}
check_token("rsa_jose.jwt", rsa_pub, "RS256", {"alg": "RS256", "typ": "JWT", "kid": "rsa-jose"}, jose_claims)
check_token("rsa_jose_ps256.jwt", rsa_pub, "PS256", {"alg": "PS256", "typ": "JWT", "kid": "rsa-jose"},
            jose_claims)
check_token("rsa_jwcrypto.jwt", rsa_pub, "RS256", {"alg": "RS256", "typ": "JWT", "kid": "rsa-jwcrypto"},
            {**jose_claims, "iss": "jwcrypto"})
check_token("rsa1024.jwt", (F / "rsa1024_pub.pem").read_bytes(), "RS256", {"alg": "RS256", "typ": "JWT"},
            {"sub": "weak", "exp": FAR})
check_token("es256_nojti.jwt", (KEYS / "ec256_pub.pem").read_bytes(), "ES256", {"alg": "ES256", "typ": "JWT"},
            {"sub": "twin", "exp": FAR})
check_token("es384_nojti.jwt", (KEYS / "ec384_pub.pem").read_bytes(), "ES384", {"alg": "ES384", "typ": "JWT"},
            {"sub": "twin", "exp": FAR})
jwks = json.loads((F / "jwks_oct_mixed.json").read_text())
assert [(k["kty"], k["kid"], k["alg"]) for k in jwks["keys"]] == [("oct", "hs384", "HS384"), ("oct", "hs256", "HS256")]
for k, size in zip(jwks["keys"], (64, 32)):
    secret = base64.urlsafe_b64decode(k["k"] + "=" * (-len(k["k"]) % 4))
    assert len(secret) == size, k["kid"]
    check_token(f"oct_{k['kid']}.jwt", None, k["alg"], {"alg": k["alg"], "typ": "JWT", "kid": k["kid"]},
                {"sub": "oct", "exp": FAR}, secret=secret)

# Private RSA JWKs: same key as keys/rsa_pkcs8.pem.
rsa_priv = s.load_pem_private_key((KEYS / "rsa_pkcs8.pem").read_bytes(), password=None)
want = rsa_priv.private_numbers()
for name, kid, members in (("rsa_private_jose.jwk", "rsa-jose", {"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"}),
                           ("rsa_private_jwcrypto.jwk", "rsa-jwcrypto", {"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"}),
                           ("rsa_private_nocrt.jwk", "rsa-nocrt", {"kty", "n", "e", "d"})):
    j = json.loads((F / name).read_text())
    assert j["kid"] == kid and members <= set(j) and j["kty"] == "RSA", name
    if name.endswith("nocrt.jwk"):
        assert set(j) == members | {"kid"}, name
    got = RSAAlgorithm.from_jwk(j).private_numbers()  # PyJWT recovers p, q when absent
    assert (got.d, got.public_numbers) == (want.d, want.public_numbers), name
    if "p" in j:  # jwcrypto 1.6 cannot use a private RSA JWK without p and q
        assert jcjwk.JWK(**j).export_to_pem(private_key=True, password=None)
    print(f"ok  {name}: kid {kid}, matches keys/rsa_pkcs8.pem")
weak = json.loads((F / "rsa1024_pub.jwk").read_text())
assert weak["kty"] == "RSA" and {"n", "e"} <= set(weak) and "d" not in weak
assert spki(RSAAlgorithm.from_jwk(weak)) == spki(s.load_pem_public_key((F / "rsa1024_pub.pem").read_bytes()))
rsa1024 = s.load_pem_private_key((F / "rsa1024.pem").read_bytes(), password=None)
assert rsa1024.key_size == 1024 and spki(rsa1024.public_key()) == spki(RSAAlgorithm.from_jwk(weak))
assert (F / "rsa1024.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")

# Encrypted, DER, bag and text variants hold the original keys.
def priv_spki(data, fmt="pem", password=None):
    load = s.load_pem_private_key if fmt == "pem" else s.load_der_private_key
    return spki(load(data, password=password).public_key())


for name, src, password, fmt, first in (
        ("rsa_pkcs8_encrypted.pem", "rsa_pub_spki.pem", PW, "pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        ("rsa_traditional_encrypted.pem", "rsa_pub_spki.pem", PW, "pem", "-----BEGIN RSA PRIVATE KEY-----"),
        ("ec256_traditional_encrypted.pem", "ec256_pub.pem", PW, "pem", "-----BEGIN EC PRIVATE KEY-----"),
        ("rsa_pkcs8_encrypted.der", "rsa_pub_spki.pem", PW, "der", None),
        ("rsa_pkcs1.der", "rsa_pub_spki.pem", None, "der", None),
        ("rsa_pkcs8.der", "rsa_pub_spki.pem", None, "der", None),
        ("ec256_sec1.der", "ec256_pub.pem", None, "der", None),
        ("ec256_pkcs8.der", "ec256_pub.pem", None, "der", None),
        ("ed25519_pkcs8.der", "ed25519_pub.pem", None, "der", None),
        ("rsa_bag.pem", "rsa_pub_spki.pem", None, "pem", "Bag Attributes"),
        ("rsa_bag_key_only.pem", "rsa_pub_spki.pem", None, "pem", "Bag Attributes")):
    data = (F / name).read_bytes()
    if first:
        assert data.decode().startswith(first), name
    if "traditional" in name:
        assert b"Proc-Type: 4,ENCRYPTED" in data, name
    if password:
        try:
            priv_spki(data, fmt)
            raise AssertionError(f"{name} loads without a password")
        except TypeError:
            pass
    assert priv_spki(data, fmt, password) == pub_of(src), name
    print(f"ok  {name}: same key as keys/{src}")
bag = (F / "rsa_bag.pem").read_text()
assert bag.count("-----BEGIN PRIVATE KEY-----") == 1 and bag.count("-----BEGIN CERTIFICATE-----") == 1
key_only = (F / "rsa_bag_key_only.pem").read_text()
assert key_only.count("-----BEGIN PRIVATE KEY-----") == 1 and "CERTIFICATE" not in key_only
for name, src in (("rsa_pub_spki.der", "rsa_pub_spki.pem"), ("ec256_pub.der", "ec256_pub.pem"),
                  ("ec384_pub.der", "ec384_pub.pem"), ("ed25519_pub.der", "ed25519_pub.pem")):
    assert (F / name).read_bytes() == pub_of(src), name
assert spki(s.load_der_public_key((F / "rsa_pub_pkcs1.der").read_bytes())) == pub_of("rsa_pub_spki.pem")
assert (F / "rsa_pub_pkcs1.der").read_bytes() == s.load_pem_public_key(rsa_pub).public_bytes(
    s.Encoding.DER, s.PublicFormat.PKCS1)
ec521 = s.load_pem_private_key((KEYS / "ec521_sec1.pem").read_bytes(), password=None)
assert (F / "ec521_pub.der").read_bytes() == spki(ec521.public_key())
dsa = s.load_pem_private_key((KEYS / "dsa.pem").read_bytes(), password=None)
assert (F / "dsa_pub.der").read_bytes() == spki(dsa.public_key())
assert (F / "rsa_pub_bom.pem").read_bytes() == BOM + rsa_pub
assert (F / "rsa_public_bom.jwk").read_bytes() == BOM + (ROOT / "pyjwt" / "rsa_public.jwk").read_bytes()
ws = (F / "ec256_pub_ws.pem").read_bytes()
assert ws[:1] == b"\n" and spki(s.load_pem_public_key(ws)) == pub_of("ec256_pub.pem")
assert (F / "password.txt").read_bytes() == PW + b"\n"
print("ok  DER, BOM, whitespace and password.txt variants")

# Certificates.
def cert(name):
    data = (F / name).read_bytes()
    return x509.load_der_x509_certificate(data) if name.endswith(".der") else x509.load_pem_x509_certificate(data)


for name, src in (("rsa_cert.pem", "rsa_pub_spki.pem"), ("rsa_cert.der", "rsa_pub_spki.pem"),
                  ("ec256_cert.pem", "ec256_pub.pem"), ("ec256_cert.der", "ec256_pub.pem"),
                  ("ec384_cert.pem", "ec384_pub.pem"), ("ed25519_cert.pem", "ed25519_pub.pem"),
                  ("ed25519_cert.der", "ed25519_pub.pem"), ("rsa_cert_expired.pem", "rsa_pub_spki.pem"),
                  ("chain_rsa_leaf.pem", "rsa_pub_spki.pem")):
    c = cert(name)
    assert spki(c.public_key()) == pub_of(src), name
    if name == "rsa_cert_expired.pem":
        assert c.not_valid_after_utc.year == 2001, name
    else:
        assert c.not_valid_after_utc.year >= 2100, name
    print(f"ok  {name}: key of keys/{src}, not after {c.not_valid_after_utc:%Y-%m-%d}")
chain = x509.load_pem_x509_certificates((F / "chain_rsa_leaf.pem").read_bytes())
assert len(chain) == 2 and chain[0].issuer == chain[1].subject and chain[0].subject != chain[0].issuer
chain[0].verify_directly_issued_by(chain[1])
assert cert("rsa_cert.der") == cert("rsa_cert.pem")

# OpenSSH.
def ssh_pub(name):
    return spki(s.load_ssh_public_key((F / name).read_bytes()))


assert ssh_pub("ssh_rsa.pub") == pub_of("rsa_pub_spki.pem")
assert ssh_pub("ssh_ecdsa256.pub") == pub_of("ec256_pub.pem")
assert ssh_pub("ssh_ed25519.pub") == pub_of("ed25519_pub.pem")
ossh = (F / "ssh_ed25519").read_bytes()
assert ossh.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
assert spki(s.load_ssh_private_key(ossh, password=None).public_key()) == pub_of("ed25519_pub.pem")
ssh2 = (F / "ssh2_rsa.pub").read_text()
assert ssh2.startswith("---- BEGIN SSH2 PUBLIC KEY ----")
body = "".join(l for l in ssh2.splitlines()[1:-1] if ":" not in l)
assert body == (F / "ssh_rsa.pub").read_text().split()[1]
print("ok  OpenSSH keys match keys/rsa_pub_spki.pem, ec256_pub.pem, ed25519_pub.pem")
print("all formats fixtures ok")
sys.exit(0)
