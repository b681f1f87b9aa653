// Command kube-testenv-server is one binary with two subcommands:
//
//	kube-testenv-server kube-apiserver [kube-apiserver flags...]
//	kube-testenv-server etcd --data-dir DIR --listen-client URL --listen-peer URL
//	kube-testenv-server version
//
// kube-apiserver is k8s.io/kubernetes/cmd/kube-apiserver/app, unchanged; etcd is
// go.etcd.io/etcd/server/v3/embed. Both are used by the TypeScript package
// @runtime-agent/kube-testenv to run a real control plane for tests.
package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	_ "time/tzdata" // for CronJob time zone support, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kube-testenv-server (kube-apiserver [flags] | etcd [flags] | version)")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	if os.Getenv("KUBE_TESTENV_WATCH_STDIN") == "1" {
		go exitWhenStdinCloses()
	}
	sub := os.Args[1]
	// Remove the subcommand so each component parses only its own flags.
	os.Args = append([]string{os.Args[0] + " " + sub}, os.Args[2:]...)
	switch sub {
	case "kube-apiserver":
		command := app.NewAPIServerCommand()
		os.Exit(cli.Run(command))
	case "etcd":
		os.Exit(runEtcd(os.Args[1:]))
	case "version":
		fmt.Printf("kubernetes %s etcd %s\n", kubernetesVersion, etcdVersion())
	default:
		usage()
	}
}

// exitWhenStdinCloses stops this process when its stdin reaches EOF. The Node.js parent keeps a pipe
// open on our stdin; if the parent dies without stopping us (crash, SIGKILL), the pipe closes and we
// shut down instead of leaking an etcd or kube-apiserver.
func exitWhenStdinCloses() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Fprintln(os.Stderr, "kube-testenv-server: stdin closed (parent gone), shutting down")
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(15 * time.Second)
	os.Exit(1)
}
