#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Make the certificates of a Khanat manager setup with the openssl command
# line tool, in the layout of Khanat's create_certificate.py:
#
#   ca/private/cakey.pem            root CA key
#   ca/certs/cacert.pem             root CA certificate
#   ca/appli/private/applikey.pem   application CA key
#   ca/appli/certs/applicert.pem    application CA certificate (signed by the root)
#   ca/appli/certs/cachaincert.pem  application CA + root CA (the ca_cert of
#                                   both the server and the clients)
#   ca/appli/private/serverkey.pem  server key
#   ca/appli/certs/servercert.pem   server certificate (signed by the application CA)
#   ca/appli/private/clientkey.pem  client key
#   ca/appli/certs/clientcert.pem   client certificate (CN = the client's identity)
#
# More clients: --client NAME (repeatable) adds
# ca/appli/private/NAMEkey.pem and ca/appli/certs/NAMEcert.pem with CN=NAME,
# reusing the CAs that are already there.
#
# scopevisor's [adapter:khanat] then uses keyfile = .../serverkey.pem,
# certfile = .../servercert.pem, ca_cert = .../cachaincert.pem, and
# [access] khanat:<client CN> = <role>.

set -eu

usage() {
    cat <<USAGE
Usage: $0 [options]
  -d, --dir DIR          where ca/ is made (default: the current directory)
  --subject PREFIX       subject fields before CN (default: /C=FR/ST=France/L=Paris/O=khaganat)
  --server-cn CN         CN of the server certificate (default: khanat-server)
  --client-cn CN         CN of clientcert.pem (default: client)
  --client NAME          one more client certificate with CN=NAME (repeatable)
  --days N               validity in days (default: 3650)
  --bits N               RSA key size (default: 2048)
  --force                replace files that exist (default: keep them)
  -h, --help             this help
USAGE
}

dir=.
subject=/C=FR/ST=France/L=Paris/O=khaganat
server_cn=khanat-server
client_cn=client
days=3650
bits=2048
force=0
extra=""

while [ $# -gt 0 ]; do
    case $1 in
    -d | --dir) dir=$2; shift 2 ;;
    --subject) subject=$2; shift 2 ;;
    --server-cn) server_cn=$2; shift 2 ;;
    --client-cn) client_cn=$2; shift 2 ;;
    --client) extra="$extra $2"; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --bits) bits=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$0: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

command -v openssl >/dev/null 2>&1 || { echo "$0: openssl is not installed" >&2; exit 1; }

mkdir -p "$dir/ca/private" "$dir/ca/certs" "$dir/ca/appli/private" "$dir/ca/appli/certs"
cd "$dir/ca"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# need FILE: true when FILE has to be made.
need() { [ "$force" = 1 ] || [ ! -s "$1" ]; }

key() { openssl genrsa -out "$1" "$bits" 2>/dev/null; }

# sign CSR CERT CA_CERT CA_KEY EXTENSIONS
sign() {
    printf '%s\n' "$5" >"$tmp/ext"
    openssl x509 -req -in "$1" -out "$2" -CA "$3" -CAkey "$4" -set_serial "0x$(openssl rand -hex 16)" \
        -days "$days" -sha256 -extfile "$tmp/ext" 2>/dev/null
}

ca_ext='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always'

if need certs/cacert.pem; then
    key private/cakey.pem
    openssl req -new -x509 -key private/cakey.pem -out certs/cacert.pem -days "$days" -sha256 \
        -subj "$subject/CN=khaganat root CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
if need appli/certs/applicert.pem; then
    key appli/private/applikey.pem
    openssl req -new -key appli/private/applikey.pem -out "$tmp/appli.csr" -subj "$subject/CN=khaganat application CA"
    sign "$tmp/appli.csr" appli/certs/applicert.pem certs/cacert.pem private/cakey.pem "$ca_ext"
fi
cat appli/certs/applicert.pem certs/cacert.pem >appli/certs/cachaincert.pem

# leaf NAME CN EXTENDED_KEY_USAGE
leaf() {
    if need "appli/certs/$1cert.pem"; then
        key "appli/private/$1key.pem"
        openssl req -new -key "appli/private/$1key.pem" -out "$tmp/$1.csr" -subj "$subject/CN=$2"
        sign "$tmp/$1.csr" "appli/certs/$1cert.pem" appli/certs/applicert.pem appli/private/applikey.pem \
            "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$3
subjectAltName=DNS:$2,DNS:localhost,IP:127.0.0.1,IP:::1"
    fi
}

leaf server "$server_cn" serverAuth
leaf client "$client_cn" clientAuth
for name in $extra; do
    leaf "$name" "$name" clientAuth
done
chmod 0644 certs/*.pem appli/certs/*.pem
echo "certificates in $(pwd)"
