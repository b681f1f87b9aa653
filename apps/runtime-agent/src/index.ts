export { main as runCli } from "./cli/main.js";
export { readCertDir, writeCertDir, CERT_DIR_FILES } from "./cert-dir.js";
export type { CertDirContent, ConnectionInfo } from "./cert-dir.js";
