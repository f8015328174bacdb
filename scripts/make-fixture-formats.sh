#!/usr/bin/env bash
# Regenerate tests/fixtures/formats: the existing openssl keys in tests/fixtures/keys in other
# encodings and containers, made by independent tools, plus tokens signed by other libraries.
#   - DER keys (openssl), incl. a P-521 public key and an unsupported DSA one, encrypted PKCS#8
#   - self-signed X.509 certificates (PEM and DER), an expired one (openssl ca), a leaf+CA chain
#   - OpenSSH public keys, an OpenSSH private key, an RFC 4716 public key (ssh-keygen, cryptography)
#   - text variants: UTF-8 BOM, leading whitespace, `openssl pkcs12 -nodes` "Bag Attributes" output
#   - encrypted PEMs (PKCS#8 and traditional, password in password.txt)
#   - a weak 1024-bit RSA key with its JWK and an RS256 token (PyJWT)
#   - RSA private JWKs of keys/rsa_pkcs8.pem from node `jose` and python jwcrypto, and tokens
#   - a mixed-strength oct JWK Set with HS256/HS384 tokens, and kid-less/jti-less ES256/ES384 tokens
# Keys in tests/fixtures/keys and files elsewhere are only read. Freshly generated each run (so they
# differ between runs): the throwaway CA key, rsa1024*, the oct keys, certificate serials/dates.
# Every token expires 2100-01-01 (exp 4102444800). Finishes by running verify-fixture-formats.py.
#
# Needs: openssl, ssh-keygen (apt-get install openssh-client), node + npm, python3 with
#   pip install pyjwt jwcrypto cryptography
# node `jose` is installed (npm install jose) into $JOSE_DIR (default /tmp/jose-work), outside the repo.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "$0")" && pwd)"
FIX="$SCRIPTS/../tests/fixtures"
KEYS="$FIX/keys"
OUT="$FIX/formats"
PW=test-password
JOSE_DIR="${JOSE_DIR:-/tmp/jose-work}"

python3 -c 'import jwt, jwcrypto, cryptography' 2>/dev/null \
  || { echo "need: pip install pyjwt jwcrypto cryptography" >&2; exit 1; }
