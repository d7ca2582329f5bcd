# Shell functions of the kubeadm steps (init, joins, node removal, upgrades, teardown), in
# sections ("# @section NAME"): each script includes only the sections it uses.
# Secrets ($SECRET_* from kop_secret) only ever reach kubeadm on a pipe (--config /dev/stdin)
# or kubectl on stdin: never a file, never a command line.

# @section state
KOP_STATE=/var/lib/kubeadm-on-pulumi

# @section core
KOP_ADMIN_CONF=/etc/kubernetes/admin.conf

# The discovery cache of the steps' kubectl: under /tmp, never in the login user's home (~/.kube/cache
# would outlive a destroy).
KOP_KUBECTL_CACHE=/tmp/kubeadm-on-pulumi-kubectl-cache

# kop_kubectl ARGS...: kubectl with the admin credentials, or, when KOP_KUBECONFIG_SECRET names a
# variable set by kop_secret, with that kubeconfig read from a pipe (it never lands on disk).
kop_kubectl() {
  if [ -n "${KOP_KUBECONFIG_SECRET:-}" ]; then
    kubectl --kubeconfig <(printf '%s\n' "${!KOP_KUBECONFIG_SECRET}") --cache-dir "$KOP_KUBECTL_CACHE" --request-timeout=30s "$@"
  else
    kubectl --kubeconfig "$KOP_ADMIN_CONF" --cache-dir "$KOP_KUBECTL_CACHE" --request-timeout=30s "$@"
  fi
}

# kop_version_minor 1.29.13 -> 29
kop_version_minor() { local v=${1#v}; v=${v#*.}; printf '%s' "${v%%.*}"; }

# kop_kubelet_version: the installed kubelet's version without the "v".
kop_kubelet_version() { kubelet --version 2>/dev/null | sed -n 's/^Kubernetes v//p'; }

# kop_wait_for_api SECONDS: waits until the API server answers /readyz through the admin credentials.
kop_wait_for_api() {
  local deadline=$((SECONDS + $1))
  until kop_kubectl get --raw /readyz >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || kop_fail "the API server did not become ready within $1s"
    sleep 3
  done
}

# kop_wait_for_node NAME SECONDS: waits until the Node object exists.
kop_wait_for_node() {
  local deadline=$((SECONDS + $2))
  until kop_kubectl get node "$1" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || kop_fail "node $1 did not register within $2s (see journalctl -u kubelet on $1)"
    sleep 3
  done
}

# kop_node_ready NAME: "True" when the node's Ready condition is true.
kop_node_ready() { kop_kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null; }

# kop_node_mark NODE ANNOTATION: the value of one of our bookkeeping annotations ("" when absent).
kop_node_mark() { kop_kubectl get node "$1" -o go-template="{{ with .metadata.annotations }}{{ with index . \"$2\" }}{{ . }}{{ end }}{{ end }}"; }

# @section secrets
# kop_secret_format NAME: kubeadm's format of each secret, checked before anything reaches kubeadm.
kop_secret_format() {
  case $1 in
    bootstrap_token) printf '%s' '^[a-z0-9]{6}\.[a-z0-9]{16}$' ;;
    certificate_key) printf '%s' '^[0-9a-f]{64}$' ;;
    ca_cert_hash) printf '%s' '^sha256:[0-9a-f]{64}$' ;;
    *) kop_fail "unknown kubeadm secret $1" ;;
  esac
}

# kop_fill_secrets NAME... < template: the template with every KOP_SECRET_<NAME> placeholder
# replaced by $SECRET_<NAME>. Fails (printing nothing) on a malformed secret; fails on a
# placeholder left over. Use it in a command substitution, never in a pipeline: a failure must
# stop the script before anything reaches kubeadm.
kop_fill_secrets() {
  local name var pattern line out=""
  for name in "$@"; do
    var=SECRET_$name
    pattern=$(kop_secret_format "$name")
    [[ ${!var:-} =~ $pattern ]] || kop_fail "secret $name is missing or not in kubeadm's format"
  done
  while IFS= read -r line || [ -n "$line" ]; do
    for name in "$@"; do
      var=SECRET_$name
      line=${line//KOP_SECRET_$name/${!var}}
    done
    case $line in *KOP_SECRET_*) kop_fail "a secret placeholder is left in the kubeadm configuration: ${line%%:*}" ;; esac
    out+=$line$'\n'
  done
  printf '%s' "$out"
}

