// kubeadm-validate strictly decodes kubeadm configuration files into the published Go types of
// their API version, the way kubeadm itself reads them: unknown fields, duplicate fields and
// wrong types are errors. Each argument is a YAML file of one or more documents; the result is
// one JSON line per document on stdout, and the exit status is 1 when any document fails.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmv1beta4 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/validation"
	"sigs.k8s.io/yaml"
)

type result struct {
	File       string   `json:"file"`
	Index      int      `json:"index"`
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Errors     []string `json:"errors"`
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// olderTarget and olderSemantic cover API versions only some kubeadm releases have (v1beta3 up to
// 1.36: v1beta3.go, built unless the tag kop_no_v1beta3 is given).
var (
	olderTarget   = func(apiVersion, kind string) (interface{}, bool) { return nil, false }
	olderSemantic = func(obj interface{}) (field.ErrorList, bool) { return nil, false }
)

// target returns an empty value of the published type for apiVersion/kind.
func target(apiVersion, kind string) (interface{}, bool) {
	if obj, ok := olderTarget(apiVersion, kind); ok {
		return obj, true
	}
	switch apiVersion + "/" + kind {
	case "kubeadm.k8s.io/v1beta4/InitConfiguration":
		return &kubeadmv1beta4.InitConfiguration{}, true
	case "kubeadm.k8s.io/v1beta4/ClusterConfiguration":
		return &kubeadmv1beta4.ClusterConfiguration{}, true
	case "kubeadm.k8s.io/v1beta4/JoinConfiguration":
		return &kubeadmv1beta4.JoinConfiguration{}, true
	case "kubeadm.k8s.io/v1beta4/UpgradeConfiguration":
		return &kubeadmv1beta4.UpgradeConfiguration{}, true
	case "kubelet.config.k8s.io/v1beta1/KubeletConfiguration":
		return &kubeletv1beta1.KubeletConfiguration{}, true
	case "kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration":
		return &kubeproxyv1alpha1.KubeProxyConfiguration{}, true
	}
	return nil, false
}

// semanticErrors runs kubeadm's own validation on the cluster-wide parts that do not depend on
// the machine running the check (networking, certSANs, endpoints, extra args).
func semanticErrors(obj interface{}) field.ErrorList {
	if errs, ok := olderSemantic(obj); ok {
		return errs
	}
	switch v := obj.(type) {
	case *kubeadmv1beta4.ClusterConfiguration:
		internal := &kubeadmapi.ClusterConfiguration{}
		kubeadmv1beta4.SetObjectDefaults_ClusterConfiguration(v)
		if err := kubeadmv1beta4.Convert_v1beta4_ClusterConfiguration_To_kubeadm_ClusterConfiguration(v, internal, nil); err != nil {
			return field.ErrorList{field.InternalError(nil, err)}
		}
		return validateCluster(internal)
	}
	return nil
}

func validateCluster(c *kubeadmapi.ClusterConfiguration) field.ErrorList {
	errs := field.ErrorList{}
	errs = append(errs, validation.ValidateNetworking(c, field.NewPath("networking"))...)
	errs = append(errs, validation.ValidateAPIServer(&c.APIServer, field.NewPath("apiServer"))...)
	errs = append(errs, validation.ValidateEtcd(&c.Etcd, field.NewPath("etcd"))...)
	errs = append(errs, validation.ValidateExtraArgs(c.ControllerManager.ExtraArgs, field.NewPath("controllerManager", "extraArgs"))...)
	errs = append(errs, validation.ValidateExtraArgs(c.Scheduler.ExtraArgs, field.NewPath("scheduler", "extraArgs"))...)
	return errs
}

func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, part := range bytes.Split(data, []byte("\n---")) {
		trimmed := strings.TrimSpace(string(part))
		if trimmed == "" || trimmed == "---" {
			continue
		}
		docs = append(docs, part)
	}
	return docs
}

func main() {
	failed := false
	out := json.NewEncoder(os.Stdout)
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for i, doc := range splitDocuments(data) {
			r := result{File: file, Index: i, Errors: []string{}}
			var meta typeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				r.Errors = append(r.Errors, "not YAML: "+err.Error())
			} else {
				r.APIVersion, r.Kind = meta.APIVersion, meta.Kind
				obj, known := target(meta.APIVersion, meta.Kind)
				if !known {
					r.Errors = append(r.Errors, fmt.Sprintf("unknown apiVersion/kind %s %s", meta.APIVersion, meta.Kind))
				} else if err := yaml.UnmarshalStrict(doc, obj); err != nil {
					r.Errors = append(r.Errors, err.Error())
				} else {
					for _, e := range semanticErrors(obj) {
						r.Errors = append(r.Errors, e.Error())
					}
				}
			}
			if len(r.Errors) > 0 {
				failed = true
			}
			_ = out.Encode(r)
		}
	}
	if failed {
		os.Exit(1)
	}
}