command -v ssh-keygen >/dev/null || { echo "need ssh-keygen: apt-get install openssh-client" >&2; exit 1; }
if [ ! -d "$JOSE_DIR/node_modules/jose" ]; then
  mkdir -p "$JOSE_DIR"
  (cd "$JOSE_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent jose)
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
cd "$OUT"

# --- 1. DER encodings (openssl) --------------------------------------------------------------
openssl pkey -pubin -in "$KEYS/rsa_pub_spki.pem" -outform DER -out rsa_pub_spki.der
openssl rsa -RSAPublicKey_in -in "$KEYS/rsa_pub_pkcs1.pem" -RSAPublicKey_out -outform DER -out rsa_pub_pkcs1.der
openssl rsa -in "$KEYS/rsa_pkcs1.pem" -traditional -outform DER -out rsa_pkcs1.der
openssl pkcs8 -topk8 -nocrypt -in "$KEYS/rsa_pkcs8.pem" -outform DER -out rsa_pkcs8.der
openssl pkey -pubin -in "$KEYS/ec256_pub.pem" -outform DER -out ec256_pub.der
openssl ec -in "$KEYS/ec256_sec1.pem" -outform DER -out ec256_sec1.der 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$KEYS/ec256_pkcs8.pem" -outform DER -out ec256_pkcs8.der
openssl pkey -pubin -in "$KEYS/ec384_pub.pem" -outform DER -out ec384_pub.der
openssl pkcs8 -topk8 -nocrypt -in "$KEYS/ed25519.pem" -outform DER -out ed25519_pkcs8.der
openssl pkey -pubin -in "$KEYS/ed25519_pub.pem" -outform DER -out ed25519_pub.der
# kinds jwtctl does not support
openssl ec -in "$KEYS/ec521_sec1.pem" -pubout -outform DER -out ec521_pub.der 2>/dev/null
openssl dsa -in "$KEYS/dsa.pem" -pubout -outform DER -out dsa_pub.der 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$KEYS/rsa_pkcs8.pem" -passout "pass:$PW" \
  -outform DER -out rsa_pkcs8_encrypted.der

# --- 2. X.509 certificates (openssl) ---------------------------------------------------------
selfsigned() { # key subject-cn out.pem [digest]
  openssl req -x509 -new -key "$1" -subj "/CN=$2" -days 36500 ${4:+-"$4"} -out "$3"
}
selfsigned "$KEYS/rsa_pkcs8.pem" jwtctl-fixture-rsa rsa_cert.pem sha256
selfsigned "$KEYS/ec256_pkcs8.pem" jwtctl-fixture-ec256 ec256_cert.pem sha256
selfsigned "$KEYS/ec384_pkcs8.pem" jwtctl-fixture-ec384 ec384_cert.pem sha384
selfsigned "$KEYS/ed25519.pem" jwtctl-fixture-ed25519 ed25519_cert.pem
for c in rsa ec256 ed25519; do openssl x509 -in "${c}_cert.pem" -outform DER -out "${c}_cert.der"; done

# Expired: OpenSSL 3.0's req/x509 have no -not_before/-not_after, so `openssl ca -selfsign`
# with explicit -startdate/-enddate (2000-01-01 .. 2001-01-01).
mkdir -p "$TMP/ca/new"
: > "$TMP/ca/index.txt"
openssl rand -hex 8 > "$TMP/ca/serial"
cat > "$TMP/ca/ca.cnf" <<EOF
[ ca ]
default_ca = ca_default
[ ca_default ]
database = $TMP/ca/index.txt
new_certs_dir = $TMP/ca/new
serial = $TMP/ca/serial
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
EOF
openssl req -new -key "$KEYS/rsa_pkcs8.pem" -subj /CN=jwtctl-fixture-rsa-expired -out "$TMP/expired.csr"
openssl ca -batch -notext -config "$TMP/ca/ca.cnf" -selfsign -keyfile "$KEYS/rsa_pkcs8.pem" \
  -in "$TMP/expired.csr" -startdate 20000101000000Z -enddate 20010101000000Z \
  -out rsa_cert_expired.pem 2>/dev/null

# Chain: leaf for keys/rsa_pkcs8.pem signed by a throwaway CA; the leaf first, then the CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ca.key"
openssl req -x509 -new -key "$TMP/ca.key" -subj "/CN=jwtctl throwaway CA" -days 36500 -sha256 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -out "$TMP/ca.pem"
openssl req -new -key "$KEYS/rsa_pkcs8.pem" -subj /CN=jwtctl-fixture-rsa-leaf -out "$TMP/leaf.csr"
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$TMP/leaf.ext"
openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -days 36500 -sha256 -extfile "$TMP/leaf.ext" \
  -out "$TMP/leaf.pem" 2>/dev/null
cat "$TMP/leaf.pem" "$TMP/ca.pem" > chain_rsa_leaf.pem

# --- 3. OpenSSH formats (ssh-keygen; python cryptography for the Ed25519 private key) ---------
ssh-keygen -i -m PKCS8 -f "$KEYS/rsa_pub_spki.pem" > ssh_rsa.pub
ssh-keygen -i -m PKCS8 -f "$KEYS/ec256_pub.pem" > ssh_ecdsa256.pub
# OpenSSH 9.2's ssh-keygen cannot read Ed25519 PEM/PKCS#8 ("unsupported pubkey type"), so
# cryptography rewrites keys/ed25519.pem as an unencrypted OpenSSH private key, and ssh-keygen
# derives the public line from that file (ssh-keygen wants the private key file to be 0600).
python3 - "$KEYS/ed25519.pem" ssh_ed25519 <<'EOF'
import sys
from cryptography.hazmat.primitives import serialization as s
key = s.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
open(sys.argv[2], "wb").write(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.OpenSSH, s.NoEncryption()))
EOF
cp ssh_ed25519 "$TMP/ssh_ed25519" && chmod 600 "$TMP/ssh_ed25519"
ssh-keygen -y -f "$TMP/ssh_ed25519" > ssh_ed25519.pub
ssh-keygen -e -f ssh_rsa.pub > ssh2_rsa.pub   # RFC 4716 "---- BEGIN SSH2 PUBLIC KEY ----"

