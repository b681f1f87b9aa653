/**
 * The Connector's three operations (compass-contract.md §3, §7.4), executed by graphql-js against
 * `schemas/compass/connector.graphql`. Authentication happened before execution (see identity.ts); resolvers only
 * read the resulting identity from the context.
 */
import type { GraphQLSchema } from "graphql";
import { CsrError, subjectString, validateCsr, type SubjectConstants } from "./csr.js";
import type { CertificateIssuer, CertificationResult } from "./issuer.js";
import type { Identity } from "./identity.js";
import { loadSchema } from "./schemas.js";
import type { CompassState } from "./state.js";

/** Exact Compass messages (§3.7, §3.8). */
export const CONNECTOR_MESSAGES = Object.freeze({
  unauthenticated:
    "Failed to authenticate request. Token authentication error: Failed to authenticate with one time token.. Certificate authentication error: Failed to authenticate with Certificate. Invalid subject.",
  signUnauthenticatedPrefix: "Failed to authenticate with token: ",
  revokeUnauthenticated:
    "Failed to authenticate with certificate: Failed to authenticate with Certificate. Invalid subject.",
});

export interface ConnectorContext {
  listener: "token" | "mtls";
  identity?: Identity;
}

export interface ConnectorDeps {
  state: CompassState;
  issuer: CertificateIssuer;
  subject: SubjectConstants;
  /** `managementPlaneInfo`: URLs of the mTLS listener. */
  directorUrl: () => string;
  certificateSecuredConnectorUrl: () => string;
}

export interface ConfigurationResult {
  token: { token: string };
  certificateSigningRequestInfo: { subject: string; keyAlgorithm: string };
  managementPlaneInfo: { directorURL: string; certificateSecuredConnectorURL: string };
}

export function connectorSchema(): GraphQLSchema {
  return loadSchema("connector");
}

/** Root value for graphql-js: one function per root field, `(args, context)`. */
export function createConnectorRoot(deps: ConnectorDeps) {
  return {
    configuration(_args: unknown, context: ConnectorContext): ConfigurationResult {
      const identity = context.identity;
      if (!identity) throw new Error(CONNECTOR_MESSAGES.unauthenticated);
      // Compass asks the Director for a new one-time token on the same SystemAuth, on both paths.
      const ott = deps.state.regenerateToken(identity.systemAuth.id);
      return {
        token: { token: ott.token },
        certificateSigningRequestInfo: {
          subject: subjectString(deps.subject, identity.systemAuth.id),
          keyAlgorithm: "rsa2048",
        },
        managementPlaneInfo: {
          directorURL: deps.directorUrl(),
          certificateSecuredConnectorURL: deps.certificateSecuredConnectorUrl(),
        },
      };
    },

    async signCertificateSigningRequest(args: { csr: string }, context: ConnectorContext): Promise<CertificationResult> {
      const identity = context.identity;
      if (!identity) {
        throw new Error(CONNECTOR_MESSAGES.signUnauthenticatedPrefix + CONNECTOR_MESSAGES.unauthenticated);
      }
      let validated;
      try {
        validated = await validateCsr(args.csr, identity.systemAuth.id, deps.subject);
      } catch (error) {
        if (error instanceof CsrError) throw new Error(error.message, { cause: error });
        throw error;
      }
      const { material } = await deps.issuer.issue(validated.request.subject, validated.request.subjectPublicKeyInfo, {
        systemAuthId: identity.systemAuth.id,
      });
      return deps.issuer.encode(material.pem);
    },

    revokeCertificate(_args: unknown, context: ConnectorContext): boolean {
      const identity = context.identity;
      if (identity?.via !== "certificate") throw new Error(CONNECTOR_MESSAGES.revokeUnauthenticated);
      deps.state.revokeFingerprint(identity.fingerprint);
      return true;
    },
  };
}
