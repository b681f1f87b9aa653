// Builds (or finds in the cache) the kube-apiserver/etcd binary and the manifest reader once before this
// package's tests run. A cold build takes many minutes; CI warms the cache with `kube-testenv build`.
import { ensureBinaries, ensureManifestReader } from "../src/build.js";

export default async function setup(): Promise<void> {
  for (const info of [await ensureBinaries(), await ensureManifestReader()]) {
    process.stderr.write(
      `[kube-testenv] test binary ${info.path} (${info.cached ? "cached" : `built in ${info.buildSeconds?.toFixed(1)} s`})\n`,
    );
  }
}
