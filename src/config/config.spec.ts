import { describe, it, expect } from '@jest/globals';
import { logLevelsFrom, readAppConfig } from './app.config.js';
import { DEVELOPMENT_SIGNING_KEY, MIN_SIGNING_KEY_LENGTH, readAuthConfig } from './auth.config.js';
import { pgSsl, readDatabaseConfig } from './database.config.js';
import { ConfigError, type Env, envBool, envEnum, envInt, envList, envOptionalString, envString, isProduction } from './env.js';
import { readJobsConfig } from './jobs.config.js';
import { readMailConfig } from './mail.config.js';
import { MIN_METRICS_TOKEN_LENGTH, readMetricsConfig } from './metrics.config.js';
import { readRateLimitConfig } from './rate-limit.config.js';
import { readPasswordConfig } from './password.config.js';
import { parseRedisUrl, readRedisConfig } from './redis.config.js';

/** Runs `read` and returns the ConfigError it throws (fails the test if it throws nothing or something else). */
function configErrorOf(read: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    read();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

/** The error names the variable, so an operator knows what to fix. */
function expectRefused(read: () => unknown, variable: string): void {
  const error = configErrorOf(read);
  expect(error.name).toBe('ConfigError');
  expect(error.message).toContain(variable);
}

const LONG_KEY = 'k'.repeat(MIN_SIGNING_KEY_LENGTH);

describe('env readers', () => {
  describe('envString / envOptionalString', () => {
    it('falls back when the variable is missing, empty or only white space', () => {
      expect(envString({}, 'X', 'fallback')).toBe('fallback');
      expect(envString({ X: '' }, 'X', 'fallback')).toBe('fallback');
      expect(envString({ X: '   ' }, 'X', 'fallback')).toBe('fallback');
      expect(envOptionalString({}, 'X')).toBeUndefined();
      expect(envOptionalString({ X: ' ' }, 'X')).toBeUndefined();
    });

    it('returns the trimmed value', () => {
      expect(envString({ X: '  value ' }, 'X', 'fallback')).toBe('value');
      expect(envOptionalString({ X: ' value\n' }, 'X')).toBe('value');
    });
  });

  describe('envInt', () => {
    it('falls back when missing and parses integers (negative too)', () => {
      expect(envInt({}, 'N', 7)).toBe(7);
      expect(envInt({ N: '' }, 'N', 7)).toBe(7);
      expect(envInt({ N: ' 42 ' }, 'N', 7)).toBe(42);
      expect(envInt({ N: '-3' }, 'N', 7)).toBe(-3);
      expect(envInt({ N: '0' }, 'N', 7)).toBe(0);
    });

    it.each(['abc', '1.5', '1e3', '12px', '0x10', '--1'])('refuses %p and names the variable', (value) => {
      const error = configErrorOf(() => envInt({ MY_NUMBER: value }, 'MY_NUMBER', 1));
      expect(error.message).toContain('MY_NUMBER');
      expect(error.message).toContain(value);
    });

    it('enforces the bounds, inclusive', () => {
      expect(envInt({ N: '5' }, 'N', 1, { min: 5, max: 10 })).toBe(5);
      expect(envInt({ N: '10' }, 'N', 1, { min: 5, max: 10 })).toBe(10);
      expectRefused(() => envInt({ N: '4' }, 'N', 1, { min: 5, max: 10 }), 'N');
      expectRefused(() => envInt({ N: '11' }, 'N', 1, { min: 5, max: 10 }), 'N');
    });
  });

  describe('envBool', () => {
    it.each(['1', 'true', 'TRUE', 'yes', 'On'])('%p is true', (value) => {
      expect(envBool({ B: value }, 'B', false)).toBe(true);
    });

    it.each(['0', 'false', 'False', 'no', 'OFF'])('%p is false', (value) => {
      expect(envBool({ B: value }, 'B', true)).toBe(false);
    });

    it('falls back when missing', () => {
      expect(envBool({}, 'B', true)).toBe(true);
      expect(envBool({}, 'B', false)).toBe(false);
    });

    it('refuses anything else and names the variable', () => {
      expectRefused(() => envBool({ MY_FLAG: 'maybe' }, 'MY_FLAG', true), 'MY_FLAG');
      expectRefused(() => envBool({ MY_FLAG: '2' }, 'MY_FLAG', true), 'MY_FLAG');
    });
  });

  describe('envEnum', () => {
    const allowed = ['a', 'b'] as const;

    it('returns an allowed value or the fallback', () => {
      expect(envEnum({ E: 'b' }, 'E', allowed, 'a')).toBe('b');
      expect(envEnum({}, 'E', allowed, 'a')).toBe('a');
    });

    it('refuses another value (case-sensitive) and names the variable and the choices', () => {
      const error = configErrorOf(() => envEnum({ MY_CHOICE: 'B' }, 'MY_CHOICE', allowed, 'a'));
      expect(error.message).toContain('MY_CHOICE');
      expect(error.message).toContain('a, b');
    });
  });

  describe('envList', () => {
    it('splits on commas, trims and drops empty items', () => {
      expect(envList({ L: ' x , y,,z ,' }, 'L')).toEqual(['x', 'y', 'z']);
      expect(envList({}, 'L')).toEqual([]);
      expect(envList({ L: '  ' }, 'L')).toEqual([]);
    });
  });

  it('isProduction is false only for NODE_ENV exactly development or test (fails closed)', () => {
    expect(isProduction({ NODE_ENV: 'development' })).toBe(false);
    expect(isProduction({ NODE_ENV: 'test' })).toBe(false);
    expect(isProduction({ NODE_ENV: ' test\n' })).toBe(false);
    for (const value of ['production', 'Production', 'PRODUCTION', 'prod', 'staging', 'Development', 'dev', '']) {
      expect([value, isProduction({ NODE_ENV: value })]).toEqual([value, true]);
    }
    expect(isProduction({})).toBe(true);
  });
});

describe('readAppConfig', () => {
  it('has the documented defaults outside production', () => {
    expect(readAppConfig({ NODE_ENV: 'development' })).toEqual({
      production: false,
      host: '0.0.0.0',
      port: 3000,
      logLevel: 'debug',
      logFormat: 'text',
      bodyLimit: 16384,
      trustProxyHops: 0,
      shutdownGraceMs: 10_000,
      swaggerEnabled: true,
      swaggerUiEnabled: true,
      responseCacheTtlSeconds: 60,
      corsOrigins: [],
    });
  });

  it('reads CORS_ORIGINS as exact bare origins and refuses anything else', () => {
    expect(readAppConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,http://[::1]:8080' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
      'http://[::1]:8080',
    ]);
    for (const bad of ['*', 'https://*.example.com', 'https://app.example.com/', 'https://App.example.com', 'https://app.example.com:443', 'ftp://x.example.com', 'null', 'app.example.com']) {
      expectRefused(() => readAppConfig({ CORS_ORIGINS: bad }), 'CORS_ORIGINS');
    }
  });

  it('defaults LOG_LEVEL to log and the OpenAPI document and Swagger UI to off in production (NODE_ENV unset too)', () => {
    for (const env of [{ NODE_ENV: 'production' }, {}]) {
      const config = readAppConfig(env);
      expect(config).toMatchObject({ production: true, logLevel: 'log', logFormat: 'json', swaggerEnabled: false, swaggerUiEnabled: false });
    }
    expect(readAppConfig({ NODE_ENV: 'production', SWAGGER_ENABLED: 'true', SWAGGER_UI_ENABLED: 'true' })).toMatchObject({
      swaggerEnabled: true,
      swaggerUiEnabled: true,
    });
  });

  it('reads the variables', () => {
    const config = readAppConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      BODY_LIMIT_BYTES: '2048',
      TRUST_PROXY_HOPS: '1',
      SWAGGER_ENABLED: 'false',
      SWAGGER_UI_ENABLED: 'no',
      RESPONSE_CACHE_TTL_SECONDS: '0',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      logLevel: 'warn',
      bodyLimit: 2048,
      trustProxyHops: 1,
      swaggerEnabled: false,
      swaggerUiEnabled: false,
      responseCacheTtlSeconds: 0,
    });
  });

  it.each<[string, Env]>([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'trace' }],
    ['BODY_LIMIT_BYTES', { BODY_LIMIT_BYTES: '100' }],
    ['TRUST_PROXY_HOPS', { TRUST_PROXY_HOPS: '-1' }],
    ['SHUTDOWN_GRACE_MS', { SHUTDOWN_GRACE_MS: '30000' }],
    ['SWAGGER_ENABLED', { SWAGGER_ENABLED: 'sometimes' }],
    ['RESPONSE_CACHE_TTL_SECONDS', { RESPONSE_CACHE_TTL_SECONDS: '1h' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readAppConfig(env), variable);
  });

  it('logLevelsFrom keeps the named level and every more severe one', () => {
    expect(logLevelsFrom('fatal')).toEqual(['fatal']);
    expect(logLevelsFrom('log')).toEqual(['fatal', 'error', 'warn', 'log']);
    expect(logLevelsFrom('verbose')).toEqual(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']);
  });
});

