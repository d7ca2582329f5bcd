# openssl functions of the etcd PKI. They run on the first etcd member, which keeps the
# CA key; issued certificates are kept next to it so every run prints the same bundle.

# kop_pki_key FILE: a new ECDSA P-256 private key, readable by root only.
kop_pki_key() {
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null) ||
    kop_fail "openssl cannot create a private key"
}

# kop_pki_ca DIR CN DAYS: creates DIR/ca.key and DIR/ca.crt once; later runs keep them.
kop_pki_ca() {
  local dir=$1 cn=$2 days=$3 tmp
  install -d -m 0700 "$dir"
  if [ -s "$dir/ca.key" ] && [ -s "$dir/ca.crt" ]; then return 0; fi
  tmp=$(mktemp -d)
  kop_pki_key "$tmp/ca.key"
  printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature' \
    'subjectKeyIdentifier=hash' >"$tmp/ext"
  openssl req -new -key "$tmp/ca.key" -subj "/CN=$cn" -out "$tmp/ca.csr" ||
    kop_fail "openssl cannot create the CA request"
  openssl x509 -req -in "$tmp/ca.csr" -signkey "$tmp/ca.key" -days "$days" -sha256 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$tmp/ext" -out "$tmp/ca.crt" 2>/dev/null ||
    kop_fail "openssl cannot self-sign the CA"
  install -m 0600 "$tmp/ca.key" "$dir/ca.key"
  install -m 0644 "$tmp/ca.crt" "$dir/ca.crt"
  rm -rf "$tmp"
  kop_log "created the etcd CA in $dir"
}

# kop_pki_issue CADIR OUT SUBJECT USAGES SANS DAYS GENERATION
# Issues OUT.key + OUT.crt signed by the CA, unless a valid certificate for the same request
# exists: same subject, usages, SANs, validity and generation, signed by this CA, more than
# 30 days left. SANS is an openssl subjectAltName value ("DNS:a,IP:10.0.0.1") or empty.
kop_pki_issue() {
  local ca=$1 out=$2 subject=$3 usages=$4 sans=$5 days=$6 generation=$7 spec tmp
  spec="subject=$subject usages=$usages sans=$sans days=$days generation=$generation ca=$(openssl x509 -noout -fingerprint -sha256 -in "$ca/ca.crt")"
  if [ -s "$out.key" ] && [ -s "$out.crt" ] && [ "$(cat "$out.spec" 2>/dev/null)" = "$spec" ] &&
    openssl verify -CAfile "$ca/ca.crt" "$out.crt" >/dev/null 2>&1 &&
    openssl x509 -checkend 2592000 -noout -in "$out.crt" >/dev/null; then
    return 0
  fi
  install -d -m 0700 "$(dirname "$out")"
  tmp=$(mktemp -d)
  kop_pki_key "$tmp/key"
  {
    echo 'basicConstraints=critical,CA:FALSE'
    echo 'keyUsage=critical,digitalSignature,keyEncipherment'
    echo "extendedKeyUsage=$usages"
    echo 'authorityKeyIdentifier=keyid'
    if [ -n "$sans" ]; then echo "subjectAltName=$sans"; fi
  } >"$tmp/ext"
  openssl req -new -key "$tmp/key" -subj "$subject" -out "$tmp/csr" || kop_fail "openssl cannot create the request for $subject"
  openssl x509 -req -in "$tmp/csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -days "$days" -sha256 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$tmp/ext" -out "$tmp/crt" 2>/dev/null ||
    kop_fail "openssl cannot sign the certificate for $subject"
  install -m 0600 "$tmp/key" "$out.key"
  install -m 0644 "$tmp/crt" "$out.crt"
  printf '%s\n' "$spec" >"$out.spec"
  rm -rf "$tmp"
  kop_log "issued $out.crt ($subject${sans:+, $sans})"
}

# kop_pki_bundle NAME=FILE...: prints one "NAME=base64" line per file (the step's secret output).
kop_pki_bundle() {
  local pair
  for pair in "$@"; do
    [ -s "${pair#*=}" ] || kop_fail "${pair#*=} is missing"
    printf '%s=%s\n' "${pair%%=*}" "$(base64 -w0 <"${pair#*=}")"
  done
}
