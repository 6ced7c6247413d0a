import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { rateLimitConfig } from '../config/rate-limit.config.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimitService } from './rate-limit.service.js';

@Global()
@Module({
  imports: [ConfigModule.forFeature(rateLimitConfig)],
  providers: [RateLimitService, RateLimitGuard],
  exports: [RateLimitService, RateLimitGuard],
})
export class RateLimitModule {}
