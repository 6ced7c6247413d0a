import { registerAs } from '@nestjs/config';
import { type Env, envInt } from './env.js';

export function readPasswordConfig(env: Env) {
  // libuv's thread pool (where argon2 runs) has UV_THREADPOOL_SIZE threads, 4 unless set.
  const threadPool = envInt(env, 'UV_THREADPOOL_SIZE', 4, { min: 1, max: 1024 });
  return {
    /**
     * At most this many argon2 computations run at once; the rest wait their turn. Each holds 19 MiB.
     * The default is libuv's thread-pool size, where argon2 runs anyway: the benchmark measured the
     * core count (2 here) as 15–20% fewer logins/s for 38 MB less peak memory, because the cores idle
     * between one hash and the next. Lower it on small dynos.
     */
    argon2MaxConcurrency: envInt(env, 'ARGON2_MAX_CONCURRENCY', threadPool, { min: 1, max: 64 }),
  };
}

export const passwordConfig = registerAs('password', () => readPasswordConfig(process.env));
export type PasswordConfig = ReturnType<typeof readPasswordConfig>;
