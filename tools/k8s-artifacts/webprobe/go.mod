module kubeadm-on-pulumi/tools/k8s-artifacts/webprobe

go 1.24.0
