#!/usr/bin/env bash
# Start a private PostgreSQL server for the ledger tests, on loopback only, and print the
# variables the tests read (eval its output). It listens on a Unix socket in DIR (trust, for the
# tests' administrator connection) and on 127.0.0.1:PORT with TLS (a CA and server certificate
# made here by openssl) and SCRAM password authentication for the role jwtctl_test.
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql). As root, the server
# runs as the postgres user. Usage: eval "$(scripts/pg-test-server.sh DIR [PORT])" (default: a free port)
# Stop it with: pg_ctl -D DIR/data stop (as the same user).
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=${2:-$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg-test-server: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
chmod 700 "$dir"

# TLS: a CA, and a certificate for localhost and 127.0.0.1 that it signs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=jwtctl-test-ca \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 3650 -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null
chmod 600 "$dir/server.key"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir/server.key" "$dir/server.pem"; fi

as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '$dir/server.pem'
ssl_key_file = '$dir/server.key'
max_connections = 200
fsync = off
EOF
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
"$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres \
  -c "CREATE ROLE jwtctl_test LOGIN CREATEDB PASSWORD 'test-password-not-secret'" >/dev/null
echo "export JWTCTL_TEST_POSTGRES='postgres://postgres@/postgres?host=$dir&port=$port'"
echo "export JWTCTL_TEST_POSTGRES_TCP='127.0.0.1:$port'"
# Clients get the CA from a directory of the caller's own: jwtctl refuses a CA file in a
# directory another user (here the server's) owns, as someone who could replace it.
mkdir -p "$dir.client" && cp "$dir/ca.pem" "$dir.client/ca.pem"
echo "export JWTCTL_TEST_POSTGRES_CA='$dir.client/ca.pem'"
