import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ReplicaPools } from './replica-pools.service.js';

/** Readiness probes of the primary (TypeORM's pool) and of each replica (ReplicaPools); callers bound them in time. */
@Injectable()
export class DatabaseHealth {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly replicas: ReplicaPools,
  ) {}

  get replicaCount(): number {
    return this.replicas.count;
  }

  async pingPrimary(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  pingReplica(index: number): Promise<void> {
    return this.replicas.ping(index);
  }
}
