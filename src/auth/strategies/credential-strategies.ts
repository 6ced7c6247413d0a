import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { PrincipalKind } from '../../common/auth/principal.js';

/**
 * How the global AuthenticationGuard uses one passport strategy. A strategy's module registers one
 * (`CredentialStrategies.register`, e.g. in the strategy's constructor); the guard then runs the
 * strategy for every request that presents its credential. Nothing else changes when one is added.
 */
export interface CredentialStrategy {
  /** The passport strategy name (`PassportStrategy(Strategy, name)`). */
  name: string;
  /** The kind of principal its `validate` returns. */
  kind: PrincipalKind;
  /** Whether the request carries this credential at all (a header is there): a cheap look, no verification. */
  presented(request: FastifyRequest): boolean;
  /**
   * The 401 for a presented credential that passport failed without an error of its own (for
   * passport-jwt: a bad signature, an expired token, a malformed one). Errors thrown by `validate`
   * are answered as they are.
   */
  rejected(info: unknown): Error;
}

/** The registered strategies, in registration order. */
@Injectable()
export class CredentialStrategies {
  private readonly strategies: CredentialStrategy[] = [];

  register(strategy: CredentialStrategy): void {
    if (this.strategies.some((known) => known.name === strategy.name)) throw new Error(`credential strategy ${strategy.name} registered twice`);
    this.strategies.push(strategy);
  }

  get all(): readonly CredentialStrategy[] {
    return this.strategies;
  }
}
