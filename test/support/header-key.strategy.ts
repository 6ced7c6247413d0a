import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-strategy';
import { CredentialStrategies } from '../../src/auth/strategies/credential-strategies.js';
import type { Principal } from '../../src/common/auth/principal.js';
import { Authenticated } from '../../src/common/decorators/authenticated.decorator.js';
import { CurrentUser } from '../../src/common/decorators/current-user.decorator.js';
import { authenticationFailed } from '../../src/common/http/drf-errors.js';

/**
 * A second credential strategy, test-only, built the way the README's "extend" section says: one
 * module, nothing of the JWT path touched. `X-Test-Key: <user id>.<secret>`; only the secret
 * `good` is valid (a real one would look the key up).
 */
declare module '../../src/common/auth/principal.js' {
  interface PrincipalKinds {
    'test-key': { kind: 'test-key'; userId: number };
  }
}

export const TEST_KEY_HEADER = 'x-test-key';

/** A passport strategy that hands the request to `validate` (what passport-custom does). */
class HeaderStrategy extends Strategy {
  constructor(private readonly verify: (request: FastifyRequest, done: (error: unknown, user?: unknown) => void) => void) {
    super();
  }

  override authenticate(request: Parameters<Strategy['authenticate']>[0]): void {
    this.verify(request as unknown as FastifyRequest, (error, user) => (error ? this.error(error as Error) : user ? this.success(user) : this.fail(401)));
  }
}

@Injectable()
class TestKeyStrategy extends PassportStrategy(HeaderStrategy, 'test-key') {
  constructor(strategies: CredentialStrategies) {
    super();
    strategies.register({
      name: 'test-key',
      kind: 'test-key',
      presented: (request) => typeof request.headers[TEST_KEY_HEADER] === 'string',
      rejected: () => authenticationFailed('Invalid key.', 'invalid_key'),
    });
  }

  validate(request: FastifyRequest): Principal | null {
    const [userId, secret] = String(request.headers[TEST_KEY_HEADER]).split('.');
    return secret === 'good' && /^\d+$/.test(userId) ? { kind: 'test-key', userId: Number(userId) } : null;
  }
}

/** A route that takes either kind, to see which principal won. */
@Controller('test')
class WhoAmIController {
  @Get('whoami/')
  @Authenticated('session', 'test-key')
  whoami(@CurrentUser() caller: Principal): { kind: string; userId: number } {
    return { kind: caller.kind, userId: caller.userId };
  }
}

@Module({ providers: [TestKeyStrategy], controllers: [WhoAmIController] })
export class TestKeyModule {}
