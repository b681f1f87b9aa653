/** Issues client certificates from the simulator's client ("Connector") CA and records them in state. */
import type * as pkijs from "pkijs";
import type { SimClock } from "./clock.js";
import { formatName, nameValues } from "./names.js";
import {
  COMPASS_CONSTANT_SERIAL,
  floorToSecond,
  issueClientCertificate,
  randomSerial,
  type CertificateAuthority,
  type IssuedCertificateMaterial,
} from "./pki.js";
import type { CompassState, IssuedCertificate } from "./state.js";

export interface IssuerConfig {
  /** Lifetime of issued certificates, seconds (Compass: 90 days). */
  certValiditySeconds: number;
  /** Use serial number 2 for every certificate, like real Compass. */
  constantSerial: boolean;
  /**
   * Issue with notBefore = min(simulator now, real now) instead of simulator now. The two are equal until the
   * simulator clock is advanced; after that, TLS (which checks validity against the REAL clock) would reject a
   * certificate with notBefore = simulator now as "not yet valid" in the handshake, so a freshly issued certificate
   * could not be used. notAfter always counts from simulator now. Default true; false gives the literal rule.
   */
  realTimeNotBefore: boolean;
}

/** The three response fields of `signCertificateSigningRequest`: standard base64 of PEM text. */
export interface CertificationResult {
  certificateChain: string;
  caCertificate: string;
  clientCertificate: string;
}

export interface IssueOptions {
  notBefore?: Date;
  notAfter?: Date;
  systemAuthId?: string;
}

export class CertificateIssuer {
  readonly #usedSerials = new Set<string>();

  constructor(
    readonly ca: CertificateAuthority,
    private readonly state: CompassState,
    private readonly clock: SimClock,
    readonly config: IssuerConfig,
  ) {}

  get caPem(): string {
    return this.ca.pem;
  }

  #serial(): Uint8Array {
    if (this.config.constantSerial) return COMPASS_CONSTANT_SERIAL;
    for (;;) {
      const serial = randomSerial();
      const hex = Buffer.from(serial).toString("hex");
      if (!this.#usedSerials.has(hex)) {
        this.#usedSerials.add(hex);
        return serial;
      }
    }
  }

  /** Issues a certificate for the subject and key (from a CSR), records it, and returns it with its PEM. */
  async issue(
    subject: pkijs.RelativeDistinguishedNames,
    publicKey: pkijs.PublicKeyInfo,
    options: IssueOptions = {},
  ): Promise<{ record: IssuedCertificate; material: IssuedCertificateMaterial }> {
    const now = this.clock.now();
    const defaultNotBefore = this.config.realTimeNotBefore
      ? new Date(Math.min(now.getTime(), this.clock.realTime().getTime()))
      : now;
    const notBefore = floorToSecond(options.notBefore ?? defaultNotBefore);
    const notAfter = floorToSecond(options.notAfter ?? new Date(now.getTime() + this.config.certValiditySeconds * 1000));
    const material = await issueClientCertificate(this.ca, {
      subject,
      publicKey,
      notBefore,
      notAfter,
      serial: this.#serial(),
    });
    const record: IssuedCertificate = {
      serialHex: material.serialHex,
      commonName: nameValues(subject).commonName,
      subject: formatName(subject),
      fingerprint: material.fingerprint,
      notBefore: material.notBefore,
      notAfter: material.notAfter,
      pem: material.pem,
      issuedAt: now,
      ...(options.systemAuthId !== undefined ? { systemAuthId: options.systemAuthId } : {}),
    };
    this.state.recordIssuedCertificate(record);
    return { record, material };
  }

  /** Compass `encodeCertificates`: chain = leaf + CA, each field std base64 of PEM. */
  encode(leafPem: string): CertificationResult {
    const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
    return {
      certificateChain: b64(leafPem + this.ca.pem),
      caCertificate: b64(this.ca.pem),
      clientCertificate: b64(leafPem),
    };
  }
}
