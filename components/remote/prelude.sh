# Functions every generated script starts with. Writes are atomic and idempotent,
# and a host's own earlier file is kept so the step's delete can put it back.

kop_log() { printf 'kop: %s\n' "$*" >&2; }
# kop_fail MESSAGE: stops the whole script, also from a pipeline's or command substitution's subshell
# (there `exit` alone would end only the subshell, and `if printf ... | kop_put` would read it as "unchanged").
kop_fail() {
  printf 'kop: ERROR: %s\n' "$*" >&2
  if [ "$BASHPID" != "$$" ]; then kill -s TERM "$$" 2>/dev/null || true; fi
  exit 1
}

# Per placed file, what the last successful run of its step left there ("<sha256> <mode> <owner>"),
# at KOP_APPLIED + the file's path. Drift checks compare the live file with it, and a drift repair
# that rewrites a file marks the record "stale" so the step's next kop_put reports a change.
KOP_APPLIED=/var/lib/kubeadm-on-pulumi/applied

# kop_write PATH MODE < content: writes when the content or mode differs.
# Exit status 0 = written, 1 = already so.
kop_write() {
  local path=$1 mode=$2 tmp
  # Callers use kop_write in conditions, where set -e is off: every failure is checked here.
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

# kop_put PATH MODE < content: kop_write, and exit status 0 = changed (reload what reads the file)
# when it wrote now, or when the file is not what the last successful run of this step applied
# (a failed run after a write, or a drift repair in between). 1 = unchanged.
# The record is renewed when the script exits 0 (kop_commit_applied).
kop_put() {
  local path=$1 mode=$2 status=1 record
  [ -d "$KOP_APPLIED" ] || install -d -m 0700 "$KOP_APPLIED" || kop_fail "cannot create $KOP_APPLIED"
  mkdir -p "$KOP_APPLIED$(dirname "$path")" || kop_fail "cannot write under $KOP_APPLIED"
  if kop_write "$path" "$mode"; then
    status=0
    # Until this run succeeds, the file is not applied: a failed run leaves the record stale.
    echo stale >"$KOP_APPLIED$path" || kop_fail "cannot write under $KOP_APPLIED"
  fi
  record=$(cat "$KOP_APPLIED$path" 2>/dev/null) || record=""
  if [ -n "$record" ] && [ "${record%% *}" != "$(sha256sum <"$path" | cut -d' ' -f1)" ]; then status=0; fi
  # kop_put often runs in a pipeline's subshell: the list of files to record is a file, keyed by the script's PID.
  printf '%s\n' "$path" >>"$KOP_APPLIED/.pending.$$" || kop_fail "cannot write under $KOP_APPLIED"
  return "$status"
}

# Records what this run placed; called on exit 0 only, after the script's own chown/chmod.
kop_commit_applied() {
  local list="$KOP_APPLIED/.pending.$$" path
  [ -f "$list" ] || return 0
  sort -u "$list" | while IFS= read -r path; do
    [ -f "$path" ] || continue
    printf '%s %s %s\n' "$(sha256sum <"$path" | cut -d' ' -f1)" "$(stat -c %a "$path")" "$(stat -c %U:%G "$path")" >"$KOP_APPLIED$path"
  done
  rm -f "$list"
}
kop_on_exit() {
  local status=$?
  if [ "$status" = 0 ]; then kop_commit_applied; else rm -f "$KOP_APPLIED/.pending.$$"; fi
}
# Scripts must not set their own EXIT trap (test/unit/drift-prelude.test.ts checks every planned script).
trap kop_on_exit EXIT

# kop_restore PATH: puts back the host's original file, or removes ours if there was none.
kop_restore() {
  local path=$1
  if [ -e "$path.kop-orig" ]; then
    mv -f "$path.kop-orig" "$path"
  else
    rm -f "$path"
  fi
  rm -f "$path.kop-created" "$KOP_APPLIED$path"
  # The record's directories, as far up as they are empty (rmdir -p stops at the first that is not).
  rmdir -p --ignore-fail-on-non-empty "$(dirname "$KOP_APPLIED$path")" 2>/dev/null || true
}

# kop_secret NAME: reads the next "NAME=base64" line of stdin into the variable SECRET_NAME.
kop_secret() {
  local want=$1 line
  IFS= read -r line || kop_fail "secret $want missing on stdin"
  [ "${line%%=*}" = "$want" ] || kop_fail "expected secret $want on stdin"
  printf -v "SECRET_$want" '%s' "$(printf '%s' "${line#*=}" | base64 -d)"
}

# kop_claim_dirs RECORD DIR...: notes which DIRs do not exist yet (before an install that makes them),
# so that kop_release_dirs RECORD removes exactly those, unmounting whatever is still mounted below.
kop_claim_dirs() {
  local record=/var/lib/kubeadm-on-pulumi/dirs/$1 dir
  shift
  mkdir -p "${record%/*}" || kop_fail "cannot write under ${record%/*}"
  for dir in "$@"; do
    [ -e "$dir" ] || grep -qxF "$dir" "$record" 2>/dev/null || printf '%s\n' "$dir" >>"$record" || kop_fail "cannot write $record"
  done
}
kop_release_dirs() {
  local record=/var/lib/kubeadm-on-pulumi/dirs/$1 dir mnt
  [ -f "$record" ] || return 0
  while IFS= read -r dir; do
    { findmnt -rn -o TARGET | grep -F "$dir/" || true; } | sort -r | while IFS= read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt"; done
    rm -rf --one-file-system "$dir" || kop_fail "cannot remove $dir"
  done <"$record"
  rm -f "$record"
}

# kop_unit_active NAME: true when the systemd unit is active.
kop_unit_active() { systemctl is-active --quiet "$1"; }
