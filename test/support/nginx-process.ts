import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-process.js';

/** Debian's nginx binary (`apt-get install nginx`); its system service is never used. */
const NGINX_BIN = process.env.TEST_NGINX_BIN ?? '/usr/sbin/nginx';
const WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every nginx started by this process, killed on exit even if a suite never reaches its afterAll. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/**
 * A private nginx (Debian's binary, its own prefix, config, pid file and logs in a temporary
 * directory, in the foreground as a child of this process) balancing HTTP over `upstreams` on a
 * free loopback port. The access log has one line per request: the upstream(s) that answered and
 * the status, so a test can count what went where.
 *
 * Retries (`proxy_next_upstream error timeout`): a request whose upstream refused the connection,
 * reset it or timed out goes to the next upstream — for GET/HEAD always, for POST only when the
 * request had not been sent yet (nginx's default, kept on purpose: a login, refresh or logout that
 * reached a web process that then died may have been committed, and only the client can decide to
 * repeat it; a refresh repeated within REFRESH_REUSE_GRACE_SECONDS gets the same answer).
 */
export class NginxProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(upstreams: string[]): Promise<NginxProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'nginx-topology-'));
    // The worker processes run as nobody: they must reach the temp paths below.
    await chmod(dir, 0o755);
    const nginx = new NginxProcess(dir, await freePort());
    try {
      await nginx.writeConfig(upstreams);
      await nginx.test();
      const child = spawn(NGINX_BIN, ['-p', dir, '-c', nginx.configFile, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
      everyChild.add(child);
      nginx.child = child;
      nginx.exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', () => resolve());
      });
      await nginx.waitUntilListening();
      return nginx;
    } catch (error) {
      const log = await nginx.errorLog();
      await nginx.stop();
      throw new Error(`nginx did not start: ${(error as Error).message}\n${log}`, { cause: error });
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get configFile(): string {
    return join(this.dir, 'nginx.conf');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Rewrites the upstream list and reloads (SIGHUP: new workers, in-flight requests finish on the old ones). */
  async reload(upstreams: string[]): Promise<void> {
    await this.writeConfig(upstreams);
    await this.test();
    const before = await this.workerPids();
    this.child?.kill('SIGHUP');
    // The reload is done when none of the old workers is left.
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const now = await this.workerPids();
      if (now.length > 0 && now.every((pid) => !before.includes(pid))) return;
      await sleep(50);
    }
    throw new Error('nginx did not reload');
  }

  /** Access log lines: `<upstream addresses> <status> <method> <uri>` (upstreams ", "-separated when retried). */
  async accessLog(): Promise<Array<{ upstreams: string[]; status: number; method: string; uri: string }>> {
    const text = await readFile(join(this.dir, 'access.log'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [upstreams, status, method, uri] = line.split('\t');
        return { upstreams: upstreams.split(/,\s*/), status: Number(status), method, uri };
      });
  }

  errorLog(): Promise<string> {
    return readFile(join(this.dir, 'error.log'), 'utf8').catch(() => '(no error log)');
  }

  /** Stops nginx (SIGQUIT, then SIGKILL) and removes its directory; safe to call twice. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    if (child) everyChild.delete(child);
    this.child = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }

  private async writeConfig(upstreams: string[]): Promise<void> {
    const path = (name: string) => join(this.dir, name);
    await writeFile(
      this.configFile,
      `# written by test/support/nginx-process.ts
worker_processes 1;
pid ${path('nginx.pid')};
error_log ${path('error.log')} warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${path('client_body')};
  proxy_temp_path ${path('proxy')};
  fastcgi_temp_path ${path('fastcgi')};
  uwsgi_temp_path ${path('uwsgi')};
  scgi_temp_path ${path('scgi')};
  log_format upstream '$upstream_addr\\t$status\\t$request_method\\t$request_uri';
  access_log ${path('access.log')} upstream buffer=64k flush=100ms;
  # nginx closes a client's keep-alive connection after 1000 requests by default. The load phase makes
  # more than that per connection at ~2,000 req/s, and autocannon, reconnecting, moves on past the request
  # that was in flight: a client whose refresh was answered on the dead connection then holds a consumed
  # refresh token (400/401 cascades). A real front end does not meet this limit mid-flow; the test must not.
  keepalive_requests 1000000;

  upstream web {
${upstreams.map((address) => `    server ${address} max_fails=1 fail_timeout=10s;`).join('\n')}
    keepalive 64;
    keepalive_requests 1000000;
  }

  server {
    listen 127.0.0.1:${this.port};
    location / {
      proxy_pass http://web;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # Appends the address nginx saw; the service trusts TRUST_PROXY_HOPS hops of it.
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 1s;
      proxy_read_timeout 20s;
      # Which web process answered (nginx's own variable; the service has no instance header).
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`,
    );
  }

  private test(): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(NGINX_BIN, ['-t', '-q', '-p', this.dir, '-c', this.configFile, '-e', join(this.dir, 'error.log')], { timeout: WAIT_MS }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`nginx -t failed: ${stderr || error.message}`));
        else resolve();
      });
    });
  }

  private async workerPids(): Promise<number[]> {
    if (!this.child?.pid) return [];
    return new Promise((resolve) => {
      execFile('ps', ['-o', 'pid=', '--ppid', String(this.child!.pid)], (_error, stdout) =>
        resolve(stdout.split(/\s+/).filter(Boolean).map(Number)),
      );
    });
  }

  private async waitUntilListening(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) throw new Error(`nginx exited with code ${this.child?.exitCode}`);
      try {
        await fetch(`${this.url}/nginx-probe`);
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`nginx did not listen on ${this.port} within ${WAIT_MS} ms`);
  }
}
