import { Module } from '@nestjs/common';
import { UsersController } from './users.controller.js';
import { UsersModule } from './users.module.js';

/** The users' HTTP edge (GET /api/me/), loaded by the API root only. */
@Module({
  imports: [UsersModule],
  controllers: [UsersController],
})
export class UsersApiModule {}
