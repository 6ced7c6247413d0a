import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis-process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServiceProcess {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Runs a compiled entry point (`dist/main.js`, `dist/worker.js`) as its own process — another dyno —
 * with the run's environment plus `env`. `npm test` builds dist/ before the e2e suites.
 */
export async function startServiceProcess(
  entry: 'main' | 'worker',
  env: Record<string, string> = {},
  /** How long dist/main.js may take to become live (embedded mode's first start runs initdb). */
  liveTimeoutMs = 20_000,
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist', `${entry}.js`)], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service: ServiceProcess = {
    child,
    baseUrl: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  if (entry === 'main') {
    const deadline = Date.now() + liveTimeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`dist/main.js exited early:\n${output}`);
      try {
        if ((await fetch(`${service.baseUrl}/health/live/`)).ok) return service;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    await service.stop();
    throw new Error(`dist/main.js did not become live:\n${output}`);
  }
  return service;
}
