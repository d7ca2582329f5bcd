# kop_bundle_unpack BUNDLE PREFIX: every "NAME=base64" line of BUNDLE (a PKI step's output)
# becomes the variable SECRET_PREFIX_NAME, which putFile reads for secret files.
kop_bundle_unpack() {
  local bundle=$1 prefix=$2 line value
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    # The x keeps the trailing newlines that $(...) would strip.
    value=$(printf '%s' "${line#*=}" | base64 -d && printf x) || kop_fail "the ${prefix} bundle is damaged"
    printf -v "SECRET_${prefix}_${line%%=*}" '%s' "${value%x}"
  done <<<"$bundle"
}
