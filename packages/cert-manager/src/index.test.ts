import { expect, it } from "vitest";
import * as api from "./index.js";

it("exports the documented public surface", () => {
  expect(Object.keys(api).sort()).toEqual(
    [
      "CertificateError",
      "CertificateErrorCode",
      "DEFAULT_CLOCK_SKEW_MS",
      "DEFAULT_MODULUS_LENGTH",
      "DEFAULT_RENEWAL_THRESHOLD",
      "DistinguishedName",
      "MAX_SUBJECT_BYTES",
      "SubjectAttributeOids",
      "certificateFacts",
      "createCsr",
      "decodeCertificationResult",
      "decodeStandardBase64",
      "escapeAttributeValue",
      "formatSubject",
      "generateKeyPair",
      "importKeyPair",
      "isCertificateError",
      "modulusLengthFor",
      "parseSubject",
      "pemEncode",
      "readCsr",
      "readPrivateKey",
      "shouldRenew",
      "splitPemCertificates",
      "stableRandom",
      "toPkcs1Pem",
    ].sort(),
  );
  expect(api.CertificateErrorCode).toEqual({
    SubjectInvalid: "CERT_SUBJECT_INVALID",
    KeyInvalid: "CERT_KEY_INVALID",
    BadEncoding: "CERT_BAD_ENCODING",
    KeyMismatch: "CERT_KEY_MISMATCH",
    SubjectMismatch: "CERT_SUBJECT_MISMATCH",
    ChainInvalid: "CERT_CHAIN_INVALID",
    NotYetValid: "CERT_NOT_YET_VALID",
    Expired: "CERT_EXPIRED",
    CsrInvalid: "CERT_CSR_INVALID",
    InvalidArgument: "CERT_INVALID_ARGUMENT",
  });
});
