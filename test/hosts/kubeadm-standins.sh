#!/usr/bin/env bash
# Installs stand-ins for kubeadm, kubectl and crictl in /usr/local/bin (ahead of the packages'
# /usr/bin in PATH). The real binaries cannot be downloaded here, so the hosts tier proves the
# scripts' flags, ordering and secret handling against these: each records its arguments (one
# line per call in /var/log/kop-standin/calls.log) and anything it reads on stdin, and keeps a
# tiny fake cluster state in /var/lib/fake-k8s (nodes, annotations, labels, taints, ConfigMaps,
# etcd members, the cluster version). Version queries go to the packages' own binaries, so apt
# upgrades show through. A fake API answers GET /version on :6443 (openssl s_server -HTTP).
set -euo pipefail
mkdir -p /usr/local/bin /var/log/kop-standin /var/lib/fake-k8s/nodes /var/lib/fake-k8s/configmaps

cat >/usr/local/bin/kop-standin-lib <<'EOF'
# shellcheck shell=bash
LOG=/var/log/kop-standin
STATE=/var/lib/fake-k8s
record() { printf '%s\n' "$*" >>"$LOG/calls.log"; }
# record_stdin NAME: keeps what the tool read on stdin (secrets arrive there, never as arguments),
# as stdin-<n>-NAME; LAST_STDIN names the file.
record_stdin() {
  local n
  n=$(($(cat "$LOG/stdin.count" 2>/dev/null || echo 0) + 1))
  echo "$n" >"$LOG/stdin.count"
  LAST_STDIN="$LOG/stdin-$n-$1"
  cat >"$LAST_STDIN"
}
# subcommand ARGS...: the words before the first flag, joined by "-" ("init-phase-upload-certs").
subcommand() { local w out=""; for w in "$@"; do case $w in -*) break ;; esac; out+="${out:+-}$w"; done; printf '%s' "$out"; }
node_dir() { printf '%s/nodes/%s' "$STATE" "$1"; }
key_file() { printf '%s' "${1//\//%}"; }
fake_api_version() {
  mkdir -p "$STATE/www"
  printf 'HTTP/1.0 200 ok\r\nContent-Type: application/json\r\n\r\n{"major":"1","gitVersion":"v%s"}\n' "$1" >"$STATE/www/version"
  printf '%s\n' "$1" >"$STATE/version"
}
start_fake_api() {
  [ -f "$STATE/api.pid" ] && kill -0 "$(cat "$STATE/api.pid")" 2>/dev/null && return 0
  # Only the server goes to the background, with no descriptor of the caller's session left open.
  (
    cd "$STATE/www" || exit 1
    setsid openssl s_server -quiet -HTTP -accept 6443 -cert /etc/kubernetes/pki/apiserver.crt -key /etc/kubernetes/pki/apiserver.key </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE/api.pid"
  )
}
register_node() { mkdir -p "$(node_dir "$1")"/{annotations,labels,taints}; }
EOF

cat >/usr/local/bin/kubeadm <<'EOF'
#!/usr/bin/env bash
# Test stand-in for kubeadm (kubeadm-on-pulumi hosts tier); not the real tool.
set -euo pipefail
. /usr/local/bin/kop-standin-lib
if [ "${1:-}" = version ]; then exec /usr/bin/kubeadm "$@"; fi
record "kubeadm $*"
reads_stdin=0
for a in "$@"; do [ "$a" = /dev/stdin ] && reads_stdin=1; done
config_file=""
prev=""
for a in "$@"; do [ "$prev" = --config ] && config_file=$a; prev=$a; done
if [ "$reads_stdin" = 1 ]; then
  record_stdin "$(subcommand "$@")"
  config_file=$LAST_STDIN
