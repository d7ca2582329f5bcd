// The module's name only: each build uses the module file of its Kubernetes release,
// versions/v<release>.mod (written by modfile.sh; scripts/lib/go-tools.ts builds with -modfile).
module kubeadm-on-pulumi/tools/kubeadm-validate

go 1.24.0