# kop_insert_after_kind KIND BLOCK < file: the file with BLOCK inserted after the line "kind: KIND"
# (top-level keys of that document).
kop_insert_after_kind() {
  local kind=$1 block=$2 line found=0
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
    if [ "$line" = "kind: $kind" ]; then printf '%s\n' "$block"; found=1; fi
  done
  [ "$found" = 1 ] || kop_fail "no $kind document in the kubeadm configuration"
}

# @section images
# kop_pull_images CONFIG: pre-pulls the control-plane images, so a slow or unreachable registry
# fails here with a clear message instead of deep inside init, join or upgrade.
kop_pull_images() {
  local repository
  repository=$(sed -n 's/^imageRepository: *//p' "$1" | head -n 1)
  kop_log "pulling the control-plane images from ${repository:-the default registry}"
  kubeadm config images pull --config "$1" ||
    kop_fail "cannot pull the control-plane images from ${repository:-the default registry}: check cluster:mirrors.imageRepository (and cluster:mirrors.registryMirrors, cluster:runtime.proxy) and that this host reaches the registry"
}

# @section join
# kop_endpoint_version HOST:PORT: the same through the endpoint, without credentials (/version is
# public); only for waiting, never for trust.
kop_endpoint_version() {
  curl -fsSk --max-time 10 "https://$1/version" 2>/dev/null | sed -n 's/.*"gitVersion": *"v\([0-9][0-9.]*\)".*/\1/p'
}

# kop_wait_for_control_plane_version HOST:PORT: a node whose kubelet is a minor version newer than
# the control plane (added while an upgrade runs) waits until the control planes are upgraded;
# kubelets must never be newer than the API server.
kop_wait_for_control_plane_version() {
  local endpoint=$1 mine server unreachable=$((SECONDS + 300)) behind=$((SECONDS + 3600))
  mine=$(kop_kubelet_version)
  [ -n "$mine" ] || kop_fail "kubelet is not installed"
  while :; do
    server=$(kop_endpoint_version "$endpoint")
    if [ -n "$server" ]; then
      [ "$(kop_version_minor "$server")" -lt "$(kop_version_minor "$mine")" ] || return 0
      [ "$SECONDS" -lt "$behind" ] || kop_fail "the control plane at $endpoint still runs $server, older than this node's kubelet $mine; upgrade the control planes first"
      kop_log "the control plane runs $server and this kubelet $mine: waiting for the control-plane upgrade"
    else
      [ "$SECONDS" -lt "$unreachable" ] || kop_fail "the control-plane endpoint https://$endpoint does not answer from this host (check the load balancer, /etc/hosts and firewalls)"
    fi
    sleep 10
  done
}

# kop_reset_keeping CRI_SOCKET FILE...: kubeadm reset for a retry, keeping FILEs (the external
# etcd client certificates another step placed under /etc/kubernetes/pki).
kop_reset_keeping() {
  local cri=$1 keep f
  shift
  keep=$(mktemp -d)
  for f in "$@"; do if [ -f "$f" ]; then mkdir -p "$keep$(dirname "$f")" && cp -p "$f" "$keep$f"; fi; done
  kubeadm reset -f --cri-socket "$cri" || kop_log "kubeadm reset reported errors"
  for f in "$@"; do if [ -f "$keep$f" ]; then mkdir -p "$(dirname "$f")" && cp -p "$keep$f" "$f"; fi; done
  rm -rf "$keep"
  rm -f "$KOP_STATE"/kubeadm-*.done
}

# @section labels
KOP_LABELS_MARK=kubeadm-on-pulumi/labels
KOP_TAINTS_MARK=kubeadm-on-pulumi/taints

# kop_node_labels NODE KEY=VALUE...: sets the labels; labels set here earlier and not listed now go.
kop_node_labels() {
  local node=$1 keys="" l key
  shift
  for l in "$@"; do keys+="${l%%=*},"; done
  for key in $(kop_node_mark "$node" "$KOP_LABELS_MARK" | tr ',' ' '); do
    case ",$keys" in *",$key,"*) ;; *) kop_kubectl label node "$node" "$key-" >/dev/null ;; esac
  done
  if [ $# -gt 0 ]; then kop_kubectl label --overwrite node "$node" "$@" >/dev/null; fi
  kop_kubectl annotate --overwrite node "$node" "$KOP_LABELS_MARK=${keys%,}" >/dev/null
}

