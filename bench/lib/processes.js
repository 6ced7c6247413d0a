/**
 * Child processes of the bench: every one is tracked so that cleanup can end it (by its pid) whatever
 * happens — a thrown error, a failed target, or Ctrl-C.
 */
import { fork, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set();

/** Keeps the last `limit` output lines of a child (for diagnostics when it dies). */
function captureLines(child, sink, limit = 200) {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        if (line.trim() === '') continue;
        sink.lines.push(line);
        sink.total += 1;
        if (sink.lines.length > limit) sink.lines.shift();
      }
    });
  }
}

/**
 * Starts a long-running child (the service, the floor). Returns { child, output, exited } where
 * output.lines holds its last `keepLines` lines and `exited` resolves with the exit code or signal.
 * With `logFile`, the whole output is also written there.
 */
export function startProcess(name, command, args, { env, cwd, logFile, keepLines = 200 } = {}) {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { name, lines: [], total: 0 };
  captureLines(child, output, keepLines);
  if (logFile) {
    // The whole output, for reading after the run (bench/results/ is git-ignored).
    const file = createWriteStream(logFile);
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    child.once('exit', () => file.end());
  }
  children.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? code);
    });
  });
  child.once('error', (error) => output.lines.push(`spawn error: ${error.message}`));
  return { name, child, output, exited };
}

/** Runs a command to completion (e.g. the migrations); rejects with its output when it fails. */
export async function runToCompletion(name, command, args, { env, cwd } = {}) {
  const started = startProcess(name, command, args, { env, cwd });
  const result = await started.exited;
  if (result !== 0) throw new Error(`${name} failed (${result}):\n${started.output.lines.join('\n')}`);
  return started.output.lines;
}

/**
 * Forks a bench script (e.g. bench/load.js), sends it one job message and resolves
 * with its one answer. Rejects if it answers { ok: false } or exits without answering.
 */
export function forkJob(script, message, { env } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    let answered = false;
    child.once('message', (answer) => {
      answered = true;
      if (answer?.ok) resolve(answer);
      else reject(new Error(`${script}: ${answer?.error ?? 'failed'}`));
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (!answered) reject(new Error(`${script} exited (${signal ?? code}) without a result`));
    });
    child.once('error', reject);
    child.send(message);
  });
}

/**
 * A long-lived forked worker (bench/load.js) that answers job messages one at a time:
 * `await worker.run(job)` sends { id, ...job } and resolves with the { id, ok, ... } answer.
 */
export class JobWorker {
  constructor(script, { env } = {}) {
    this.script = script;
    this.child = fork(script, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this.child);
    this.pending = new Map();
    this.nextId = 1;
    this.child.on('message', (answer) => {
      const waiter = this.pending.get(answer?.id);
      if (!waiter) return;
      this.pending.delete(answer.id);
      if (answer.ok) waiter.resolve(answer);
      else waiter.reject(new Error(`${script}: ${answer.error ?? 'failed'}`));
    });
    this.child.once('exit', (code, signal) => {
      children.delete(this.child);
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${script} exited (${signal ?? code}) during a job`));
      this.pending.clear();
    });
  }

  run(job) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...job, id });
    });
  }

  stop() {
    return stopProcess(this.child);
  }
}

/** Ends one child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it is gone. */
export async function stopProcess(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timer = sleep(graceMs).then(() => 'timeout');
  if ((await Promise.race([gone, timer])) === 'timeout') {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await gone;
  }
}

/** Ends every child still running (each by its own pid). */
export async function stopAll() {
  await Promise.all([...children].map((child) => stopProcess(child)));
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200; fails early when `started` (from startProcess) exits. */
export async function waitForHttp(url, started, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  started.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${started.name} exited before answering ${url}:\n${started.output.lines.join('\n')}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${started.name} did not answer ${url} within ${timeoutMs} ms:\n${started.output.lines.join('\n')}`);
}

/** Peak and current resident set size of a process, in MB (VmHWM and VmRSS of /proc/<pid>/status). */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMb: kb('VmHWM') / 1024, currentMb: kb('VmRSS') / 1024 };
}
