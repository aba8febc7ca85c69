#!/usr/bin/env bash
# Test PKI in the CA layout contract (docs/ca.md), made with openssl until `secctl certs issue`
# is on main: root -> intermediate -> leaves, chain/bundle files and CRLs for both CA levels.
# The live tests use `secctl certs issue`; this script covers what it cannot make: a foreign CA
# and a revoked certificate.
# Usage: pki.sh full <pki_dir> <org> <svc>... ; also writes <pki_dir>/rogue/ (a foreign CA + client cert),
# <pki_dir>/services/intruder (a valid cert for an identity no flow allows) and
# <pki_dir>/services/worker-revoked (CN=worker, revoked in the CRL).
#        pki.sh rogue <pki_dir> <org>   : only <pki_dir>/rogue/ (next to a PKI made by secctl).
set -euo pipefail
MODE=$1; P=$2; ORG=$3; shift 3
mkdir -p "$P/work"
cd "$P/work"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
cadb() { mkdir -p "$1"; : > "$1/index.txt"; echo 1000 > "$1/crlnumber"; cat > "$1/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $1/index.txt
crlnumber = $1/crlnumber
default_md = sha256
default_crl_days = 30
CNF
}
cat > ext.cnf <<'CNF'
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
leaf() { # dir cn eku san cacrt cakey
  local d=$1 cn=$2 eku=$3 san=$4 cacrt=$5 cakey=$6 kind=$7
  mkdir -p "$d"
  key "$d/$kind.key"
  openssl req -new -key "$d/$kind.key" -subj "/O=$ORG/CN=$cn" -out "$d/$kind.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$eku" "$san" > "$d/$kind.ext"
  openssl x509 -req -in "$d/$kind.csr" -CA "$cacrt" -CAkey "$cakey" -CAcreateserial -days 20 -extfile "$d/$kind.ext" -out "$d/$kind.crt" 2>/dev/null
  rm -f "$d/$kind.csr" "$d/$kind.ext"
}
rogue() {
  mkdir -p "$P/rogue"
  key "$P/rogue/ca.key"
  openssl req -new -x509 -key "$P/rogue/ca.key" -subj "/O=$ORG/CN=$ORG Root CA" -days 30 -extensions root -config <(cat /etc/ssl/openssl.cnf ext.cnf) -out "$P/rogue/ca.crt" 2>/dev/null
  leaf "$P/rogue" worker clientAuth "URI:spiffe://acme.internal/worker" "$P/rogue/ca.crt" "$P/rogue/ca.key" client
}
if [ "$MODE" = rogue ]; then rogue; rm -rf "$P/work"; exit 0; fi
mkdir -p "$P/ca"
key "$P/ca/root.key"
openssl req -new -x509 -key "$P/ca/root.key" -subj "/O=$ORG/CN=$ORG Root CA" -days 30 -extensions root -config <(cat /etc/ssl/openssl.cnf ext.cnf) -out "$P/ca/root.crt" 2>/dev/null
key "$P/ca/intermediate.key"
openssl req -new -key "$P/ca/intermediate.key" -subj "/O=$ORG/CN=$ORG Intermediate CA" -out inter.csr 2>/dev/null
openssl x509 -req -in inter.csr -CA "$P/ca/root.crt" -CAkey "$P/ca/root.key" -CAcreateserial -days 30 -extfile ext.cnf -extensions inter -out "$P/ca/intermediate.crt" 2>/dev/null
cp "$P/ca/root.crt" "$P/ca/bundle.crt"
cat "$P/ca/intermediate.crt" "$P/ca/root.crt" > "$P/ca/chain.crt"
cadb "$P/work/rootdb"; cadb "$P/work/interdb"
for svc in "$@" intruder; do
  d="$P/services/$svc"
  leaf "$d" "$svc" serverAuth "DNS:$svc.acme.internal,DNS:localhost,IP:127.0.0.1" "$P/ca/intermediate.crt" "$P/ca/intermediate.key" server
  leaf "$d" "$svc" clientAuth "URI:spiffe://acme.internal/$svc" "$P/ca/intermediate.crt" "$P/ca/intermediate.key" client
  cat "$d/server.crt" "$P/ca/intermediate.crt" > "$d/server-fullchain.crt"
  cat "$d/client.crt" "$P/ca/intermediate.crt" > "$d/client-fullchain.crt"
done
# A second `worker` client cert, revoked: the CRL must make nginx refuse it.
leaf "$P/services/worker-revoked" worker clientAuth "URI:spiffe://acme.internal/worker" "$P/ca/intermediate.crt" "$P/ca/intermediate.key" client
cat "$P/services/worker-revoked/client.crt" "$P/ca/intermediate.crt" > "$P/services/worker-revoked/client-fullchain.crt"
openssl ca -config interdb/ca.cnf -keyfile "$P/ca/intermediate.key" -cert "$P/ca/intermediate.crt" -revoke "$P/services/worker-revoked/client.crt" 2>/dev/null
openssl ca -gencrl -config rootdb/ca.cnf -keyfile "$P/ca/root.key" -cert "$P/ca/root.crt" -out root.crl 2>/dev/null
openssl ca -gencrl -config interdb/ca.cnf -keyfile "$P/ca/intermediate.key" -cert "$P/ca/intermediate.crt" -out inter.crl 2>/dev/null
cat inter.crl root.crl > "$P/ca/crl.pem"
# A foreign CA issuing a client cert with an allowed-looking subject.
rogue
rm -rf "$P/work"