# kop_node_taints NODE KEY[=VALUE]:EFFECT...: the same for taints (identified by key and effect).
kop_node_taints() {
  local node=$1 ids="" t id
  shift
  for t in "$@"; do ids+="${t%%=*}"; case $t in *=*) ids+=":${t##*:}" ;; esac; ids+=","; done
  for id in $(kop_node_mark "$node" "$KOP_TAINTS_MARK" | tr ',' ' '); do
    case ",$ids" in *",$id,"*) ;; *) kop_kubectl taint node "$node" "$id-" >/dev/null 2>&1 || true ;; esac
  done
  for t in "$@"; do kop_kubectl taint --overwrite node "$node" "$t" >/dev/null; done
  kop_kubectl annotate --overwrite node "$node" "$KOP_TAINTS_MARK=${ids%,}" >/dev/null
}

# @section removal
# kop_drain_for_removal NODE TIMEOUT: drains a node that leaves the cluster. Bare pods go with it
# (--force). A NotReady node cannot confirm its pods stopped, so drain does not wait for them; when
# no other schedulable node is left (the whole cluster is going away), disruption budgets can never
# be met, so pods are deleted instead of evicted.
kop_drain_for_removal() {
  local node=$1 timeout=$2 others
  local flags=(--ignore-daemonsets --delete-emptydir-data --force "--timeout=${timeout}s")
  if ! kop_kubectl get node "$node" >/dev/null 2>&1; then
    kop_kubectl get --raw /readyz >/dev/null 2>&1 || kop_fail "the API server does not answer, so $node cannot be drained; bring the control plane back (or remove this step from the state with pulumi state delete)"
    kop_log "node $node is not registered: nothing to drain"
    return 0
  fi
  if [ "$(kop_node_ready "$node")" != True ]; then
    kop_log "node $node is not Ready: not waiting for its pods to confirm they stopped"
    flags+=(--skip-wait-for-delete-timeout=1)
  fi
  others=$(kop_kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.unschedulable}{"\n"}{end}' | awk -v n="$node" '$1 != n && $2 != "true"' | wc -l)
  if [ "$others" -eq 0 ]; then
    kop_log "no other schedulable node is left: deleting pods instead of evicting them"
    flags+=(--disable-eviction)
  fi
  kop_kubectl drain "$node" "${flags[@]}" ||
    kop_fail "draining $node did not finish within ${timeout}s (cluster:lifecycle.drainTimeoutSeconds): a PodDisruptionBudget or a slow pod holds it; fix that or raise the timeout, then run pulumi up again"
}

# kop_etcd_member_remove NAME: removes a stacked etcd member through this control plane's own
# etcd container (crictl: no API server needed). A member that is already gone is fine.
kop_etcd_member_remove() {
  local name=$1 container id list
  container=$(crictl ps --name '^etcd$' --state running -q 2>/dev/null | head -n 1)
  [ -n "$container" ] || kop_fail "no running etcd container on this control plane: cannot remove the etcd member of $name"
  local etcdctl=(crictl exec "$container" etcdctl --endpoints=https://127.0.0.1:2379
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key)
  list=$("${etcdctl[@]}" member list) || kop_fail "cannot list the etcd members"
  id=$(printf '%s\n' "$list" | awk -F', ' -v n="$name" '$3 == n {print $1}')
  if [ -z "$id" ]; then
    kop_log "etcd has no member named $name"
    return 0
  fi
  "${etcdctl[@]}" member remove "$id" ||
    kop_fail "etcd refused to remove member $name ($id): removing it must leave a quorum of healthy members (check with etcdctl endpoint health)"
}

# @section upgrade
# kop_cluster_version: the API server's version without the "v".
kop_cluster_version() {
  kop_kubectl get --raw /version 2>/dev/null | sed -n 's/.*"gitVersion": *"v\([0-9][0-9.]*\)".*/\1/p'
}

# kop_check_upgrade_path CURRENT TARGET: kubeadm moves one minor version at a time and never back.
kop_check_upgrade_path() {
  local current=$1 target=$2 cm tm
  cm=$(kop_version_minor "$current")
  tm=$(kop_version_minor "$target")
  if [ "$tm" -lt "$cm" ]; then
    kop_fail "the cluster runs $current; going back to $target is a downgrade, which kubeadm does not support (set cluster:kubernetes.version to 1.$cm.x or later)"
  fi
  if [ "$tm" -gt $((cm + 1)) ]; then
    kop_fail "the cluster runs $current; $target skips minor version 1.$((cm + 1)): set cluster:kubernetes.version to 1.$((cm + 1)).x first, run pulumi up, then $target"
  fi
}

