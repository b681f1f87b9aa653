import { describe, expect, it } from "vitest";
import { CertificateError, CertificateErrorCode, isCertificateError } from "./errors.js";
import { decodeStandardBase64, parsePemBlocks, pemEncode, splitPemCertificates } from "./pem.js";

const der = Uint8Array.from({ length: 100 }, (_, i) => i);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CertificateError ? error.code : "not a CertificateError";
  }
  return undefined;
}

describe("pemEncode / parsePemBlocks", () => {
  it("writes 64-column lines with a trailing newline and reads them back", () => {
    const pem = pemEncode("CERTIFICATE", der);
    const lines = pem.split("\n");
    expect(lines[0]).toBe("-----BEGIN CERTIFICATE-----");
    expect(lines[1]).toHaveLength(64);
    expect(pem.endsWith("-----END CERTIFICATE-----\n")).toBe(true);
    expect(parsePemBlocks(pem)).toEqual([{ label: "CERTIFICATE", der }]);
    expect(pemEncode("X", der.buffer)).toBe(pemEncode("X", der));
  });

  it("tolerates CRLF, indentation and explanatory text between blocks", () => {
    const pem = pemEncode("CERTIFICATE", der);
    const messy = `subject=CN=x\r\n${pem.replaceAll("\n", "\r\n  ")}\nissuer: y\n${pem}`;
    expect(parsePemBlocks(messy)).toHaveLength(2);
  });

  it("rejects mismatched labels, headers, bad bodies and unterminated blocks", () => {
    const pem = pemEncode("CERTIFICATE", der);
    expect(code(() => parsePemBlocks(pem.replace("END CERTIFICATE", "END X509 CRL")))).toBe(
      "CERT_BAD_ENCODING",
    );
    expect(code(() => parsePemBlocks(pem.replace("-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n")))).toBe(
      "CERT_BAD_ENCODING",
    );
    expect(code(() => parsePemBlocks(pem.replace(/\n[A-Za-z0-9]/, "\n!")))).toBe("CERT_BAD_ENCODING");
    expect(code(() => parsePemBlocks(`${pem}-----BEGIN CERTIFICATE-----\nAAAA\n`))).toBe("CERT_BAD_ENCODING");
    expect(code(() => parsePemBlocks("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))).toBe(
      "CERT_BAD_ENCODING",
    );
  });
});

describe("splitPemCertificates", () => {
  it("returns only CERTIFICATE blocks, canonically encoded", () => {
    const cert = pemEncode("CERTIFICATE", der);
    const key = pemEncode("PRIVATE KEY", der);
    const wrapped = cert.replace(/(.{32})/g, "$1\n").replaceAll("\n\n", "\n");
    expect(splitPemCertificates(`${wrapped}${key}${cert}`)).toEqual([cert, cert]);
    expect(splitPemCertificates("no pem here")).toEqual([]);
  });
});

describe("decodeStandardBase64", () => {
  it("decodes padded standard base64 and ignores whitespace", () => {
    expect(Buffer.from(decodeStandardBase64("aGVs\nbG8=\r\n")).toString()).toBe("hello");
    expect(Buffer.from(decodeStandardBase64(" +/8= ")).toString("hex")).toBe("fbff");
  });

  it("rejects URL-safe characters, missing padding, garbage and empty input", () => {
    for (const bad of ["-_8=", "aGVsbG8", "aGVs bG8=!", "", "  \n", "a===", "@@@@"]) {
      expect(
        code(() => decodeStandardBase64(bad)),
        bad,
      ).toBe("CERT_BAD_ENCODING");
    }
    expect(code(() => decodeStandardBase64(7 as unknown as string))).toBe("CERT_BAD_ENCODING");
  });
});

describe("CertificateError", () => {
  it("carries a stable code, retryable=false and the cause", () => {
    const cause = new Error("inner");
    const error = new CertificateError(CertificateErrorCode.Expired, "expired", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("CertificateError");
    expect(error.code).toBe("CERT_EXPIRED");
    expect(error.retryable).toBe(false);
    expect(error.cause).toBe(cause);
    expect(isCertificateError(error)).toBe(true);
    expect(isCertificateError(error, "CERT_EXPIRED")).toBe(true);
    expect(isCertificateError(error, "CERT_KEY_INVALID")).toBe(false);
    expect(isCertificateError(cause)).toBe(false);
    expect(new CertificateError("CERT_BAD_ENCODING", "x").cause).toBeUndefined();
  });

  it("has unique codes", () => {
    const codes = Object.values(CertificateErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^CERT_[A-Z_]+$/);
  });
});