describe('readAuthConfig', () => {
  it('has the documented defaults and a development key outside production', () => {
    const config = readAuthConfig({ NODE_ENV: 'development' });
    expect(config).toMatchObject({
      algorithm: 'HS256',
      accessTokenLifetimeSeconds: 300,
      refreshTokenLifetimeSeconds: 86_400,
      refreshReuseGraceSeconds: 10,
      revocationRecheckSeconds: 60,
      allowUnverifiedLogin: true,
      legacyTokens: true,
    });
    expect(config.signingKey.length).toBeGreaterThanOrEqual(MIN_SIGNING_KEY_LENGTH);
  });

  it('reads ALLOW_UNVERIFIED_LOGIN (a login rule, filed under auth) and refuses a bad value', () => {
    expect(readAuthConfig({ NODE_ENV: 'test', ALLOW_UNVERIFIED_LOGIN: 'false' }).allowUnverifiedLogin).toBe(false);
    expectRefused(() => readAuthConfig({ NODE_ENV: 'test', ALLOW_UNVERIFIED_LOGIN: 'unverified' }), 'ALLOW_UNVERIFIED_LOGIN');
  });

  it('uses JWT_SIGNING_KEY when set (even a short one outside production)', () => {
    expect(readAuthConfig({ NODE_ENV: 'test', JWT_SIGNING_KEY: 'short' }).signingKey).toBe('short');
  });

  it('refuses to start in production without JWT_SIGNING_KEY', () => {
    expectRefused(() => readAuthConfig({ NODE_ENV: 'production' }), 'JWT_SIGNING_KEY');
    expectRefused(() => readAuthConfig({}), 'JWT_SIGNING_KEY');
    expectRefused(() => readAuthConfig({ NODE_ENV: 'Production' }), 'JWT_SIGNING_KEY');
    expectRefused(() => readAuthConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY: '   ' }), 'JWT_SIGNING_KEY');
  });

  it('refuses to start in production with a key shorter than 32 characters', () => {
    const shortKey = 'k'.repeat(MIN_SIGNING_KEY_LENGTH - 1);
    expect(MIN_SIGNING_KEY_LENGTH).toBe(32);
    expectRefused(() => readAuthConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY: shortKey }), 'JWT_SIGNING_KEY');
  });

  it('refuses the published development key in production, even when set explicitly', () => {
    expect(readAuthConfig({ NODE_ENV: 'development', JWT_SIGNING_KEY: DEVELOPMENT_SIGNING_KEY }).signingKey).toBe(DEVELOPMENT_SIGNING_KEY);
    const error = configErrorOf(() => readAuthConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY: DEVELOPMENT_SIGNING_KEY }));
    expect(error.message).toContain('JWT_SIGNING_KEY');
    expect(error.message).not.toContain(DEVELOPMENT_SIGNING_KEY);
  });

  it('accepts a key of 32 characters or more in production', () => {
    expect(readAuthConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY: LONG_KEY }).signingKey).toBe(LONG_KEY);
    const djangoSecretKey = 'django-insecure-0a9#kz2@v!x$7m^w5&q)r+l8e(t3y_b1n-c6d4f*g%h0j';
    expect(readAuthConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY: djangoSecretKey }).signingKey).toBe(djangoSecretKey);
  });

  it('accepts HS384 and HS512 and refuses any other algorithm', () => {
    expect(readAuthConfig({ NODE_ENV: 'test', JWT_ALGORITHM: 'HS384' }).algorithm).toBe('HS384');
    expect(readAuthConfig({ NODE_ENV: 'test', JWT_ALGORITHM: 'HS512' }).algorithm).toBe('HS512');
    for (const algorithm of ['none', 'RS256', 'hs256']) {
      expectRefused(() => readAuthConfig({ NODE_ENV: 'test', JWT_ALGORITHM: algorithm }), 'JWT_ALGORITHM');
    }
  });

  it.each<[string, Env]>([
    ['ACCESS_TOKEN_LIFETIME_SECONDS', { ACCESS_TOKEN_LIFETIME_SECONDS: 'five' }],
    ['ACCESS_TOKEN_LIFETIME_SECONDS', { ACCESS_TOKEN_LIFETIME_SECONDS: '0' }],
    ['REFRESH_TOKEN_LIFETIME_SECONDS', { REFRESH_TOKEN_LIFETIME_SECONDS: '1d' }],
    ['REFRESH_REUSE_GRACE_SECONDS', { REFRESH_REUSE_GRACE_SECONDS: '-1' }],
    ['REVOCATION_RECHECK_SECONDS', { REVOCATION_RECHECK_SECONDS: '0' }],
    ['LEGACY_TOKENS', { LEGACY_TOKENS: 'maybe' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readAuthConfig({ NODE_ENV: 'test', ...env }), variable);
  });
});

