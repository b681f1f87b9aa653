export {
  CertificateError,
  CertificateErrorCode,
  isCertificateError,
  type CertificateErrorOptions,
} from "./errors.js";
export {
  DistinguishedName,
  MAX_SUBJECT_BYTES,
  SubjectAttributeOids,
  escapeAttributeValue,
  formatSubject,
  parseSubject,
  type SubjectAttribute,
  type SubjectAttributeInput,
} from "./subject.js";
export {
  DEFAULT_MODULUS_LENGTH,
  generateKeyPair,
  modulusLengthFor,
  importKeyPair,
  readPrivateKey,
  toPkcs1Pem,
  type GenerateKeyPairOptions,
  type KeyPair,
} from "./keys.js";
export { createCsr, readCsr, type CreateCsrOptions, type Csr, type CsrInfo } from "./csr.js";
export type { SubjectStringEncoding } from "./name-der.js";
export { decodeStandardBase64, pemEncode, splitPemCertificates } from "./pem.js";
export {
  DEFAULT_CLOCK_SKEW_MS,
  certificateFacts,
  decodeCertificationResult,
  type CertificateFacts,
  type CertificationExpectations,
  type CertificationResult,
  type DecodedCertificationResult,
} from "./certificate.js";
export {
  DEFAULT_RENEWAL_THRESHOLD,
  shouldRenew,
  stableRandom,
  type RenewalDecision,
  type RenewalInput,
  type RenewalReason,
} from "./renewal.js";
