# Functions of an etcd member's steps. The step sets first:
#   ETCD_NAME ETCD_PEER_URL ETCD_CLIENT_URL ETCD_DATA_DIR ETCD_PKI ETCDCTL ETCD_INITIAL_ENV
#   ETCD_OTHER_CLIENT_URLS: array of the client URLs of the stack config's other members.
# Member lists are handled as "id,status,name,peer-url,client-url,is-learner" lines.

kop_etcdctl() {
  ETCDCTL_API=3 "$ETCDCTL" --cacert="$ETCD_PKI/ca.crt" --cert="$ETCD_PKI/server.crt" --key="$ETCD_PKI/server.key" \
    --dial-timeout=3s --command-timeout=15s "$@"
}

# kop_etcd_port_open URL: something accepts connections at URL's host and port. etcdctl keeps
# redialling a refused address until its command timeout (15 s), and a new cluster's first
# member probes every member that has not started yet.
kop_etcd_port_open() {
  local hostport=${1#*://} host port
  hostport=${hostport%%/*}
  host=${hostport%:*} port=${hostport##*:}
  host=${host#[} host=${host%]}
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# kop_etcd_healthy URL...: prints the first URL whose member commits a quorum read.
kop_etcd_healthy() {
  local url
  for url in "$@"; do
    if kop_etcd_port_open "$url" && kop_etcdctl --endpoints="$url" endpoint health >/dev/null 2>&1; then
      printf '%s\n' "$url"
      return 0
    fi
  done
  return 1
}

# kop_etcd_members URL: the member list as the member at URL sees it.
kop_etcd_members() { kop_etcdctl --endpoints="$1" member list -w simple 2>/dev/null | sed 's/, /,/g'; }

# kop_etcd_change URL ARGS...: an etcdctl membership change through the member at URL. etcd
# refuses changes until that member has been connected to every voting member for 5 seconds
# ("unhealthy cluster"), as after a member (re)started: those refusals are retried for 5 minutes
# (a member whose peer had vanished without closing its connections refused for over 2 minutes).
kop_etcd_change() {
  local via=$1 out="" attempt
  shift
  for attempt in $(seq 1 150); do
    if out=$(kop_etcdctl --endpoints="$via" "$@" 2>&1); then return 0; fi
    case "$out" in *"unhealthy cluster"*) sleep 2 ;; *) break ;; esac
  done
  printf '%s\n' "$out" | grep -v '"level"' >&2 || true
  kop_log "etcdctl $1 failed after $attempt attempt(s)"
  return 1
}

# kop_etcd_entry MEMBERS: this host's line of a member list (matched by peer URL).
kop_etcd_entry() { printf '%s\n' "$1" | awk -F, -v p="$ETCD_PEER_URL" '$4 == p'; }

# kop_etcd_join URL: registers this host, as a learner, with the cluster the member at URL
# belongs to, and writes the initial cluster it must start with. Safe to repeat: an entry for
# this host's peer URL that never started is reused; one that started belonged to data this
# host has lost, and is replaced.
kop_etcd_join() {
  local via=$1 members entry initial
  members=$(kop_etcd_members "$via") || kop_fail "cannot list the etcd members through $via"
  entry=$(kop_etcd_entry "$members")
  if [ -n "$entry" ] && [ "$(printf '%s' "$entry" | cut -d, -f2)" = started ]; then
    kop_log "the cluster still lists $ETCD_NAME (${entry%%,*}) but its data is gone: replacing that entry"
    kop_etcd_change "$via" member remove "${entry%%,*}" || kop_fail "cannot remove the stale member ${entry%%,*}"
    entry=""
  fi
  if [ -z "$entry" ]; then
    # A timed-out add may still have been applied: the member list decides.
    kop_etcd_change "$via" member add "$ETCD_NAME" --peer-urls="$ETCD_PEER_URL" --learner || true
    members=$(kop_etcd_members "$via") || kop_fail "cannot list the etcd members through $via"
    [ -n "$(kop_etcd_entry "$members")" ] || kop_fail "cannot add $ETCD_NAME to the etcd cluster through $via"
  fi
  initial=$(printf '%s\n' "$members" | awk -F, -v p="$ETCD_PEER_URL" -v n="$ETCD_NAME" '
    NF >= 4 {
      name = ($4 == p) ? n : $3
      if (name == "") { print "kop: member " $1 " (" $4 ") was added but never started" > "/dev/stderr"; bad = 1 }
      list = list (list == "" ? "" : ",") name "=" $4
    }
    END { if (bad) exit 1; print list }') ||
    kop_fail "finish or undo the other join first (etcdctl member remove ID), then run this step again"
  kop_etcd_write_initial "$initial" existing
  kop_log "$ETCD_NAME joins the cluster of $via as a learner: $initial"
}

# kop_etcd_write_initial CLUSTER STATE: settings etcd reads on its first start only.
kop_etcd_write_initial() {
  printf 'ETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_CLUSTER_STATE=%s\n' "$1" "$2" | kop_put "$ETCD_INITIAL_ENV" 0644 || true
}

# kop_etcd_promote: makes this member a voting member once it has caught up with the leader.
kop_etcd_promote() {
  local via entry attempt
  for attempt in $(seq 1 60); do
    if via=$(kop_etcd_healthy "${ETCD_OTHER_CLIENT_URLS[@]}"); then
      entry=$(kop_etcd_entry "$(kop_etcd_members "$via")")
      [ -n "$entry" ] || kop_fail "$ETCD_NAME is no longer listed by the cluster of $via"
      [ "${entry##*,}" = true ] || return 0
      if kop_etcdctl --endpoints="$via" member promote "${entry%%,*}" >/dev/null 2>&1; then
        kop_log "$ETCD_NAME is a voting member now (attempt $attempt)"
        return 0
      fi
    fi
    sleep 2
  done
  kop_fail "$ETCD_NAME is still a learner after 2 minutes: it has not caught up with the leader (journalctl -u etcd)"
}

# kop_etcd_leave: takes this member out of its cluster before the host lets go of it, and
# prints what may happen to its data: "wipe" when the member was removed from a cluster that
# goes on, or was the last member (the whole cluster is being destroyed); "keep" when other
# members are listed but none answers, so this data may be the last copy.
kop_etcd_leave() {
  local members="" listed=0 others=() via entry
  if [ -s "$ETCD_PKI/server.key" ] && kop_unit_active etcd.service && members=$(kop_etcd_members "$ETCD_CLIENT_URL") && [ -n "$members" ]; then
    listed=1
  fi
  mapfile -t others < <(printf '%s\n' "$members" | awk -F, -v p="$ETCD_PEER_URL" 'NF >= 5 && $4 != p && $5 != "" { print $5 }')
  if [ -s "$ETCD_PKI/server.key" ] && via=$(kop_etcd_healthy "${others[@]}" "${ETCD_OTHER_CLIENT_URLS[@]}"); then
    entry=$(kop_etcd_entry "$(kop_etcd_members "$via")")
    if [ -n "$entry" ]; then
      kop_etcd_change "$via" member remove "${entry%%,*}" ||
        kop_fail "cannot remove $ETCD_NAME from the etcd cluster through $via (a removal that would cost the cluster its quorum is refused: bring the other members back first)"
      kop_log "removed $ETCD_NAME (${entry%%,*}) from the etcd cluster of $via"
    fi
    echo wipe
  elif [ "$listed" = 1 ] && [ ${#others[@]} -eq 0 ]; then
    kop_log "$ETCD_NAME is the last member: the etcd cluster goes away with it"
    echo wipe
  elif [ ! -d "$ETCD_DATA_DIR/member" ]; then
    echo wipe
  else
    kop_log "WARNING: no other etcd member answers (${others[*]:-${ETCD_OTHER_CLIENT_URLS[*]}}); $ETCD_NAME cannot be removed from the cluster and its data in $ETCD_DATA_DIR is kept: it may be the last copy"
    echo keep
  fi
}
