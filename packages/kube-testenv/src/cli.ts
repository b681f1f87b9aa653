#!/usr/bin/env node
/**
 * kube-testenv up [--crds PATH]... [--rbac DIR]
 *   Starts etcd + kube-apiserver, prints one JSON line on stdout:
 *   {"event":"ready","kubeconfig":PATH,"agentKubeconfig":PATH}
 *   and runs until SIGTERM or SIGINT; then stops everything and removes its temp files.
 * kube-testenv build
 *   Builds (or finds in the cache) the kube-apiserver/etcd binary and the manifest reader, and prints the
 *   build times.
 *
 * Progress goes to stderr.
 */
import { ensureBinaries, ensureManifestReader } from "./build.js";
import { startControlPlane, type ControlPlaneOptions } from "./control-plane.js";
import { KubeTestenvError } from "./errors.js";

const USAGE = `usage:
  kube-testenv up [--crds PATH]... [--rbac DIR]   start a control plane; prints {"event":"ready",...} on stdout
  kube-testenv build                               build and cache kube-apiserver + etcd and the manifest reader
env: KUBE_TESTENV_CACHE (binary cache dir), USE_EXISTING_CLUSTER=true with KUBECONFIG (use that cluster)`;

function parseUp(args: string[]): ControlPlaneOptions {
  const crds: string[] = [];
  let rbacDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = (flag: string): string => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new KubeTestenvError("USAGE", `${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (a === "--crds" || a.startsWith("--crds=")) crds.push(value("--crds"));
    else if (a === "--rbac" || a.startsWith("--rbac=")) rbacDir = value("--rbac");
    else throw new KubeTestenvError("USAGE", `unknown argument ${a}\n${USAGE}`);
  }
  return { crds, ...(rbacDir !== undefined ? { rbacDir } : {}) };
}

async function up(args: string[]): Promise<void> {
  const options = parseUp(args);
  let stopRequested: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopRequested !== undefined && wake === undefined) {
      // Second signal while still starting (e.g. during a long build): give up now. The exit hook kills
      // etcd/kube-apiserver and removes the temp directory.
      process.stderr.write(`[kube-testenv] ${sig} again: aborting\n`);
      process.exit(130);
    }
    if (stopRequested === undefined && wake === undefined) {
      process.stderr.write(
        `[kube-testenv] ${sig}: will stop as soon as startup finishes (send it again to abort)\n`,
      );
    }
    stopRequested ??= sig;
    wake?.();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const cp = await startControlPlane(options);
  if (stopRequested === undefined) {
    process.stdout.write(
      `${JSON.stringify({ event: "ready", kubeconfig: cp.kubeconfigPath, agentKubeconfig: cp.agentKubeconfigPath })}\n`,
    );
    await new Promise<void>((resolve) => {
      // The interval keeps the event loop alive until a signal arrives.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      wake = () => {
        clearInterval(keepAlive);
        resolve();
      };
    });
  }
  process.stderr.write(`[kube-testenv] ${stopRequested ?? "signal"}: stopping\n`);
  await cp.stop();
  process.stderr.write("[kube-testenv] stopped\n");
}

async function build(): Promise<void> {
  for (const ensure of [ensureBinaries, ensureManifestReader]) {
    const started = Date.now();
    const info = await ensure();
    const seconds = info.buildSeconds ?? (Date.now() - started) / 1000;
    process.stdout.write(
      info.cached
        ? `kube-testenv: ${info.version} already cached at ${info.path} (${seconds.toFixed(1)} s)\n`
        : `kube-testenv: built ${info.version} in ${seconds.toFixed(1)} s -> ${info.path}\n`,
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up":
      await up(rest);
      return 0;
    case "build":
      if (rest.length > 0) throw new KubeTestenvError("USAGE", `build takes no arguments\n${USAGE}`);
      await build();
      return 0;
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof KubeTestenvError) {
      process.stderr.write(`kube-testenv: ${err.code}: ${err.message}\n`);
      process.exitCode = err.code === "USAGE" ? 2 : 1;
    } else {
      process.stderr.write(
        `kube-testenv: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
