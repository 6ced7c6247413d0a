import { Module } from '@nestjs/common';
import { CoreModule } from './core.module.js';
import { WorkerModule } from './jobs/worker.module.js';

/** The worker root (`dist/worker.js`): the BullMQ consumers on the shared core; no controllers, no HTTP. */
@Module({
  imports: [CoreModule.forRoot(), WorkerModule],
})
export class WorkerAppModule {}
