# Shell functions the dnf package-manager snippets rely on (RHEL, Rocky Linux, AlmaLinux 9 and 10).
# They define the same kop_pkg_* functions as apt.sh, so scripts stay family-neutral.
# dnf waits for another dnf's lock by itself (steps of two layers may install at the same time).
KOP_DNF_OPTS=(-y -q --setopt=install_weak_deps=False)
KOP_VERSIONLOCK=/etc/dnf/plugins/versionlock.list
# kop_pkg_installed NAME[=VERSION]: true when installed (at VERSION if given: the rpm version,
# version-release, or epoch:version-release).
kop_pkg_installed() {
  local name=${1%%=*} want="" have evr
  if [ "$1" != "$name" ]; then want=${1#*=}; fi
  # Without a version, whatever provides NAME counts (curl-minimal provides curl, iptables-nft iptables).
  if [ -z "$want" ]; then rpm -q --whatprovides "$name" >/dev/null 2>&1; return; fi
  have=$(rpm -q --qf '%|EPOCH?{%{EPOCH}}:{0}|:%{VERSION}-%{RELEASE} ' "$name" 2>/dev/null) || return 1
  have=${have% }
  have=${have##* }
  evr=${have#*:}
  case "$want" in "$have" | "$evr" | "${evr%-*}") return 0 ;; esac
  return 1
}
# kop_pkg_install NAME[=VERSION]...: installs what is missing; touches nothing when all is there.
# NAME=VERSION is dnf's NAME-VERSION (any release of that version, or exactly VERSION-RELEASE).
kop_pkg_install() {
  local missing=() specs=() p keys_before keys_after
  for p in "$@"; do kop_pkg_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  kop_pkg_record "${missing[@]}"
  for p in "${missing[@]}"; do
    if [ "$p" = "${p%%=*}" ]; then specs+=("$p"); else specs+=("${p%%=*}-${p#*=}"); fi
  done
  # dnf imports a repository's signing key into the rpm database on first use: record it too.
  keys_before=$(rpm -q gpg-pubkey 2>/dev/null || true)
  if ! dnf install "${KOP_DNF_OPTS[@]}" "${specs[@]}"; then
    dnf -q clean expire-cache >/dev/null 2>&1 || true
    dnf install "${KOP_DNF_OPTS[@]}" "${specs[@]}" || kop_fail "cannot install ${specs[*]}: check that the configured repositories carry these versions"
  fi
  keys_after=$(rpm -q gpg-pubkey 2>/dev/null || true)
  for p in $keys_after; do
    case " $(echo "$keys_before" | tr '\n' ' ') " in *" $p "*) ;; *) kop_pkg_record "$p" ;; esac
  done
}
# kop_versionlock_entry NAME: the line `dnf versionlock add` writes for the installed NAME.
kop_versionlock_entry() { rpm -q --qf '%{NAME}-%|EPOCH?{%{EPOCH}}:{0}|:%{VERSION}-%{RELEASE}.*\n' "$1" | head -n 1; }
# kop_pkg_hold NAME...: locks the installed versions (the versionlock plugin) across `dnf upgrade`.
kop_pkg_hold() {
  local p
  for p in "$@"; do
    if ! grep -qxF "$(kop_versionlock_entry "$p")" "$KOP_VERSIONLOCK" 2>/dev/null; then
      kop_pkg_unhold "$p"
      dnf -q versionlock add "$p" >/dev/null || kop_fail "cannot lock the version of $p: is python3-dnf-plugin-versionlock installed?"
    fi
  done
}
# kop_pkg_unhold NAME...: lets the named packages move again.
kop_pkg_unhold() {
  local p
  for p in "$@"; do
    if grep -q "^$p-[0-9]*:" "$KOP_VERSIONLOCK" 2>/dev/null; then dnf -q versionlock delete "$p" >/dev/null; fi
  done
}
# kop_pkg_version NAME: the installed version.
kop_pkg_version() { rpm -q --qf '%{VERSION}-%{RELEASE}' "$1"; }
# kop_arch: the architecture as release tarballs name it (amd64, arm64).
kop_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) kop_fail "unsupported architecture $(uname -m)" ;;
  esac
}

# kop_pkg_purge_recorded FILE: removes the packages a step installed (dnf removes the dependencies
# that came only with them) and the signing keys dnf imported for them; what the host had stays.
kop_pkg_purge_recorded() {
  local record=$1 installed=() keys=() p
  [ -f "$record" ] || return 0
  while read -r p; do
    case "$p" in
      "") ;;
      gpg-pubkey-*) if rpm -q "$p" >/dev/null 2>&1; then keys+=("$p"); fi ;;
      *) if kop_pkg_installed "$p"; then installed+=("$p"); fi ;;
    esac
  done <"$record"
  if [ ${#installed[@]} -gt 0 ]; then
    kop_pkg_unhold "${installed[@]}"
    dnf remove "${KOP_DNF_OPTS[@]}" "${installed[@]}" || kop_fail "cannot remove ${installed[*]}"
  fi
  if [ ${#keys[@]} -gt 0 ]; then rpm -e "${keys[@]}" || kop_fail "cannot remove the signing keys ${keys[*]}"; fi
  rm -f "$record"
}
