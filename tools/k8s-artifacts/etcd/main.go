// etcd: the etcd server as the etcd release builds it (etcdmain.Main), at the version the
// Kubernetes release's kubeadm asks for. go.mod is written by scripts/build-k8s-artifacts.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
