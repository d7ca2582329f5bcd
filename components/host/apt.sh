# Shell functions the apt package-manager snippets rely on (Debian, Ubuntu). The dnf family
# (dnf.sh) defines the same kop_pkg_* functions, so scripts stay family-neutral.
KOP_APT_STALE=0
# Steps of different layers may install on one host at the same time (e.g. the balancer and the
# runtime on a colocated control plane): wait for dpkg's lock instead of failing on it.
KOP_APT_LOCK=(-o DPkg::Lock::Timeout=300)
kop_apt_refresh() {
  apt-get "${KOP_APT_LOCK[@]}" update -q >/dev/null || kop_fail "apt-get update failed: check the package repositories (mirrors) configured for this host"
  KOP_APT_STALE=0
}
# kop_pkg_installed NAME[=VERSION]: true when installed (at exactly VERSION if given).
kop_pkg_installed() {
  local name=${1%%=*} want="" have
  if [ "$1" != "$name" ]; then want=${1#*=}; fi
  have=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null) || return 1
  # "hold ok installed" counts: held packages are installed.
  case "$have" in "install ok installed "* | "hold ok installed "*) ;; *) return 1 ;; esac
  [ -z "$want" ] || [ "${have##* }" = "$want" ]
}
# kop_pkg_install NAME[=VERSION]...: installs what is missing; touches nothing when all is there.
kop_pkg_install() {
  local missing=() p
  for p in "$@"; do kop_pkg_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  kop_pkg_record "${missing[@]}"
  if [ "$KOP_APT_STALE" = 1 ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit)" ]; then kop_apt_refresh; fi
  local opts=("${KOP_APT_LOCK[@]}" -y -q --no-install-recommends --allow-downgrades --allow-change-held-packages -o Dpkg::Options::=--force-confold)
  if ! apt-get install "${opts[@]}" "${missing[@]}"; then
    kop_apt_refresh
    apt-get install "${opts[@]}" "${missing[@]}" || kop_fail "cannot install ${missing[*]}: check that the configured repositories carry these versions"
  fi
}
# kop_pkg_hold NAME...: keeps the installed versions across upgrades.
kop_pkg_hold() { apt-mark hold "$@" >/dev/null; }
# kop_pkg_unhold NAME...: lets the named (installed) packages move again.
kop_pkg_unhold() {
  local p
  for p in "$@"; do
    if dpkg-query -W "$p" >/dev/null 2>&1; then apt-mark unhold "$p" >/dev/null; fi
  done
}
# kop_pkg_version NAME: the installed version.
kop_pkg_version() { dpkg-query -W -f='${Version}' "$1"; }
# kop_arch: the architecture as release tarballs name it (amd64, arm64).
kop_arch() { dpkg --print-architecture; }

# kop_pkg_purge_recorded FILE: purges the packages a step installed (and the dependencies
# that came only with them); packages the host had before are left alone.
kop_pkg_purge_recorded() {
  local record=$1 installed=() p
  [ -f "$record" ] || return 0
  while read -r p; do
    if [ -n "$p" ] && kop_pkg_installed "$p"; then installed+=("$p"); fi
  done <"$record"
  if [ ${#installed[@]} -gt 0 ]; then
    apt-mark unhold "${installed[@]}" >/dev/null
    apt-get "${KOP_APT_LOCK[@]}" purge -y -q --auto-remove "${installed[@]}" || kop_fail "cannot remove ${installed[*]}"
  fi
  rm -f "$record"
}
