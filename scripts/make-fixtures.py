#!/usr/bin/env python3
"""Regenerate the interop fixtures in tests/fixtures with PyJWT (an independent implementation).

Keys come from openssl (tests/fixtures/keys, see scripts/make-fixture-keys.sh). Tokens expire in
2100 so they do not rot. Run: pip install pyjwt cryptography && python3 scripts/make-fixtures.py
"""
import json
import pathlib

import jwt
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives import serialization

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
KEYS = ROOT / "keys"
OUT = ROOT / "pyjwt"
OUT.mkdir(exist_ok=True)
FAR = 4102444800  # 2100-01-01T00:00:00Z
IAT = 1767225600  # 2026-01-01T00:00:00Z
CLAIMS = {"sub": "interop", "iss": "pyjwt", "iat": IAT, "exp": FAR, "role": {"admin": True}}

# A strong HMAC secret, stored as a key file (one trailing newline, which jwtctl strips).
SECRET = "pyjwt-interop-secret-0123456789-abcdefghijklmnop"
(OUT / "hmac.key").write_text(SECRET + "\n")


def pem(name):
    return (KEYS / name).read_bytes()


def write(name, token):
    (OUT / name).write_text(token + "\n")


write("hs256.jwt", jwt.encode(CLAIMS, SECRET, algorithm="HS256"))
write("hs512.jwt", jwt.encode(CLAIMS, SECRET + SECRET, algorithm="HS512"))
(OUT / "hmac512.key").write_text(SECRET + SECRET + "\n")
for alg in ("RS256", "RS384", "RS512", "PS256"):
    write(f"{alg.lower()}.jwt", jwt.encode(CLAIMS, pem("rsa_pkcs8.pem"), algorithm=alg))
write("es256.jwt", jwt.encode(CLAIMS, pem("ec256_pkcs8.pem"), algorithm="ES256"))
write("es384.jwt", jwt.encode(CLAIMS, pem("ec384_pkcs8.pem"), algorithm="ES384"))
write("eddsa.jwt", jwt.encode(CLAIMS, pem("ed25519.pem"), algorithm="EdDSA"))
write("kid.jwt", jwt.encode(CLAIMS, pem("ec256_pkcs8.pem"), algorithm="ES256",
                             headers={"kid": "ec-2026"}))

# The old Python snippet's tokens: only user_id and exp, a weak secret.
(OUT / "legacy.key").write_text("SECRET_KEY\n")
write("legacy.jwt", jwt.encode({"user_id": 42, "exp": FAR}, "SECRET_KEY", algorithm="HS256"))

# JWKs exported by PyJWT from the same openssl keys.
def load_private(name):
    return serialization.load_pem_private_key(pem(name), password=None)


def dump(name, jwk, **extra):
    jwk = json.loads(jwk) if isinstance(jwk, str) else jwk
    jwk.update(extra)
    (OUT / name).write_text(json.dumps(jwk, indent=2) + "\n")


dump("ec256_private.jwk", ECAlgorithm.to_jwk(load_private("ec256_pkcs8.pem")), kid="ec-2026")
dump("ec256_public.jwk", ECAlgorithm.to_jwk(load_private("ec256_pkcs8.pem").public_key()))
dump("ed25519_private.jwk", OKPAlgorithm.to_jwk(load_private("ed25519.pem")))
dump("rsa_public.jwk", RSAAlgorithm.to_jwk(load_private("rsa_pkcs8.pem").public_key()), use="sig")
dump("oct.jwk", {"kty": "oct", "k": jwt.utils.base64url_encode(SECRET.encode()).decode(),
                 "kid": "hmac-1", "alg": "HS256"})

# A JWK Set made here (cryptography + PyJWT), with tokens chosen from it by kid.
from cryptography.hazmat.primitives.asymmetric import ec, rsa

set_keys = {
    "rsa-1": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", RSAAlgorithm),
    "ec-1": (ec.generate_private_key(ec.SECP256R1()), "ES256", ECAlgorithm),
    "ec384-1": (ec.generate_private_key(ec.SECP384R1()), "ES384", ECAlgorithm),
    "rsa-enc": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", RSAAlgorithm),
}
entries = []
for kid, (key, alg, algo) in set_keys.items():
    jwk = json.loads(algo.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="enc" if kid == "rsa-enc" else "sig")
    if kid == "ec-1":
        jwk["alg"] = "ES256"
    entries.append(jwk)
(OUT / "jwks.json").write_text(json.dumps({"keys": entries}, indent=2) + "\n")
(OUT / "jwks_single.json").write_text(json.dumps({"keys": [entries[1]]}, indent=2) + "\n")
for kid, (key, alg, _) in set_keys.items():
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write(f"jwks_{kid}.jwt", jwt.encode(CLAIMS, pem_key, algorithm=alg, headers={"kid": kid}))
ec_pem = set_keys["ec-1"][0].private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
write("jwks_nokid.jwt", jwt.encode(CLAIMS, ec_pem, algorithm="ES256"))
