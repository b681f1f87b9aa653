/**
 * Director plug point. The mTLS listener hands every `POST /director/graphql` to a DirectorHandler after the
 * certificate was mapped to an identity (or not). The real implementation (schema `schemas/compass/director.graphql`,
 * §5 and §7.8 of the contract) comes in the next round; until then a placeholder answers one GraphQL error.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { SimClock } from "./clock.js";
import type { GraphQLHttpResult, GraphQLRequestBody } from "./graphql-http.js";
import type { AuthOutcome } from "./identity.js";
import type { CompassState } from "./state.js";

export interface DirectorRequest {
  body: GraphQLRequestBody;
  /** Outcome of the certificate → SystemAuth mapping (revoked, expired or unknown certificates have no identity). */
  auth: AuthOutcome;
  /** Lowercased header names; the Director reads `tenant`. */
  headers: IncomingHttpHeaders;
}

export interface DirectorEnvironment {
  state: CompassState;
  clock: SimClock;
}

export interface DirectorHandler {
  handle(request: DirectorRequest): Promise<GraphQLHttpResult>;
}

/** Builds the Director for a simulator instance. */
export type DirectorFactory = (environment: DirectorEnvironment) => DirectorHandler;

export const DIRECTOR_NOT_IMPLEMENTED = "Director not implemented yet";

export const placeholderDirector: DirectorFactory = () => ({
  async handle() {
    return { status: 200, body: { errors: [{ message: DIRECTOR_NOT_IMPLEMENTED }], data: null }, operations: [] };
  },
});