# --- 4. Text variants ------------------------------------------------------------------------
BOM=$'\xEF\xBB\xBF'
{ printf '%s' "$BOM"; cat "$KEYS/rsa_pub_spki.pem"; } > rsa_pub_bom.pem
{ printf '\n\n   \n\t\n'; cat "$KEYS/ec256_pub.pem"; printf '  \n\n'; } > ec256_pub_ws.pem
{ printf '%s' "$BOM"; cat "$FIX/pyjwt/rsa_public.jwk"; } > rsa_public_bom.jwk
openssl pkcs12 -export -inkey "$KEYS/rsa_pkcs8.pem" -in rsa_cert.pem -name jwtctl-fixture-rsa \
  -passout pass:x -out "$TMP/rsa.p12"
openssl pkcs12 -in "$TMP/rsa.p12" -nodes -passin pass:x -out rsa_bag.pem
openssl pkcs12 -in "$TMP/rsa.p12" -nodes -nocerts -passin pass:x -out rsa_bag_key_only.pem

# --- 5. Encrypted PEMs (password test-password) ----------------------------------------------
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$KEYS/rsa_pkcs8.pem" -passout "pass:$PW" -out rsa_pkcs8_encrypted.pem
openssl rsa -in "$KEYS/rsa_pkcs1.pem" -aes128 -traditional -passout "pass:$PW" -out rsa_traditional_encrypted.pem 2>/dev/null
openssl ec -in "$KEYS/ec256_sec1.pem" -aes128 -passout "pass:$PW" -out ec256_traditional_encrypted.pem 2>/dev/null
printf '%s\n' "$PW" > password.txt

# --- 6. Weak RSA (openssl key; JWK and token by PyJWT in the python helper) ------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem 2>/dev/null
openssl pkey -in rsa1024.pem -pubout -out rsa1024_pub.pem

# --- 7. node jose: private JWK of keys/rsa_pkcs8.pem, RS256 and PS256 tokens -----------------
node "$SCRIPTS/make-fixture-formats-jose.mjs" "$JOSE_DIR" "$KEYS/rsa_pkcs8.pem" "$OUT"

# --- 6-9. python: rsa1024 JWK/token, jwcrypto JWKs/token, oct JWK Set + tokens, ES tokens ---
python3 "$SCRIPTS/make-fixture-formats.py"

# --- README ----------------------------------------------------------------------------------
cat > README.md <<'EOF'
# tests/fixtures/formats

Made by `scripts/make-fixture-formats.sh` (helpers: `make-fixture-formats-jose.mjs`,
`make-fixture-formats.py`; checked by `verify-fixture-formats.py`) from the keys in
`../keys` unless noted. Every token here expires 2100-01-01T00:00:00Z (`exp` 4102444800).
Password of every encrypted file: `test-password` (also in `password.txt`).
Generated fresh on each run (so they change when the script is rerun): the throwaway CA in
`chain_rsa_leaf.pem`, `rsa1024*`, the oct keys and their tokens, certificate serials and dates,
and the random salts/IVs/signatures inside the encrypted files, ECDSA/PSS tokens and `ssh_ed25519`.

