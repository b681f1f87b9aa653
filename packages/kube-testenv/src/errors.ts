/**
 * Stable error codes of kube-testenv. Every failure carries one of them.
 *
 * - `GO_NOT_FOUND`: no Go toolchain on PATH, in `$GOROOT/bin` or `/usr/local/go/bin`; install Go >= 1.25.
 * - `BUILD_FAILED`: `go build` of kube-apiserver/etcd or of the manifest reader failed; the message holds the tail of its output.
 * - `BUILD_LOCKED`: another process held the build lock for too long.
 * - `PKI_FAILED`: generating keys or certificates (node:crypto / `openssl`) failed.
 * - `PROCESS_EXITED`: etcd or kube-apiserver exited before it was ready; the message holds its log tail.
 * - `NOT_READY`: a component did not become ready in time.
 * - `API_ERROR`: the API server answered a request with an unexpected status.
 * - `MANIFEST_INVALID`: a YAML manifest could not be read or parsed, or names an unknown kind.
 * - `KUBECONFIG_INVALID`: `KUBECONFIG` is missing, unreadable, or uses an unsupported auth method.
 * - `PROXY_CLOSED`: the fault proxy closed while a caller still awaited a matching request.
 * - `USAGE`: bad command line arguments, or a fault proxy rule that cannot work as written.
 */
export type KubeTestenvErrorCode =
  | "GO_NOT_FOUND"
  | "BUILD_FAILED"
  | "BUILD_LOCKED"
  | "PKI_FAILED"
  | "PROCESS_EXITED"
  | "NOT_READY"
  | "API_ERROR"
  | "MANIFEST_INVALID"
  | "KUBECONFIG_INVALID"
  | "PROXY_CLOSED"
  | "USAGE";

/** The one error class of this package. */
export class KubeTestenvError extends Error {
  override readonly name = "KubeTestenvError";
  readonly code: KubeTestenvErrorCode;
  /** Whether trying again (unchanged) can help. */
  readonly retryable: boolean;
  /** HTTP status for `API_ERROR`. */
  readonly status: number | undefined;

  constructor(
    code: KubeTestenvErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
  }
}
