import { Module } from '@nestjs/common';
import { SessionModule } from './session.module.js';
import { SessionsController } from './sessions.controller.js';

/** The sessions' HTTP edge (GET/DELETE /api/sessions/), loaded by the API root only. */
@Module({
  imports: [SessionModule],
  controllers: [SessionsController],
})
export class SessionApiModule {}
