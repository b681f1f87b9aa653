import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { CertificateError, CertificateErrorCode } from "./errors.js";
import { parsePemBlocks } from "./pem.js";

/** The WebCrypto algorithm our keys are generated and imported with (what Go's x509 uses for RSA CSRs). */
export const RSA_SIGNING_ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** Key size the Go agent uses, and our default. */
export const DEFAULT_MODULUS_LENGTH = 4096;
export const MIN_MODULUS_LENGTH = 2048;
export const MAX_MODULUS_LENGTH = 16384;

/**
 * An RSA key pair usable for CSRs. `privateKeyPem` is PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`), the format the Kyma
 * client-certificate Secret holds under `key`. The private key is left out of `JSON.stringify` and `util.inspect`.
 */
export interface KeyPair {
  /** WebCrypto keys (RSASSA-PKCS1-v1_5 / SHA-256, extractable). */
  readonly cryptoKeyPair: CryptoKeyPair;
  readonly modulusLength: number;
  /** SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`). */
  readonly publicKeyPem: string;
  /** PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`). Secret: do not log. */
  readonly privateKeyPem: string;
}

const REDACTED = "[REDACTED]";

class RsaKeyPair implements KeyPair {
  readonly #privateKeyPem: string;

  constructor(
    readonly cryptoKeyPair: CryptoKeyPair,
    readonly modulusLength: number,
    readonly publicKeyPem: string,
    privateKeyPem: string,
  ) {
    this.#privateKeyPem = privateKeyPem;
  }

  get privateKeyPem(): string {
    return this.#privateKeyPem;
  }

  toJSON(): Record<string, unknown> {
    return { modulusLength: this.modulusLength, publicKeyPem: this.publicKeyPem, privateKeyPem: REDACTED };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `KeyPair { modulusLength: ${this.modulusLength}, privateKeyPem: ${REDACTED} }`;
  }
}

function keyInvalid(message: string, cause?: unknown): CertificateError {
  return new CertificateError(CertificateErrorCode.KeyInvalid, message, cause === undefined ? {} : { cause });
}

export interface GenerateKeyPairOptions {
  /** RSA modulus length in bits, 2048…16384. Default 4096 (as the Go agent). */
  readonly modulusLength?: number;
}

/** The largest RSA size a Connector's `keyAlgorithm` may choose (a bigger key would take minutes to generate). */
const MAX_ADVISED_MODULUS_LENGTH = 8192;

/**
 * The RSA key size for the Connector's advisory `keyAlgorithm` (`rsa2048` → 2048, as Compass sends): at least
 * MIN_MODULUS_LENGTH, at most MAX_ADVISED_MODULUS_LENGTH. DEFAULT_MODULUS_LENGTH when it names no RSA size (an empty
 * or unknown algorithm: Compass signs only RSA keys, so the key stays RSA).
 */
export function modulusLengthFor(keyAlgorithm: string): number {
  const match = /^\s*rsa[-_]?(\d{1,6})\s*$/i.exec(keyAlgorithm);
  if (match === null) return DEFAULT_MODULUS_LENGTH;
  return Math.min(Math.max(Number(match[1]), MIN_MODULUS_LENGTH), MAX_ADVISED_MODULUS_LENGTH);
}

/**
 * Generates a fresh RSA key pair with WebCrypto (RSASSA-PKCS1-v1_5, SHA-256, e = 65537). Asynchronous: the work runs
 * off the event loop. A 4096-bit key takes seconds on a slow machine; 2048 bits is much faster.
 */