describe('readDatabaseConfig', () => {
  it('has the documented defaults', () => {
    expect(readDatabaseConfig({ NODE_ENV: 'development' })).toEqual({
      url: 'postgres://postgres@127.0.0.1:5432/auth',
      replicaUrls: [],
      ssl: 'off',
      poolSize: 10,
      connectTimeoutMs: 3000,
      statementTimeoutMs: 10_000,
      readYourWritesSeconds: 300,
    });
  });

  it('uses TLS without a certificate check in production by default (Heroku Postgres: no sslmode in its URL)', () => {
    const heroku = 'postgres://user:pass@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc';
    for (const NODE_ENV of ['production', undefined]) {
      const config = readDatabaseConfig({ NODE_ENV, DATABASE_URL: heroku });
      expect(config).toMatchObject({ url: heroku, ssl: 'require' });
      expect(pgSsl(config)).toEqual({ rejectUnauthorized: false });
    }
    expect(pgSsl(readDatabaseConfig({ NODE_ENV: 'test' }))).toBe(false);
    expect(pgSsl(readDatabaseConfig({ NODE_ENV: 'production', DATABASE_SSL: 'off' }))).toBe(false);
    expect(pgSsl(readDatabaseConfig({ NODE_ENV: 'production', DATABASE_SSL: 'verify-full' }))).toEqual({ rejectUnauthorized: true });
  });

  it('reads sslmode from the URL as libpq does and takes it out, so pg cannot read require as verify-full', () => {
    const config = readDatabaseConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u:p@db.example.com:5432/d?sslmode=require' });
    expect(config).toMatchObject({ url: 'postgres://u:p@db.example.com:5432/d', ssl: 'require' });
    expect(readDatabaseConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u@h/d?application_name=x&sslmode=require' })).toMatchObject({
      url: 'postgres://u@h/d?application_name=x',
      ssl: 'require',
    });
    expect(readDatabaseConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u@h/d?sslmode=disable' })).toMatchObject({ url: 'postgres://u@h/d', ssl: 'off' });
    expect(readDatabaseConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u@h/d?sslmode=verify-full' }).ssl).toBe('verify-full');
    // Replicas: the same mode, the same stripping.
    expect(
      readDatabaseConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://u@h/d?sslmode=require', DATABASE_REPLICA_URL: 'postgres://u@r/d?sslmode=require' }),
    ).toMatchObject({ replicaUrls: ['postgres://u@r/d'], ssl: 'require' });
  });

  it('refuses sslmode values and TLS parameters pg would not treat as libpq does, naming the variable', () => {
    for (const query of ['sslmode=prefer', 'sslmode=allow', 'sslmode=verify-ca', 'ssl=true', 'sslrootcert=/ca.pem', 'uselibpqcompat=true']) {
      expectRefused(() => readDatabaseConfig({ DATABASE_URL: `postgres://u@h/d?${query}` }), 'DATABASE_URL');
    }
    expectRefused(() => readDatabaseConfig({ DATABASE_REPLICA_URLS: 'postgres://u@r/d?sslmode=prefer' }), 'DATABASE_REPLICA_URLS');
    expectRefused(
      () => readDatabaseConfig({ DATABASE_URL: 'postgres://u@h/d?sslmode=require', DATABASE_REPLICA_URL: 'postgres://u@r/d?sslmode=disable' }),
      'DATABASE_URL',
    );
  });

  it('pgSsl: off is plain TCP, require skips the certificate check (Heroku), verify-full checks it', () => {
    expect(pgSsl({ ssl: 'off' })).toBe(false);
    expect(pgSsl({ ssl: 'require' })).toEqual({ rejectUnauthorized: false });
    expect(pgSsl({ ssl: 'verify-full' })).toEqual({ rejectUnauthorized: true });
    expect(pgSsl(readDatabaseConfig({ DATABASE_URL: 'postgres://u@h/d?sslmode=require' }))).toEqual({ rejectUnauthorized: false });
  });

  it('turns SSL on when DATABASE_URL says sslmode=require (Heroku Postgres)', () => {
    const url = 'postgres://u:p@db.example.com:5432/d?sslmode=require';
    expect(readDatabaseConfig({ DATABASE_URL: url }).ssl).toBe('require');
    expect(readDatabaseConfig({ DATABASE_URL: 'postgres://u@h/d?application_name=x&sslmode=require' }).ssl).toBe('require');
    expect(readDatabaseConfig({ DATABASE_URL: 'postgres://u@h/d?sslmode=disable' }).ssl).toBe('off');
  });

  it('lets DATABASE_SSL override what the URL says', () => {
    const url = 'postgres://u@h/d?sslmode=require';
    expect(readDatabaseConfig({ DATABASE_URL: url, DATABASE_SSL: 'verify-full' }).ssl).toBe('verify-full');
    expect(readDatabaseConfig({ DATABASE_URL: url, DATABASE_SSL: 'off' })).toMatchObject({ url: 'postgres://u@h/d', ssl: 'off' });
    expectRefused(() => readDatabaseConfig({ DATABASE_SSL: 'yes' }), 'DATABASE_SSL');
  });

  it('reads replicas from DATABASE_REPLICA_URL or DATABASE_REPLICA_URLS (comma-separated)', () => {
    expect(readDatabaseConfig({ DATABASE_REPLICA_URL: 'postgres://r1/auth' }).replicaUrls).toEqual(['postgres://r1/auth']);
    expect(
      readDatabaseConfig({ DATABASE_REPLICA_URLS: 'postgres://r1/auth, postgresql://r2/auth' }).replicaUrls,
    ).toEqual(['postgres://r1/auth', 'postgresql://r2/auth']);
  });

  it.each<[string, Env]>([
    ['DATABASE_URL', { DATABASE_URL: 'not a url' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root@localhost/auth' }],
    ['DATABASE_REPLICA_URL', { DATABASE_REPLICA_URL: 'redis://r1' }],
    ['DATABASE_REPLICA_URLS', { DATABASE_REPLICA_URLS: 'postgres://r1/auth,garbage' }],
    ['DATABASE_POOL_SIZE', { DATABASE_POOL_SIZE: '0' }],
    ['DATABASE_CONNECT_TIMEOUT_MS', { DATABASE_CONNECT_TIMEOUT_MS: 'soon' }],
    ['DATABASE_STATEMENT_TIMEOUT_MS', { DATABASE_STATEMENT_TIMEOUT_MS: '10' }],
    ['DATABASE_READ_YOUR_WRITES_SECONDS', { DATABASE_READ_YOUR_WRITES_SECONDS: '0' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readDatabaseConfig(env), variable);
  });
});

describe('readRedisConfig', () => {
  it('has the documented defaults', () => {
    expect(readRedisConfig({})).toEqual({
      endpoints: [{ host: '127.0.0.1', port: 6379, username: undefined, password: undefined, db: 0, tls: false }],
      cluster: false,
      keyPrefix: 'auth:',
      tlsRejectUnauthorized: true,
      commandTimeoutMs: 500,
      connectTimeoutMs: 2000,
      autoPipelining: true,
    });
    expect(readRedisConfig({ REDIS_AUTO_PIPELINING: 'false' }).autoPipelining).toBe(false);
  });

  it('accepts rediss:// and REDIS_TLS_REJECT_UNAUTHORIZED=false (Heroku Redis)', () => {
    const config = readRedisConfig({ REDIS_URL: 'rediss://:pw@host:6380', REDIS_TLS_REJECT_UNAUTHORIZED: 'false' });
    expect(config.endpoints).toEqual([{ host: 'host', port: 6380, username: undefined, password: 'pw', db: 0, tls: true }]);
    expect(config.tlsRejectUnauthorized).toBe(false);
  });

  it.each(['{auth}:', 'auth{', 'auth}:'])('refuses REDIS_KEY_PREFIX %p (braces break cluster hash tags)', (prefix) => {
    expectRefused(() => readRedisConfig({ REDIS_KEY_PREFIX: prefix }), 'REDIS_KEY_PREFIX');
  });

  it('accepts another prefix without braces', () => {
    expect(readRedisConfig({ REDIS_KEY_PREFIX: 'staging:auth:' }).keyPrefix).toBe('staging:auth:');
  });

  it('allows several REDIS_URLs only with REDIS_CLUSTER=true', () => {
    const seeds = 'redis://10.0.0.1:7000, redis://10.0.0.2:7000,redis://10.0.0.3:7000';
    expectRefused(() => readRedisConfig({ REDIS_URL: seeds }), 'REDIS_URL');
    expectRefused(() => readRedisConfig({ REDIS_URL: seeds, REDIS_CLUSTER: 'false' }), 'REDIS_URL');
    const config = readRedisConfig({ REDIS_URL: seeds, REDIS_CLUSTER: 'true' });
    expect(config.cluster).toBe(true);
    expect(config.endpoints.map(({ host, port }) => `${host}:${port}`)).toEqual(['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000']);
  });

  it('parses each URL once: credentials (decoded), database number, TLS', () => {
    expect(parseRedisUrl('rediss://user:p%40ss@redis.example.com:6380/3')).toEqual({
      host: 'redis.example.com',
      port: 6380,
      username: 'user',
      password: 'p@ss',
      db: 3,
      tls: true,
    });
    expect(parseRedisUrl('redis://:secret@h')).toMatchObject({ port: 6379, username: undefined, password: 'secret', db: 0, tls: false });
    const cluster = readRedisConfig({ REDIS_URL: 'redis://a:7000,redis://b:7001', REDIS_CLUSTER: 'true' });
    expect(cluster.endpoints.map(({ host, port }) => `${host}:${port}`)).toEqual(['a:7000', 'b:7001']);
  });

  it.each<[string, Env]>([
    ['REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:6379/zero' }],
    ['REDIS_URL', { REDIS_URL: 'not a url' }],
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['REDIS_URL', { REDIS_URL: 'redis://a:7000,postgres://b', REDIS_CLUSTER: 'true' }],
    ['REDIS_CLUSTER', { REDIS_CLUSTER: 'cluster' }],
    ['REDIS_TLS_REJECT_UNAUTHORIZED', { REDIS_TLS_REJECT_UNAUTHORIZED: 'nope' }],
    ['REDIS_COMMAND_TIMEOUT_MS', { REDIS_COMMAND_TIMEOUT_MS: '5' }],
    ['REDIS_CONNECT_TIMEOUT_MS', { REDIS_CONNECT_TIMEOUT_MS: 'x' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readRedisConfig(env), variable);
  });
});

describe('readRateLimitConfig', () => {
  it('has the documented defaults', () => {
    expect(readRateLimitConfig({})).toEqual({
      enabled: true,
      ipPerMinute: 30,
      loginAccountIpAttempts: 10,
      loginAccountAttempts: 50,
      loginWindowSeconds: 900,
      mailPerAddress: 3,
      mailWindowSeconds: 3600,
    });
  });

  it('reads the variables', () => {
    expect(
      readRateLimitConfig({
        RATE_LIMIT_ENABLED: 'false',
        RATE_LIMIT_IP_PER_MINUTE: '100',
        RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: '3',
        RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '100',
        RATE_LIMIT_LOGIN_WINDOW_SECONDS: '3600',
        RATE_LIMIT_MAIL_PER_ADDRESS: '5',
        RATE_LIMIT_MAIL_WINDOW_SECONDS: '86400',
      }),
    ).toEqual({
      enabled: false,
      ipPerMinute: 100,
      loginAccountIpAttempts: 3,
      loginAccountAttempts: 100,
      loginWindowSeconds: 3600,
      mailPerAddress: 5,
      mailWindowSeconds: 86_400,
    });
  });

  it.each<[string, Env]>([
    ['RATE_LIMIT_ENABLED', { RATE_LIMIT_ENABLED: 'perhaps' }],
    ['RATE_LIMIT_IP_PER_MINUTE', { RATE_LIMIT_IP_PER_MINUTE: '0' }],
    ['RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS', { RATE_LIMIT_LOGIN_ACCOUNT_IP_ATTEMPTS: 'ten' }],
    // NIST SP 800-63B: at most 100 failed attempts on one account.
    ['RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS', { RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '101' }],
    ['RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS', { RATE_LIMIT_LOGIN_ACCOUNT_ATTEMPTS: '0' }],
    ['RATE_LIMIT_LOGIN_WINDOW_SECONDS', { RATE_LIMIT_LOGIN_WINDOW_SECONDS: '10' }],
    ['RATE_LIMIT_MAIL_PER_ADDRESS', { RATE_LIMIT_MAIL_PER_ADDRESS: '0' }],
    ['RATE_LIMIT_MAIL_WINDOW_SECONDS', { RATE_LIMIT_MAIL_WINDOW_SECONDS: 'hourly' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readRateLimitConfig(env), variable);
  });
});

describe('readJobsConfig', () => {
  it('has the documented defaults', () => {
    expect(readJobsConfig({})).toEqual({
      runWorkerInWeb: false,
      prefix: '{auth-jobs}',
      attempts: 6,
      backoffMs: 2000,
      maintenanceIntervalMs: 3_600_000,
      outboxRelayIntervalMs: 2000,
      mailConcurrency: 5,
    });
  });

  it.each(['auth-jobs', 'bull', '{}', 'auth-{jobs', '{{}}'])('refuses BULLMQ_PREFIX %p without a hash tag', (prefix) => {
    expectRefused(() => readJobsConfig({ BULLMQ_PREFIX: prefix }), 'BULLMQ_PREFIX');
  });

  it('accepts a BULLMQ_PREFIX with a hash tag anywhere in it', () => {
    expect(readJobsConfig({ BULLMQ_PREFIX: 'staging:{auth-jobs}' }).prefix).toBe('staging:{auth-jobs}');
    expect(readJobsConfig({ BULLMQ_PREFIX: '{q}' }).prefix).toBe('{q}');
  });

  it.each<[string, Env]>([
    ['RUN_WORKER_IN_WEB', { RUN_WORKER_IN_WEB: 'both' }],
    ['JOB_ATTEMPTS', { JOB_ATTEMPTS: '0' }],
    ['JOB_BACKOFF_MS', { JOB_BACKOFF_MS: '2s' }],
    ['MAINTENANCE_INTERVAL_MS', { MAINTENANCE_INTERVAL_MS: '10' }],
    ['OUTBOX_RELAY_INTERVAL_MS', { OUTBOX_RELAY_INTERVAL_MS: '99' }],
    ['MAIL_CONCURRENCY', { MAIL_CONCURRENCY: '101' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readJobsConfig(env), variable);
  });
});

describe('readAppConfig LOG_FORMAT and readMetricsConfig', () => {
  it('LOG_FORMAT picks json or text whatever NODE_ENV says, and refuses anything else', () => {
    expect(readAppConfig({ NODE_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(readAppConfig({ NODE_ENV: 'production', LOG_FORMAT: 'text' }).logFormat).toBe('text');
    expectRefused(() => readAppConfig({ LOG_FORMAT: 'pretty' }), 'LOG_FORMAT');
  });

  it('METRICS_TOKEN: unset means metrics off; production refuses a short one and does not print it', () => {
    expect(readMetricsConfig({ NODE_ENV: 'production' })).toEqual({ token: undefined });
    expect(readMetricsConfig({ NODE_ENV: 'development', METRICS_TOKEN: 'short' })).toEqual({ token: 'short' });
    expect(readMetricsConfig({ NODE_ENV: 'production', METRICS_TOKEN: 'x'.repeat(MIN_METRICS_TOKEN_LENGTH) }).token).toHaveLength(MIN_METRICS_TOKEN_LENGTH);
    const error = configErrorOf(() => readMetricsConfig({ NODE_ENV: 'production', METRICS_TOKEN: 'short-token' }));
    expect(error.message).toContain('METRICS_TOKEN');
    expect(error.message).not.toContain('short-token');
  });
});

describe('readMailConfig', () => {
  it('has the documented defaults', () => {
    expect(readMailConfig({ NODE_ENV: 'development' })).toEqual({
      smtpUrl: undefined,
      production: false,
      from: 'Auth service <no-reply@localhost>',
      appUrl: 'http://localhost:3000',
      localApiUrl: 'http://localhost:3000',
      passwordResetTimeoutSeconds: 3600,
      emailVerificationTimeoutSeconds: 259_200,
    });
  });

  it('reads the variables and drops trailing slashes from APP_URL', () => {
    const config = readMailConfig({
      NODE_ENV: 'production',
      JWT_SIGNING_KEY: LONG_KEY,
      SMTP_URL: 'smtps://user:pass@smtp.example.com:465',
      MAIL_FROM: 'Example <no-reply@example.com>',
      APP_URL: 'https://app.example.com//',
    });
    expect(config).toMatchObject({
      smtpUrl: 'smtps://user:pass@smtp.example.com:465',
      production: true,
      from: 'Example <no-reply@example.com>',
      appUrl: 'https://app.example.com',
    });
  });

  it.each<[string, Env]>([
    ['SMTP_URL', { SMTP_URL: 'http://smtp.example.com' }],
    ['SMTP_URL', { SMTP_URL: 'smtp.example.com:587' }],
    ['APP_URL', { APP_URL: 'app.example.com' }],
    ['PASSWORD_RESET_TIMEOUT_SECONDS', { PASSWORD_RESET_TIMEOUT_SECONDS: '1h' }],
    ['PASSWORD_RESET_TIMEOUT_SECONDS', { PASSWORD_RESET_TIMEOUT_SECONDS: '59' }],
    ['EMAIL_VERIFICATION_TIMEOUT_SECONDS', { EMAIL_VERIFICATION_TIMEOUT_SECONDS: '99999999' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readMailConfig(env), variable);
  });
});

describe('readPasswordConfig', () => {
  it('defaults ARGON2_MAX_CONCURRENCY to the libuv thread pool size (UV_THREADPOOL_SIZE, else 4)', () => {
    expect(readPasswordConfig({})).toEqual({ argon2MaxConcurrency: 4 });
    expect(readPasswordConfig({ UV_THREADPOOL_SIZE: '8' }).argon2MaxConcurrency).toBe(8);
    expect(readPasswordConfig({ UV_THREADPOOL_SIZE: '8', ARGON2_MAX_CONCURRENCY: '2' }).argon2MaxConcurrency).toBe(2);
  });

  it.each<[string, Env]>([
    // Used to become 4 silently.
    ['ARGON2_MAX_CONCURRENCY', { ARGON2_MAX_CONCURRENCY: 'two' }],
    ['ARGON2_MAX_CONCURRENCY', { ARGON2_MAX_CONCURRENCY: '0' }],
    ['ARGON2_MAX_CONCURRENCY', { ARGON2_MAX_CONCURRENCY: '-1' }],
    ['UV_THREADPOOL_SIZE', { UV_THREADPOOL_SIZE: 'lots' }],
  ])('refuses a bad %s', (variable, env) => {
    expectRefused(() => readPasswordConfig(env), variable);
  });
});
