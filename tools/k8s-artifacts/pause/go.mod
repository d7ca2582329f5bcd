module kubeadm-on-pulumi/tools/k8s-artifacts/pause

go 1.24.0
