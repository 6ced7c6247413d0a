import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { AuthenticationGuard } from './guards/authentication.guard.js';
import { CredentialStrategies } from './strategies/credential-strategies.js';

/**
 * The global guard and the registry of credential strategies it runs (API root only). Global, so a
 * module that adds a passport strategy only injects CredentialStrategies and registers itself.
 */
@Global()
@Module({
  imports: [PassportModule],
  providers: [CredentialStrategies, { provide: APP_GUARD, useClass: AuthenticationGuard }],
  exports: [CredentialStrategies],
})
export class AuthenticationModule {}
