/** Writes one progress line to stderr (never stdout: the CLI keeps stdout for its JSON line). */
export function progress(message: string): void {
  if (process.env["KUBE_TESTENV_QUIET"] === "1") return;
  process.stderr.write(`[kube-testenv] ${message}\n`);
}
