# Shell functions the apt package-manager snippets rely on.
KOP_APT_STALE=0
# Steps of different layers may install on one host at the same time (e.g. the balancer and the
# runtime on a colocated control plane): wait for dpkg's lock instead of failing on it.
KOP_APT_LOCK=(-o DPkg::Lock::Timeout=300)
kop_apt_refresh() {
  apt-get "${KOP_APT_LOCK[@]}" update -q >/dev/null || kop_fail "apt-get update failed: check the package repositories (mirrors) configured for this host"
  KOP_APT_STALE=0
}
# kop_apt_installed NAME[=VERSION]: true when installed (at exactly VERSION if given).
kop_apt_installed() {
  local name=${1%%=*} want="" have
  if [ "$1" != "$name" ]; then want=${1#*=}; fi
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null) || return 1
  # "hold ok installed" counts: held packages are installed.
  case "$have" in "install ok installed "* | "hold ok installed "*) ;; *) return 1 ;; esac
  [ -z "$want" ] || [ "${have##* }" = "$want" ]
}
# kop_apt_install NAME[=VERSION]...: installs what is missing; touches nothing when all is there.
kop_apt_install() {
  local missing=() p
  for p in "$@"; do kop_apt_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  # What this step adds is recorded so its delete removes exactly that (see kop_apt_purge_recorded).
  if [ -n "${KOP_PACKAGE_RECORD:-}" ]; then
    mkdir -p "$(dirname "$KOP_PACKAGE_RECORD")"
    for p in "${missing[@]}"; do
      grep -qxF "${p%%=*}" "$KOP_PACKAGE_RECORD" 2>/dev/null || printf '%s\n' "${p%%=*}" >>"$KOP_PACKAGE_RECORD"
    done
  fi
  if [ "$KOP_APT_STALE" = 1 ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit)" ]; then kop_apt_refresh; fi
  local opts=("${KOP_APT_LOCK[@]}" -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages -o Dpkg::Options::=--force-confold)
  if ! apt-get install "${opts[@]}" "${missing[@]}"; then
    kop_apt_refresh
    apt-get install "${opts[@]}" "${missing[@]}" || kop_fail "cannot install ${missing[*]}: check that the configured repositories carry these versions"
  fi
}
kop_fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 --connect-timeout 20 "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O - "$1"
  else kop_fail "neither curl nor wget is installed"; fi
}

# kop_apt_purge_recorded FILE: purges the packages a step installed (and the dependencies
# that came only with them); packages the host had before are left alone.
kop_apt_purge_recorded() {
  local record=$1 installed=() p
  [ -f "$record" ] || return 0
  while read -r p; do
    if [ -n "$p" ] && kop_apt_installed "$p"; then installed+=("$p"); fi
  done <"$record"
  if [ ${#installed[@]} -gt 0 ]; then
    apt-mark unhold "${installed[@]}" >/dev/null
    apt-get "${KOP_APT_LOCK[@]}" purge -y -q --auto-remove "${installed[@]}" || kop_fail "cannot remove ${installed[*]}"
  fi
  rm -f "$record"
}