# kop_kube_package NAME VERSION: exactly VERSION of a Kubernetes package, held.
kop_kube_package() {
  if ! kop_pkg_installed "$1=$2"; then
    kop_pkg_unhold "$1"
    kop_pkg_install "$1=$2"
  fi
  kop_pkg_hold "$1"
}

KOP_CORDON_MARK=kubeadm-on-pulumi/cordoned-for-upgrade

# kop_drain_for_upgrade NODE TIMEOUT: cordons and drains a node before its kubelet is upgraded.
# A node somebody else cordoned stays cordoned afterwards (only our own mark is undone).
kop_drain_for_upgrade() {
  local node=$1 timeout=$2 unschedulable mark
  unschedulable=$(kop_kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')
  mark=$(kop_node_mark "$node" "$KOP_CORDON_MARK")
  if [ "$unschedulable" = true ] && [ "$mark" != true ]; then
    kop_log "node $node was already cordoned: it stays cordoned after the upgrade"
  else
    kop_kubectl annotate --overwrite node "$node" "$KOP_CORDON_MARK=true" >/dev/null
  fi
  kop_kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data "--timeout=${timeout}s" ||
    kop_fail "draining $node for its upgrade did not finish within ${timeout}s (cluster:lifecycle.drainTimeoutSeconds); bare pods (no controller) must be moved by hand; run pulumi up again afterwards"
}

# kop_uncordon_after_upgrade NODE: undoes kop_drain_for_upgrade's cordon, and only that one.
kop_uncordon_after_upgrade() {
  local mark
  mark=$(kop_node_mark "$1" "$KOP_CORDON_MARK")
  if [ "$mark" = true ]; then
    kop_kubectl uncordon "$1" >/dev/null
    kop_kubectl annotate node "$1" "$KOP_CORDON_MARK-" >/dev/null
  fi
}

# kop_upgrade_kubelet NODE VERSION PACKAGE_VERSION DRAIN_TIMEOUT: drain, kubelet and kubectl at
# VERSION, restart, wait until the node reports the version and is Ready, uncordon.
kop_upgrade_kubelet() {
  local node=$1 version=$2 package=$3 timeout=$4 deadline
  if [ "$(kop_kubelet_version)" = "$version" ] && kop_pkg_installed "kubectl=$package"; then
    kop_uncordon_after_upgrade "$node"
    return 0
  fi
  kop_drain_for_upgrade "$node" "$timeout"
  kop_kube_package kubelet "$package"
  kop_kube_package kubectl "$package"
  systemctl daemon-reload
  systemctl restart kubelet
  deadline=$((SECONDS + 300))
  until [ "$(kop_kubectl get node "$node" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>/dev/null)" = "v$version" ] && [ "$(kop_node_ready "$node")" = True ]; do
    [ "$SECONDS" -lt "$deadline" ] || kop_fail "node $node did not come back Ready with kubelet v$version within 5 minutes (see journalctl -u kubelet)"
    sleep 5
  done
  kop_uncordon_after_upgrade "$node"
}

KOP_SLOT_PREFIX=kubeadm-on-pulumi-upgrade-slot

# kop_slot_acquire NODE SLOTS WAIT_SECONDS: takes one of SLOTS upgrade slots (ConfigMaps in
# kube-system, created atomically), so at most SLOTS workers drain at once without ordering the
# workers' steps against each other. A slot this node already holds (an earlier failed run) is
# taken again. Sets KOP_SLOT.
kop_slot_acquire() {
  local node=$1 slots=$2 deadline=$((SECONDS + $3)) i holder holders
  while :; do
    holders=""
    for ((i = 0; i < slots; i++)); do
      if kop_kubectl -n kube-system create configmap "$KOP_SLOT_PREFIX-$i" --from-literal=holder="$node" >/dev/null 2>&1; then
        KOP_SLOT=$KOP_SLOT_PREFIX-$i
        return 0
      fi
      holder=$(kop_kubectl -n kube-system get configmap "$KOP_SLOT_PREFIX-$i" -o jsonpath='{.data.holder}' 2>/dev/null || true)
      if [ "$holder" = "$node" ]; then
        KOP_SLOT=$KOP_SLOT_PREFIX-$i
        return 0
      fi
      holders+=" ${holder:-?}"
    done
    [ "$SECONDS" -lt "$deadline" ] ||
      kop_fail "no upgrade slot became free within $3s (held by:$holders); if one of those upgrades failed, run pulumi up again (it resumes) or delete its ConfigMap $KOP_SLOT_PREFIX-N in kube-system"
    sleep 10
  done
}

kop_slot_release() {
  kop_kubectl -n kube-system delete configmap "$KOP_SLOT" --ignore-not-found >/dev/null
}

# @section teardown
# kop_remove_kube_chains: removes only the iptables chains and rules Kubernetes, kube-proxy and the
# CNI plugins made; the host's own rules stay. (No `grep -q` on iptables-save: under pipefail, its
# early exit fails the pipeline with SIGPIPE once the rules outgrow a pipe buffer, as a cluster's do.)
kop_remove_kube_chains() {
  local chain_pattern='KUBE-|CNI-|FLANNEL|flanneld|cali-|cali:' family
  for family in iptables ip6tables; do
    command -v "$family-save" >/dev/null 2>&1 || continue
    if "$family-save" 2>/dev/null | grep -E "$chain_pattern" >/dev/null; then
      "$family-save" | grep -vE "$chain_pattern" | "$family-restore" || kop_log "could not remove the Kubernetes $family chains"
    fi
  done
}

# kop_teardown CRI_SOCKET ETCD_DATA_DIR: kubeadm reset and everything it leaves behind, so the host
# is ready for a fresh pulumi up: CNI interfaces, Kubernetes' iptables chains, IPVS services and
# ipsets, kube-proxy's nftables tables, kubelet mounts, /etc/kubernetes, /var/lib/kubelet, the CNI configuration and (stacked
# etcd) the etcd data directory.
kop_teardown() {
  local cri=$1 etcd_dir=${2:-} link family m set dir had_ipvs=0
  if ip link show kube-ipvs0 >/dev/null 2>&1; then had_ipvs=1; fi
  if command -v kubeadm >/dev/null 2>&1; then
    kubeadm reset -f --cri-socket "$cri" || kop_log "kubeadm reset reported errors; cleaning up by hand"
  fi
  systemctl stop kubelet 2>/dev/null || true
  # Pods kubeadm reset left running (it stops them only when it gets that far) would put back what
  # follows: kube-proxy and the CNI daemon re-create their chains within seconds.
  if command -v crictl >/dev/null 2>&1; then
    crictl --runtime-endpoint "$cri" rmp --all --force >/dev/null 2>&1 || kop_log "could not remove every pod through $cri"
  fi
  # The kubelet's pod slices (systemd cgroup driver) outlive it as transient units; stopping the top one stops them all.
  systemctl stop kubepods.slice 2>/dev/null || true
  awk '$2 ~ "^/var/lib/kubelet/" {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(cni0|flannel\.1|flannel-v6\.1|flannel-wg|tunl0|vxlan\.calico|vxlan-v6\.calico|kube-ipvs0|nodelocaldns|cali[0-9a-f]+)$'); do
    ip link delete "$link" 2>/dev/null || true
  done
  kop_remove_kube_chains
  # kube-proxy's IPVS services (it ran in ipvs mode when its kube-ipvs0 interface was there).
  if [ "$had_ipvs" = 1 ] && command -v ipvsadm >/dev/null 2>&1; then ipvsadm --clear || true; fi
  # kube-proxy's nftables mode keeps its rules in tables of its own.
  if command -v nft >/dev/null 2>&1; then
    for family in ip ip6; do nft delete table "$family" kube-proxy 2>/dev/null || true; done
  fi
  if command -v ipset >/dev/null 2>&1; then
    for set in $(ipset list -n 2>/dev/null | grep '^KUBE-'); do ipset destroy "$set" 2>/dev/null || true; done
  fi
  # A directory on a disk of its own (a mount point, as /var/lib/kubelet or /var/lib/etcd often are)
  # is emptied: removing it fails with "Device or resource busy".
  for dir in /etc/kubernetes /var/lib/kubelet /etc/cni/net.d /var/lib/cni /run/flannel /var/lib/calico /var/run/calico ${etcd_dir:+"$etcd_dir"}; do
    if mountpoint -q "$dir" 2>/dev/null; then find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; else rm -rf "$dir"; fi
  done
  # CNI plugins the CNI add-on's DaemonSet copied onto the host (no package owns them), so the
  # kubernetes-cni package's removal can take /opt/cni/bin with it.
  rm -f /opt/cni/bin/flannel /opt/cni/bin/calico /opt/cni/bin/calico-ipam
  # The FlexVolume plugin directories the kubelet makes at its first start, when still empty.
  if [ -d /usr/libexec/kubernetes ]; then find /usr/libexec/kubernetes -depth -type d -empty -delete; fi
  rm -f "$KOP_STATE"/kubeadm-*.done "$KOP_STATE"/kubeadm-config.applied
}