## DER keys (openssl)
- rsa_pub_spki.der: keys/rsa_pub_spki.pem as DER SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER`)
- rsa_pub_pkcs1.der: keys/rsa_pub_pkcs1.pem as DER PKCS#1 RSAPublicKey (`openssl rsa -RSAPublicKey_in -RSAPublicKey_out -outform DER`)
- rsa_pkcs1.der: keys/rsa_pkcs1.pem as DER PKCS#1 RSAPrivateKey (`openssl rsa -traditional -outform DER`)
- rsa_pkcs8.der: keys/rsa_pkcs8.pem as DER PKCS#8 (`openssl pkcs8 -topk8 -nocrypt -outform DER`)
- ec256_pub.der: keys/ec256_pub.pem as DER SPKI (openssl pkey)
- ec256_sec1.der: keys/ec256_sec1.pem as DER SEC1 ECPrivateKey (`openssl ec -outform DER`)
- ec256_pkcs8.der: keys/ec256_pkcs8.pem as DER PKCS#8 (openssl pkcs8)
- ec384_pub.der: keys/ec384_pub.pem as DER SPKI (openssl pkey)
- ed25519_pkcs8.der: keys/ed25519.pem as DER PKCS#8 (openssl pkcs8)
- ed25519_pub.der: keys/ed25519_pub.pem as DER SPKI (openssl pkey)
- ec521_pub.der: P-521 public key of keys/ec521_sec1.pem, DER SPKI (`openssl ec -pubout`)
- dsa_pub.der: unsupported: DSA public key of keys/dsa.pem, DER SPKI (`openssl dsa -pubout`)
- rsa_pkcs8_encrypted.der: keys/rsa_pkcs8.pem as DER encrypted PKCS#8, PBES2 AES-256-CBC (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)

## X.509 certificates (openssl)
- rsa_cert.pem, rsa_cert.der: self-signed, key keys/rsa_pkcs8.pem, CN jwtctl-fixture-rsa, valid 36500 days from generation (`openssl req -x509 -days 36500`; DER by `openssl x509 -outform DER`)
- ec256_cert.pem, ec256_cert.der: the same for keys/ec256_pkcs8.pem (ecdsa-with-SHA256)
- ec384_cert.pem: the same for keys/ec384_pkcs8.pem (ecdsa-with-SHA384)
- ed25519_cert.pem, ed25519_cert.der: the same for keys/ed25519.pem (Ed25519)
- rsa_cert_expired.pem: self-signed for keys/rsa_pkcs8.pem, valid 2000-01-01 to 2001-01-01 (`openssl ca -selfsign -startdate -enddate`, as OpenSSL 3.0 req/x509 lack -not_before/-not_after)
- chain_rsa_leaf.pem: a leaf certificate for keys/rsa_pkcs8.pem (CN jwtctl-fixture-rsa-leaf) signed by a throwaway P-256 CA (`openssl x509 -req -CA`), followed by the CA's self-signed certificate; the CA key is discarded

## OpenSSH (ssh-keygen, OpenSSH 9.2)
- ssh_rsa.pub: keys/rsa_pub_spki.pem as an OpenSSH `ssh-rsa` line (`ssh-keygen -i -m PKCS8`)
- ssh_ecdsa256.pub: keys/ec256_pub.pem as an `ecdsa-sha2-nistp256` line (`ssh-keygen -i -m PKCS8`)
- ssh_ed25519: keys/ed25519.pem as an unencrypted `-----BEGIN OPENSSH PRIVATE KEY-----` file (python cryptography `PrivateFormat.OpenSSH`; ssh-keygen 9.2 cannot read Ed25519 PKCS#8)
- ssh_ed25519.pub: its `ssh-ed25519` line (`ssh-keygen -y -f ssh_ed25519`)
- ssh2_rsa.pub: ssh_rsa.pub as an RFC 4716 `---- BEGIN SSH2 PUBLIC KEY ----` block (`ssh-keygen -e`)

## Text variants
- rsa_pub_bom.pem: UTF-8 BOM (EF BB BF) then keys/rsa_pub_spki.pem (printf + cat)
- ec256_pub_ws.pem: keys/ec256_pub.pem after blank and whitespace-only lines (spaces, a tab) and followed by some (printf + cat)
- rsa_public_bom.jwk: UTF-8 BOM then ../pyjwt/rsa_public.jwk (printf + cat)
- rsa_bag.pem: `openssl pkcs12 -nodes` output of a .p12 of keys/rsa_pkcs8.pem + rsa_cert.pem: "Bag Attributes" + subject/issuer lines, the certificate, then "Bag Attributes"/"Key Attributes" lines and the PKCS#8 private key
- rsa_bag_key_only.pem: the same with `-nocerts`: only the key block with its "Bag Attributes"

## Encrypted PEMs (openssl, password test-password)
- rsa_pkcs8_encrypted.pem: keys/rsa_pkcs8.pem as `-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2 AES-256-CBC (`openssl pkcs8 -topk8 -v2 aes-256-cbc`)
- rsa_traditional_encrypted.pem: keys/rsa_pkcs1.pem as `BEGIN RSA PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED`, AES-128-CBC (`openssl rsa -aes128 -traditional`)
- ec256_traditional_encrypted.pem: keys/ec256_sec1.pem as `BEGIN EC PRIVATE KEY` with `Proc-Type: 4,ENCRYPTED`, AES-128-CBC (`openssl ec -aes128`)
- password.txt: `test-password` and a newline

