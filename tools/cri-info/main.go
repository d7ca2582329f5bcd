// cri-info asks a CRI runtime for its status and configuration, like `crictl info`:
// the hosts-tier tests use it to read what containerd really loaded (cgroup driver,
// sandbox image, registry config). cri-tools itself is not served by the Go module
// proxy this project builds from, so this is the smallest client that gives the
// same answer through the same CRI call (RuntimeService.Status, verbose).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	endpoint := flag.String("runtime-endpoint", "unix:///run/containerd/containerd.sock", "CRI socket")
	flag.Parse()

	conn, err := grpc.NewClient(*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cri-info: connect %s: %v\n", *endpoint, err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	status, err := runtimeapi.NewRuntimeServiceClient(conn).Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cri-info: status: %v\n", err)
		os.Exit(1)
	}
	out := map[string]any{"status": status.GetStatus()}
	// Info values are JSON documents (e.g. "config" holds the CRI plugin's loaded configuration).
	for key, value := range status.GetInfo() {
		var decoded any
		if json.Unmarshal([]byte(value), &decoded) == nil {
			out[key] = decoded
		} else {
			out[key] = value
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "cri-info: %v\n", err)
		os.Exit(1)
	}
}
