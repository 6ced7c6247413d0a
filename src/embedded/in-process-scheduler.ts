import { Injectable } from '@nestjs/common';

export type ScheduleListener = (name: string, everyMs: number) => void;

/**
 * Stands in for the maintenance queue (its injection token) in embedded mode: MaintenanceProcessor
 * upserts its repeatable job here as it does on BullMQ, and InProcessJobRunner runs it.
 */
@Injectable()
export class InProcessScheduler {
  private listener: ScheduleListener | undefined;
  private readonly schedules = new Map<string, number>();

  onSchedule(listener: ScheduleListener): void {
    this.listener = listener;
  }

  /** BullMQ's `Queue.upsertJobScheduler(id, { every }, { name })`: one schedule per id. */
  upsertJobScheduler(id: string, repeat: { every: number }, template: { name: string }): Promise<void> {
    if (this.schedules.get(id) !== repeat.every) {
      this.schedules.set(id, repeat.every);
      this.listener?.(template.name, repeat.every);
    }
    return Promise.resolve();
  }
}