## Weak RSA
- rsa1024.pem: a new 1024-bit RSA private key, PKCS#8 (`openssl genpkey`)
- rsa1024_pub.pem: its SPKI public key (openssl pkey -pubout)
- rsa1024_pub.jwk: its public JWK, kty/n/e (PyJWT `RSAAlgorithm.to_jwk`)
- rsa1024.jwt: RS256, claims {"sub":"weak","exp":4102444800}, no kid (PyJWT)

## RSA private JWKs of keys/rsa_pkcs8.pem and tokens from other libraries
- rsa_private_jose.jwk: node `jose` 6 `exportJWK` of the imported PKCS#8 key (n,e,d,p,q,dp,dq,qi) + kid "rsa-jose"
- rsa_private_jwcrypto.jwk: python jwcrypto `JWK.from_pem(...).export_private()` + kid "rsa-jwcrypto"
- rsa_private_nocrt.jwk: the same key with only kty,n,e,d + kid "rsa-nocrt" (cut from the jwcrypto export; jwcrypto itself cannot load it)
- rsa_jose.jwt: RS256 by node jose `SignJWT`, header kid "rsa-jose", claims {"sub":"jose","iss":"node-jose","iat":1767225600,"exp":4102444800}
- rsa_jose_ps256.jwt: the same claims and kid, PS256, by node jose
- rsa_jwcrypto.jwt: RS256 by jwcrypto, kid "rsa-jwcrypto", the same claims with "iss":"jwcrypto"

## oct JWK Set and ES tokens
- jwks_oct_mixed.json: {"keys":[{kty oct, kid hs384, alg HS384, k: 64 random bytes}, {kty oct, kid hs256, alg HS256, k: 32 random bytes}]} (keys by jwcrypto `JWK.generate`)
- oct_hs384.jwt: HS384 with the hs384 key, header kid "hs384", claims {"sub":"oct","exp":4102444800} (PyJWT)
- oct_hs256.jwt: HS256 with the hs256 key, header kid "hs256", same claims (PyJWT)
- es256_nojti.jwt: ES256 with keys/ec256_pkcs8.pem, claims {"sub":"twin","exp":4102444800}, no jti, no kid (PyJWT)
- es384_nojti.jwt: ES384 with keys/ec384_pkcs8.pem, same claims, no jti, no kid (PyJWT)

All tokens carry `"typ":"JWT"` in the header and are stored as the token plus one newline.
EOF

# --- checks ----------------------------------------------------------------------------------
for f in rsa_pub_spki rsa_pub_pkcs1 ec256_pub ec384_pub ed25519_pub ec521_pub dsa_pub; do
  if [ "$f" = rsa_pub_pkcs1 ]; then
    openssl rsa -RSAPublicKey_in -inform DER -in "$f.der" -noout 2>/dev/null
  else
    openssl pkey -pubin -inform DER -in "$f.der" -noout
  fi
done
for f in rsa_pkcs1 rsa_pkcs8 ec256_sec1 ec256_pkcs8 ed25519_pkcs8; do
  openssl pkey -inform DER -in "$f.der" -noout
done
openssl pkey -inform DER -in rsa_pkcs8_encrypted.der -passin "pass:$PW" -noout
for c in rsa ec256 ed25519; do openssl x509 -inform DER -in "${c}_cert.der" -noout; done
openssl verify -CAfile "$TMP/ca.pem" chain_rsa_leaf.pem > /dev/null   # reads the first (leaf) cert
if openssl x509 -in rsa_cert_expired.pem -noout -checkend 0 > /dev/null; then
  echo "rsa_cert_expired.pem is not expired" >&2; exit 1
fi
python3 "$SCRIPTS/verify-fixture-formats.py"
echo "wrote $(ls | wc -l) files to tests/fixtures/formats"
