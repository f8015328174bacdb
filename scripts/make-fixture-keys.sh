#!/usr/bin/env bash
# Regenerate the openssl keys in tests/fixtures/keys (then rerun scripts/make-fixtures.py).
set -euo pipefail
cd "$(dirname "$0")/../tests/fixtures/keys"
openssl genrsa -traditional -out rsa_pkcs1.pem 2048
openssl pkcs8 -topk8 -nocrypt -in rsa_pkcs1.pem -out rsa_pkcs8.pem
openssl rsa -in rsa_pkcs1.pem -pubout -out rsa_pub_spki.pem
openssl rsa -in rsa_pkcs1.pem -RSAPublicKey_out -out rsa_pub_pkcs1.pem
openssl ecparam -name prime256v1 -genkey -out ec256_sec1.pem   # with an EC PARAMETERS block
openssl pkcs8 -topk8 -nocrypt -in ec256_sec1.pem -out ec256_pkcs8.pem
openssl ec -in ec256_sec1.pem -pubout -out ec256_pub.pem
openssl ecparam -name secp384r1 -genkey -noout -out ec384_sec1.pem
openssl pkcs8 -topk8 -nocrypt -in ec384_sec1.pem -out ec384_pkcs8.pem
openssl ec -in ec384_sec1.pem -pubout -out ec384_pub.pem
openssl ecparam -name secp521r1 -genkey -noout -out ec521_sec1.pem
openssl genpkey -algorithm ed25519 -out ed25519.pem
openssl pkey -in ed25519.pem -pubout -out ed25519_pub.pem
openssl dsaparam -genkey -noout -out dsa.pem 2048
openssl req -new -key rsa_pkcs1.pem -subj /CN=test -out csr.pem
