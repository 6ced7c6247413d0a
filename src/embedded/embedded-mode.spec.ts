import { describe, expect, it } from '@jest/globals';
import { isAbsolute, join } from 'node:path';
import { isEmbedded, readEmbeddedMode } from './embedded-mode.js';

describe('readEmbeddedMode', () => {
  it('embeds what has no URL, in development and test only', () => {
    for (const NODE_ENV of ['development', 'test']) {
      expect(readEmbeddedMode({ NODE_ENV })).toMatchObject({ database: true, redis: true });
      expect(readEmbeddedMode({ NODE_ENV, DATABASE_URL: 'postgres://db/auth', REDIS_URL: ' ' })).toMatchObject({ database: false, redis: true });
      expect(isEmbedded(readEmbeddedMode({ NODE_ENV, DATABASE_URL: 'postgres://db/auth', REDIS_URL: 'redis://r:6379' }))).toBe(false);
    }
  });

  it('refuses embedded mode in production (NODE_ENV unset included), naming the missing variable', () => {
    for (const NODE_ENV of ['production', undefined, 'Production']) {
      expect(() => readEmbeddedMode({ NODE_ENV, REDIS_URL: 'redis://r:6379' })).toThrow('Invalid environment variable DATABASE_URL: is required in production');
      expect(() => readEmbeddedMode({ NODE_ENV, DATABASE_URL: 'postgres://db/auth' })).toThrow('Invalid environment variable REDIS_URL: is required in production');
      expect(readEmbeddedMode({ NODE_ENV, DATABASE_URL: 'postgres://db/auth', REDIS_URL: 'redis://r:6379' })).toMatchObject({ database: false, redis: false });
    }
  });

  it('keeps the data in .data/ of the project unless DATA_DIR says otherwise', () => {
    const { dataDir } = readEmbeddedMode({ NODE_ENV: 'test' });
    expect(isAbsolute(dataDir) && dataDir.endsWith(join('', '.data'))).toBe(true);
    expect(readEmbeddedMode({ NODE_ENV: 'test', DATA_DIR: '/tmp/elsewhere' }).dataDir).toBe('/tmp/elsewhere');
  });
});