export async function generateKeyPair(options: GenerateKeyPairOptions = {}): Promise<KeyPair> {
  const modulusLength = options.modulusLength ?? DEFAULT_MODULUS_LENGTH;
  if (
    !Number.isInteger(modulusLength) ||
    modulusLength < MIN_MODULUS_LENGTH ||
    modulusLength > MAX_MODULUS_LENGTH
  ) {
    throw new CertificateError(
      CertificateErrorCode.InvalidArgument,
      `modulusLength must be an integer between ${MIN_MODULUS_LENGTH} and ${MAX_MODULUS_LENGTH}, got ${String(modulusLength)}.`,
    );
  }
  const subtle = globalThis.crypto.subtle;
  const cryptoKeyPair = await subtle.generateKey(
    { ...RSA_SIGNING_ALGORITHM, modulusLength, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  );
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", cryptoKeyPair.privateKey));
  const spki = new Uint8Array(await subtle.exportKey("spki", cryptoKeyPair.publicKey));
  const keyObject = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  pkcs8.fill(0);
  const publicKeyPem = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" })
    .export({ type: "spki", format: "pem" })
    .toString();
  return new RsaKeyPair(cryptoKeyPair, modulusLength, publicKeyPem, toPkcs1Pem(keyObject));
}

/**
 * Reads an RSA private key from PEM: PKCS#1 (`RSA PRIVATE KEY`, what the Kyma Secret holds) or unencrypted PKCS#8
 * (`PRIVATE KEY`). Anything else (encrypted, EC, public key, garbage) throws `CERT_KEY_INVALID`. Error messages never
 * contain the key.
 */
export function readPrivateKey(pem: string): KeyObject {
  if (typeof pem !== "string") throw keyInvalid("Private key must be a PEM string.");
  let blocks;
  try {
    blocks = parsePemBlocks(pem);
  } catch (cause) {
    throw keyInvalid("Private key is not valid PEM.", cause);
  }
  const keyBlocks = blocks.filter((b) => b.label.endsWith("PRIVATE KEY"));
  if (keyBlocks.length !== 1 || blocks.length !== 1) {
    throw keyInvalid(
      `Expected exactly one PEM private key block ("RSA PRIVATE KEY" or "PRIVATE KEY"), found ${
        blocks.length === 0 ? "none" : blocks.map((b) => `"${b.label}"`).join(", ")
      }.`,
    );
  }
  const block = keyBlocks[0];
  if (block === undefined) throw keyInvalid("No private key block.");
  if (block.label !== "RSA PRIVATE KEY" && block.label !== "PRIVATE KEY") {
    throw keyInvalid(
      block.label === "ENCRYPTED PRIVATE KEY"
        ? "Encrypted private keys are not supported; store the key unencrypted (PKCS#1 or PKCS#8)."
        : `Unsupported private key type "${block.label}"; expected an RSA key (PKCS#1 or PKCS#8).`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({
      key: Buffer.from(block.der),
      format: "der",
      type: block.label === "RSA PRIVATE KEY" ? "pkcs1" : "pkcs8",
    });
  } catch (cause) {
    throw keyInvalid(`The "${block.label}" block does not hold a valid private key.`, cause);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw keyInvalid(`Private key is ${key.asymmetricKeyType ?? "unknown"}, expected rsa.`);
  }
  return key;
}

/** Re-encodes an RSA private key (KeyObject, or PKCS#1/PKCS#8 PEM) as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`). */
export function toPkcs1Pem(key: KeyObject | string): string {
  const keyObject = typeof key === "string" ? readPrivateKey(key) : key;
  if (keyObject.type !== "private" || keyObject.asymmetricKeyType !== "rsa") {
    throw keyInvalid("toPkcs1Pem needs an RSA private key.");
  }
  return keyObject.export({ type: "pkcs1", format: "pem" }).toString();
}

/**
 * Imports a stored RSA private key (PKCS#1 or PKCS#8 PEM) as a {@link KeyPair}, for signing a CSR with an existing key.
 * Renewals normally use fresh keys from {@link generateKeyPair}.
 */
export async function importKeyPair(privateKeyPem: string): Promise<KeyPair> {
  const keyObject = readPrivateKey(privateKeyPem);
  const modulusLength = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
  if (modulusLength < MIN_MODULUS_LENGTH) {
    throw keyInvalid(`RSA key has ${modulusLength} bits; at least ${MIN_MODULUS_LENGTH} are required.`);
  }
  const subtle = globalThis.crypto.subtle;
  const pkcs8 = keyObject.export({ type: "pkcs8", format: "der" });
  const publicKeyObject = createPublicKey(keyObject);
  const spki = publicKeyObject.export({ type: "spki", format: "der" });
  const privateKey = await subtle.importKey("pkcs8", pkcs8, RSA_SIGNING_ALGORITHM, true, ["sign"]);
  pkcs8.fill(0);
  const publicKey = await subtle.importKey("spki", spki, RSA_SIGNING_ALGORITHM, true, ["verify"]);
  return new RsaKeyPair(
    { privateKey, publicKey },
    modulusLength,
    publicKeyObject.export({ type: "spki", format: "pem" }).toString(),
    toPkcs1Pem(keyObject),
  );
}
