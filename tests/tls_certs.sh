#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes the certificates the TLS tests use, in directory $1 (EC P-256 keys, quick to make):
#   ca.pem            the test CA (its key ca.key)
#   server.pem/.key   localhost, 127.0.0.1 and ::1, signed by the CA
#   client.pem/.key   CN=client, for client authentication, signed by the CA
#   expired.pem/.key  localhost, signed by the CA, expired yesterday
#   self.pem/.key     localhost, self-signed
#   other.pem/.key    localhost, signed by another CA (other-ca.pem), unknown to the tests' clients
#   wronghost.pem/.key  example.com only, signed by the CA
#   server.der        server.pem's certificate, DER
set -eu
dir=$1
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() { # ca NAME CN
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2/O=csock test" -days 2 -out "$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        2>/dev/null
}
leaf() { # leaf NAME CA CN SAN DAYS
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$3/O=csock test" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$5" \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
ca ca "csock test CA"
ca other-ca "csock other CA"
local_names="DNS:localhost,IP:127.0.0.1,IP:::1"
leaf server ca localhost "$local_names" 2
openssl x509 -in server.pem -outform DER -out server.der # what a peer-certificate call gives
leaf client ca client "DNS:client" 2
leaf expired ca localhost "$local_names" -1
leaf other other-ca localhost "$local_names" 2
leaf wronghost ca example.com "DNS:example.com" 2
key self.key
openssl req -x509 -new -key self.key -subj "/CN=localhost" -days 2 -out self.pem \
    -addext "subjectAltName=$local_names" 2>/dev/null