fi
own_version() { /usr/bin/kubeadm version -o short | sed 's/^v//'; }
case "$*" in
  "config images pull --config "*)
    [ -f "$config_file" ] || { echo "no config $config_file" >&2; exit 1; }
    [ ! -e "$STATE/fail-image-pull" ] || { echo "failed to pull image: dial tcp: i/o timeout" >&2; exit 1; }
    ;;
  "init --config /dev/stdin"*)
    grep -q '^kind: InitConfiguration' "$config_file"
    ! grep -q KOP_SECRET_ "$config_file"
    mkdir -p /etc/kubernetes/manifests /etc/kubernetes/pki
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kubernetes -keyout /etc/kubernetes/pki/ca.key -out /etc/kubernetes/pki/ca.crt 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kube-apiserver -keyout /etc/kubernetes/pki/apiserver.key -out /etc/kubernetes/pki/apiserver.crt 2>/dev/null
    address=$(sed -n 's/^ *advertiseAddress: //p' "$config_file" | head -n 1)
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: AAAA\n    server: https://%s:6443\n  name: test\ncontexts: []\nusers: []\n' "$address" >/etc/kubernetes/admin.conf
    version=$(sed -n 's/^kubernetesVersion: v//p' "$config_file")
    printf 'image: registry.example/kube-apiserver:v%s\n' "$version" >/etc/kubernetes/manifests/kube-apiserver.yaml
    fake_api_version "$version"
    start_fake_api
    register_node "$(hostname)"
    printf 'mode: ""\n' >"$STATE/kube-proxy.conf"
    ;;
  "join --config /dev/stdin"*)
    ! grep -q KOP_SECRET_ "$config_file"
    mkdir -p /etc/kubernetes/manifests /var/lib/kubelet
    printf 'kubelet.conf of %s\n' "$(hostname)" >/etc/kubernetes/kubelet.conf
    if grep -q '^controlPlane:' "$config_file"; then
      printf 'apiVersion: v1\nkind: Config\n' >/etc/kubernetes/admin.conf
      printf 'image: registry.example/kube-apiserver:v%s\n' "$(own_version)" >/etc/kubernetes/manifests/kube-apiserver.yaml
    fi
    ;;
  "reset -f --cri-socket "*)
    [ ! -f "$STATE/api.pid" ] || kill "$(cat "$STATE/api.pid")" 2>/dev/null || true
    rm -rf /etc/kubernetes/manifests /etc/kubernetes/pki /var/lib/kubelet/* "$STATE/api.pid"
    rm -f /etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/super-admin.conf
    ;;
  "init phase upload-config "*" --config "* | "init phase upload-certs "*) ;;
  "init phase addon kube-proxy --config "*)
    printf 'mode: "%s"\n' "$(sed -n 's/^mode: //p' "$config_file")" >"$STATE/kube-proxy.conf"
    ;;
  "upgrade plan "*) ;;
  "upgrade apply "*)
    target=${3#v}
    [ "$target" = "$(own_version)" ] || { echo "kubeadm $(own_version) cannot apply v$target" >&2; exit 1; }
    fake_api_version "$target"
    printf 'image: registry.example/kube-apiserver:v%s\n' "$target" >/etc/kubernetes/manifests/kube-apiserver.yaml
    ;;
  "upgrade node")
    if [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
      printf 'image: registry.example/kube-apiserver:v%s\n' "$(own_version)" >/etc/kubernetes/manifests/kube-apiserver.yaml
    fi
    mkdir -p /var/lib/kubelet
    printf '# kubelet configuration from the cluster, written by kubeadm %s\n' "$(own_version)" >/var/lib/kubelet/config.yaml
    ;;
  *) echo "kubeadm stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
EOF

cat >/usr/local/bin/kubectl <<'EOF'
#!/usr/bin/env bash
# Test stand-in for kubectl (kubeadm-on-pulumi hosts tier); not the real tool.
set -euo pipefail
. /usr/local/bin/kop-standin-lib
args=()
kubeconfig=""
while [ $# -gt 0 ]; do
  case $1 in
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --request-timeout=*) shift ;;
    # The steps keep kubectl's discovery cache under /tmp (it must not outlive a destroy in ~/.kube).
    --cache-dir) [[ $2 == /tmp/* ]] || { echo "kubectl stand-in: --cache-dir $2 is not under /tmp" >&2; exit 1; }; shift 2 ;;
    -n) shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]}"
# Where the credentials came from: a pipe (/dev/fd/N, content digest) or a file.
case $kubeconfig in
  /dev/fd/*) source_of_credentials="pipe:$(sha256sum <"$kubeconfig" | cut -c1-12)" ;;
  *) source_of_credentials="file:$kubeconfig" ;;
esac
record "kubectl [$source_of_credentials] $*"
jsonpath() { local a; for a in "$@"; do case $a in jsonpath=*) printf '%s' "${a#jsonpath=}" ;; esac; done; }
case "$1 ${2:-}" in
  "get --raw")
    case $3 in
      /readyz) echo ok ;;
      /version) printf '{"major":"1","gitVersion":"v%s"}\n' "$(cat "$STATE/version")" ;;
    esac ;;
  "get node")
    d=$(node_dir "$3")
    [ -d "$d" ] || { echo "Error from server (NotFound): nodes \"$3\" not found" >&2; exit 1; }
    case "${4:-} ${5:-}" in
      " ") ;;
      "-o jsonpath={.spec.unschedulable}") cat "$d/unschedulable" 2>/dev/null || true ;;
      "-o jsonpath={.status.conditions[?(@.type==\"Ready\")].status}") [ -e "$d/notready" ] && echo False || echo True ;;
      "-o jsonpath={.status.nodeInfo.kubeletVersion}")
        if [ "$3" = "$(hostname)" ]; then kubelet --version | sed 's/^Kubernetes //'; else cat "$d/kubelet-version"; fi ;;
      "-o go-template="*)
        key=$(printf '%s' "$5" | sed -n 's/.*index \. "\([^"]*\)".*/\1/p')
        cat "$d/annotations/$(key_file "$key")" 2>/dev/null || true ;;
      *) echo "kubectl stand-in: unexpected node query: $*" >&2; exit 1 ;;
    esac ;;
  "get nodes")
    for d in "$STATE"/nodes/*/; do
      [ -d "$d" ] || continue
      printf '%s %s\n' "$(basename "$d")" "$(cat "$d/unschedulable" 2>/dev/null || true)"
    done ;;
  "annotate --overwrite" | "annotate node")
    [ "$2" = --overwrite ] && shift
    d=$(node_dir "$3")
    for kv in "${@:4}"; do
      case $kv in
        *-) rm -f "$d/annotations/$(key_file "${kv%-}")" ;;
        *) printf '%s' "${kv#*=}" >"$d/annotations/$(key_file "${kv%%=*}")" ;;
      esac
    done ;;
  "label --overwrite" | "label node")
    [ "$2" = --overwrite ] && shift
    d=$(node_dir "$3")
    for kv in "${@:4}"; do
      case $kv in
        *-) rm -f "$d/labels/$(key_file "${kv%-}")" ;;
        *) printf '%s' "${kv#*=}" >"$d/labels/$(key_file "${kv%%=*}")" ;;
      esac
    done ;;
  "taint --overwrite" | "taint node")
    [ "$2" = --overwrite ] && shift
    d=$(node_dir "$3")
    case $4 in
      *-) rm -f "$d/taints/$(key_file "${4%-}")" ;;
      *=*) printf '%s' "$4" >"$d/taints/$(key_file "${4%%=*}:${4##*:}")" ;;
      *) printf '%s' "$4" >"$d/taints/$(key_file "$4")" ;;
    esac ;;
  "drain "*)
    [ -d "$(node_dir "$2")" ] || exit 1
    [ ! -e "$STATE/drain-blocked" ] || { echo "error when evicting pods/\"web-0\": Cannot evict pod as it would violate the pod's disruption budget." >&2; exit 1; }
    echo true >"$(node_dir "$2")/unschedulable" ;;
  "uncordon "*) rm -f "$(node_dir "$2")/unschedulable" ;;
  "delete node") rm -rf "$(node_dir "$3")" ;;
  "apply --server-side")
    record_stdin apply
    if grep -q 'kind: ServiceAccount' "$LAST_STDIN"; then echo fake-sa-token >"$STATE/sa-token"; fi ;;
  "get secret")
    [ "$(jsonpath "$@")" = "{.data.token}" ] && base64 -w0 <"$STATE/sa-token" ;;
  "create configmap")
    mkdir "$STATE/configmaps/$3" 2>/dev/null || { echo "Error from server (AlreadyExists): configmaps \"$3\" already exists" >&2; exit 1; }
    printf '%s' "${4#--from-literal=holder=}" >"$STATE/configmaps/$3/holder" ;;
  "get configmap")
    case "$3" in
      kube-proxy) cat "$STATE/kube-proxy.conf" ;;
      *) cat "$STATE/configmaps/$3/holder" 2>/dev/null || exit 1 ;;
    esac ;;
  "delete configmap") rm -rf "$STATE/configmaps/$3" ;;
  "rollout restart") ;;
  *) echo "kubectl stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
EOF

cat >/usr/local/bin/crictl <<'EOF'
#!/usr/bin/env bash
# Test stand-in for crictl running etcdctl in the etcd container (kubeadm-on-pulumi hosts tier).
set -euo pipefail
. /usr/local/bin/kop-standin-lib
record "crictl $*"
case "$1" in
  ps) echo fake-etcd-container ;;
  exec)
    case "$*" in
      *"member list"*) cat "$STATE/etcd-members" ;;
      *"member remove "*)
        id=${!#}
        grep -v "^$id," "$STATE/etcd-members" >"$STATE/etcd-members.new" || true
        mv "$STATE/etcd-members.new" "$STATE/etcd-members" ;;
    esac ;;
esac
EOF
chmod 0755 /usr/local/bin/kubeadm /usr/local/bin/kubectl /usr/local/bin/crictl
