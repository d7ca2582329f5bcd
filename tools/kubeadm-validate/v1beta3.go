//go:build !kop_no_v1beta3

// kubeadm.k8s.io/v1beta3: read by kubeadm up to 1.36 and removed in 1.37, so the builds for 1.37
// and later leave this file out (scripts/build-kubeadm-validate.sh passes -tags kop_no_v1beta3).
package main

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmv1beta3 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta3"
)

func init() {
	olderTarget = func(apiVersion, kind string) (interface{}, bool) {
		switch apiVersion + "/" + kind {
		case "kubeadm.k8s.io/v1beta3/InitConfiguration":
			return &kubeadmv1beta3.InitConfiguration{}, true
		case "kubeadm.k8s.io/v1beta3/ClusterConfiguration":
			return &kubeadmv1beta3.ClusterConfiguration{}, true
		case "kubeadm.k8s.io/v1beta3/JoinConfiguration":
			return &kubeadmv1beta3.JoinConfiguration{}, true
		}
		return nil, false
	}
	olderSemantic = func(obj interface{}) (field.ErrorList, bool) {
		v, ok := obj.(*kubeadmv1beta3.ClusterConfiguration)
		if !ok {
			return nil, false
		}
		internal := &kubeadmapi.ClusterConfiguration{}
		kubeadmv1beta3.SetObjectDefaults_ClusterConfiguration(v)
		if err := kubeadmv1beta3.Convert_v1beta3_ClusterConfiguration_To_kubeadm_ClusterConfiguration(v, internal, nil); err != nil {
			return field.ErrorList{field.InternalError(nil, err)}, true
		}
		return validateCluster(internal), true
	}
}
