import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * The handle of a unit of work on the primary: repositories take it as their last argument so that
 * several of them (a user row, its sessions, an outbox row) commit or roll back together.
 */
export type Transaction = EntityManager;

/** Runs work in one PostgreSQL transaction on the primary (READ COMMITTED). */
@Injectable()
export class Transactions {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  run<T>(work: (transaction: Transaction) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** Outside any transaction: each statement commits on its own (autocommit). */
  get none(): Transaction {
    return this.dataSource.manager;
  }
}
