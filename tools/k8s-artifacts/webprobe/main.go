// webprobe is the cluster tier's test workload: a static program (the pure-Go resolver, no libc)
// that serves a fixed text over HTTP and, run with kubectl exec, fetches a URL or resolves a name
// from inside a pod. Debian's static busybox crashes (SIGSEGV) in wget and nslookup there.
//
//	webprobe serve PORT TEXT
//	webprobe get URL          prints the body; exit 1 on any error or a status other than 200
//	webprobe lookup NAME      prints the addresses, one per line
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: webprobe serve PORT TEXT | get URL | lookup NAME")
	}
	switch os.Args[1] {
	case "serve":
		if len(os.Args) != 4 {
			fail("usage: webprobe serve PORT TEXT")
		}
		text := os.Args[3]
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, text) })
		fail(http.ListenAndServe(":"+os.Args[2], nil).Error())
	case "get":
		client := http.Client{Timeout: 5 * time.Second}
		res, err := client.Get(os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			fail(err.Error())
		}
		if res.StatusCode != http.StatusOK {
			fail(fmt.Sprintf("%s: %s", os.Args[2], res.Status))
		}
		os.Stdout.Write(body)
	case "lookup":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "webprobe:", msg)
	os.Exit(1)
}
