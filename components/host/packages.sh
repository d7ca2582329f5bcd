# Shell functions every package-manager family shares (carried at the head of apt's and dnf's).
kop_fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 --connect-timeout 20 "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O - "$1"
  else kop_fail "neither curl nor wget is installed"; fi
}
# kop_pkg_record NAME...: remembers what this step adds, so its delete removes exactly that
# (see kop_pkg_purge_recorded). The record file is KOP_PACKAGE_RECORD, when set.
kop_pkg_record() {
  local p
  [ -n "${KOP_PACKAGE_RECORD:-}" ] || return 0
  mkdir -p "$(dirname "$KOP_PACKAGE_RECORD")"
  for p in "$@"; do
    grep -qxF "${p%%=*}" "$KOP_PACKAGE_RECORD" 2>/dev/null || printf '%s\n' "${p%%=*}" >>"$KOP_PACKAGE_RECORD"
  done
}
