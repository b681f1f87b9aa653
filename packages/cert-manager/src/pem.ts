import { CertificateError, CertificateErrorCode } from "./errors.js";

/** One PEM block: its label (`CERTIFICATE`, `RSA PRIVATE KEY`, …) and the DER bytes. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array<ArrayBuffer>;
}

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const WHITESPACE = /[\s]+/g;

function badEncoding(message: string, cause?: unknown): CertificateError {
  return new CertificateError(
    CertificateErrorCode.BadEncoding,
    message,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Decodes standard (RFC 4648 §4, padded) base64. Whitespace and line breaks are ignored; URL-safe characters,
 * missing padding and any other character are rejected with `CERT_BAD_ENCODING`. `what` names the input in the
 * error message.
 */
export function decodeStandardBase64(text: string, what = "input"): Uint8Array<ArrayBuffer> {
  if (typeof text !== "string") throw badEncoding(`${what} must be a string of standard base64.`);
  const compact = text.replace(WHITESPACE, "");
  if (compact.length === 0) throw badEncoding(`${what} is empty.`);
  if (!STD_BASE64.test(compact)) {
    throw badEncoding(`${what} is not standard base64 (RFC 4648, with padding).`);
  }
  return new Uint8Array(Buffer.from(compact, "base64"));
}

/** Encodes DER bytes as a PEM block: 64-character lines, `\n` line endings, a trailing newline. */
export function pemEncode(label: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9][A-Z0-9 ]*)-----([\s\S]*?)-----END ([A-Z0-9][A-Z0-9 ]*)-----/g;

/**
 * Every PEM block in `text`, in order. Text between blocks (explanatory text, RFC 7468 §5.2) is ignored.
 * A block whose END label differs from its BEGIN label, an unterminated block, or a body that is not base64 throws
 * `CERT_BAD_ENCODING`. Blocks with RFC 1421 headers (legacy encrypted keys) are rejected too.
 */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let consumed = 0;
  for (const match of text.matchAll(BLOCK)) {
    const [, label = "", body = "", endLabel = ""] = match;
    if (label !== endLabel) {
      throw badEncoding(`PEM block "BEGIN ${label}" ends with "END ${endLabel}".`);
    }
    if (body.includes(":"))
      throw badEncoding(`PEM block "${label}" has headers (encrypted?); not supported.`);
    const der = decodeStandardBase64(body, `PEM block "${label}"`);
    blocks.push({ label, der });
    consumed = (match.index ?? 0) + match[0].length;
  }
  if (text.indexOf("-----BEGIN ", consumed) !== -1) throw badEncoding("Unterminated PEM block.");
  return blocks;
}

/**
 * The `CERTIFICATE` blocks of a PEM bundle, each re-encoded canonically (64-column lines, `\n`, trailing newline).
 * Other block types and text between blocks are skipped. Does not parse the certificates.
 */
export function splitPemCertificates(text: string): string[] {
  return parsePemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => pemEncode("CERTIFICATE", b.der));
}
