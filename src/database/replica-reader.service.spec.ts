import { describe, expect, it } from '@jest/globals';
import type { ConfigType } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import type { databaseConfig } from '../config/database.config.js';
import type { ReplicaPools } from './replica-pools.service.js';
import { ReplicaReader, lsnValue } from './replica-reader.service.js';

describe('lsnValue', () => {
  it('orders pg_lsn positions by their two hex halves', () => {
    expect(lsnValue('0/16B3748') < lsnValue('0/16B3750')).toBe(true);
    expect(lsnValue('0/FFFFFFFF') < lsnValue('1/0')).toBe(true);
    expect(lsnValue('A/0')).toBe(10n << 32n);
  });
});

describe('ReplicaReader.wrote (read-your-writes positions, in memory)', () => {
  /** A reader with one replica and a primary that reports these WAL positions, one per call. */
  function readerReporting(positions: string[]) {
    const dataSource = { query: async () => [{ lsn: positions.shift() }] } as unknown as DataSource;
    const config = { readYourWritesSeconds: 300 } as ConfigType<typeof databaseConfig>;
    const reader = new ReplicaReader({ count: 1 } as ReplicaPools, dataSource, config);
    const lastWrite = (scope: string) => (reader as unknown as { lastWrite(scope: string): Promise<string | null> }).lastWrite(scope);
    return { reader, lastWrite };
  }

  it('keeps the later position when two writes are recorded out of order', async () => {
    const { reader, lastWrite } = readerReporting(['0/5000000', '0/4000000', '1/0']);
    await reader.wrote('user:1');
    await reader.wrote('user:1'); // an older position arriving last
    expect(await lastWrite('user:1')).toBe('0/5000000');
    await reader.wrote('user:1');
    expect(await lastWrite('user:1')).toBe('1/0');
  });
});
