# Functions every generated script starts with. Writes are atomic and idempotent,
# and a host's own earlier file is kept so the step's delete can put it back.

kop_log() { printf 'kop: %s\n' "$*" >&2; }
kop_fail() { printf 'kop: ERROR: %s\n' "$*" >&2; exit 1; }

# kop_put PATH MODE < content: writes when the content or mode differs.
# Exit status 0 = changed, 1 = unchanged.
kop_put() {
  local path=$1 mode=$2 tmp
  # Callers use kop_put in conditions, where set -e is off: every failure is checked here.
  mkdir -p "$(dirname "$path")" || kop_fail "cannot create the directory of $path"
  tmp=$(mktemp "$path.kop-new.XXXXXX") || kop_fail "cannot write next to $path"
  cat >"$tmp" || kop_fail "cannot write $path"
  chmod "$mode" "$tmp" || kop_fail "cannot set mode $mode on $path"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "$(stat -c %a "$tmp")" ]; then
    rm -f "$tmp"
    return 1
  fi
  if [ -e "$path" ] && [ ! -e "$path.kop-orig" ] && [ ! -e "$path.kop-created" ]; then
    cp -p "$path" "$path.kop-orig" || kop_fail "cannot back up $path"
  elif [ ! -e "$path" ] && [ ! -e "$path.kop-orig" ]; then
    : >"$path.kop-created" || kop_fail "cannot write next to $path"
  fi
  mv -f "$tmp" "$path" || kop_fail "cannot replace $path"
  return 0
}

# kop_restore PATH: puts back the host's original file, or removes ours if there was none.
kop_restore() {
  local path=$1
  if [ -e "$path.kop-orig" ]; then
    mv -f "$path.kop-orig" "$path"
  else
    rm -f "$path"
  fi
  rm -f "$path.kop-created"
}

# kop_secret NAME: reads the next "NAME=base64" line of stdin into the variable SECRET_NAME.
kop_secret() {
  local want=$1 line
  IFS= read -r line || kop_fail "secret $want missing on stdin"
  [ "${line%%=*}" = "$want" ] || kop_fail "expected secret $want on stdin"
  printf -v "SECRET_$want" '%s' "$(printf '%s' "${line#*=}" | base64 -d)"
}

# kop_unit_active NAME: true when the systemd unit is active.
kop_unit_active() { systemctl is-active --quiet "$1"; }
