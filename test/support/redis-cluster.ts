import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { freePort } from './redis-process.js';

const sleep = (ms: number, { unref = false } = {}) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });

/** Every wait of this helper gives up after this long. */
const WAIT_MS = 20_000;

interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Every node started by this process, killed on exit even if a suite never reaches its afterAll. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

export interface RedisClusterOptions {
  /** Replicas per master (`--cluster-replicas`); 0 by default. */
  replicas?: number;
  /** cluster-node-timeout: how long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
}

/**
 * A private Redis Cluster of local redis-server processes (masters, optionally with replicas; no
 * persistence), each node in its own temporary directory on free loopback ports. The machine's
 * shared Redis is never touched.
 */
export class RedisCluster {
  private constructor(private readonly nodes: ClusterNodeProcess[]) {}

  /** Starts the nodes, joins them with `redis-cli --cluster create` and waits for cluster_state:ok. */
  static async start(masters = 3, options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const cluster = new RedisCluster([]);
    const replicas = options.replicas ?? 0;
    const count = masters * (1 + replicas);
    try {
      const ports = await distinctFreePorts(count * 2);
      for (let index = 0; index < count; index += 1) {
        // The cluster bus port defaults to port + 10000, which may be above 65535 for an ephemeral
        // port: give each node an explicit free bus port instead (cluster-port, Redis 7).
        cluster.nodes.push(await startNode(ports[index * 2], ports[index * 2 + 1], options.nodeTimeoutMs ?? 5000));
      }
      await Promise.all(cluster.nodes.map((node) => waitForPing(node)));
      // With replicas, redis-cli makes the first `masters` nodes masters and gives each one replica of the others.
      await run('redis-cli', ['--cluster', 'create', ...cluster.nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
      await cluster.waitUntilOk();
      if (replicas > 0) await cluster.waitUntilReplicasInSync();
      return cluster;
    } catch (error) {
      const logs = await cluster.logTails();
      await cluster.stop();
      throw new Error(`Redis Cluster did not start: ${(error as Error).message}\n${logs}`, { cause: error });
    }
  }

  get ports(): number[] {
    return this.nodes.map((node) => node.port);
  }

  /** Every port the cluster uses (client and bus ports), for a check that they are free again. */
  get allPorts(): number[] {
    return this.nodes.flatMap((node) => [node.port, node.busPort]);
  }

  /** The redis-server process ids. */
  get pids(): number[] {
    return this.nodes.flatMap((node) => (node.child.pid ? [node.child.pid] : []));
  }

  /** Every temporary directory of the nodes. */
  get dirs(): string[] {
    return this.nodes.map((node) => node.dir);
  }

  /** Kills one node with SIGKILL (no goodbye to clients or to the other nodes) and waits until it has exited. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    await Promise.race([node.exited, sleep(WAIT_MS, { unref: true })]);
  }

  /**
   * The cluster as one live node sees it (CLUSTER NODES): port, role, the master a replica follows,
   * whether the node is marked failing, and the slot ranges of a master.
   */
  async topology(fromPort: number): Promise<ClusterNodeView[]> {
    const node = this.nodeClient(fromPort);
    try {
      await node.connect();
      const text = (await node.call('CLUSTER', 'NODES')) as string;
      return text.trim().split('\n').map(parseClusterNodesLine);
    } finally {
      node.disconnect();
    }
  }

  /** Seed URLs in REDIS_URL's cluster form (comma-separated). */
  get redisUrl(): string {
    return this.nodes.map((node) => `redis://127.0.0.1:${node.port}`).join(',');
  }

  /** An ioredis Cluster client (no key prefix) for inspecting the cluster. */
  client(options: ClusterOptions = {}): Cluster {
    return new Cluster(
      this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      { clusterRetryStrategy: () => null, ...options, redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 1, ...options.redisOptions } },
    );
  }

  /** A plain connection to one node (for CLUSTER and INFO commands that are per node). */
  nodeClient(port: number): Redis {
    return new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  }

  /** Runs `command` on every node and returns the replies by port. */
  async onEachNode<T>(command: (node: Redis) => Promise<T>): Promise<Map<number, T>> {
    const replies = new Map<number, T>();
    await Promise.all(
      this.ports.map(async (port) => {
        const node = this.nodeClient(port);
        try {
          await node.connect();
          replies.set(port, await command(node));
        } finally {
          node.disconnect();
        }
      }),
    );
    return replies;
  }

  /**
   * Waits until every node says cluster_state:ok and knows every node and every slot, so that a
   * client can pick any seed and get the same slot map.
   */
  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const infos = await this.onEachNode((node) => node.call('CLUSTER', 'INFO') as Promise<string>);
        const ok = [...infos.values()].every(
          (info) =>
            /cluster_state:ok/.test(info) &&
            /cluster_slots_assigned:16384\b/.test(info) &&
            new RegExp(`cluster_known_nodes:${this.nodes.length}\\b`).test(info),
        );
        if (ok) return;
        last = [...infos.entries()].map(([port, info]) => `${port}: ${info.split('\r\n').slice(0, 3).join(' ')}`).join('; ');
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`cluster_state did not become ok on every node within ${WAIT_MS} ms (${last})`);
  }

  /**
   * Waits until every replica has finished its first sync with its master (master_link_status:up):
   * a replica that has no copy of the data yet cannot take over when its master dies.
   */
  private async waitUntilReplicasInSync(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    let last = '';
    while (Date.now() < deadline) {
      const infos = await this.onEachNode((node) => node.info('replication'));
      const pending = [...infos.entries()].filter(([, info]) => /role:slave/.test(info) && !/master_link_status:up/.test(info));
      if (pending.length === 0) return;
      last = pending.map(([port]) => port).join(', ');
      await sleep(100);
    }
    throw new Error(`replicas ${last} did not sync with their masters within ${WAIT_MS} ms`);
  }

  /** Kills every node (SIGKILL), waits for each to exit (bounded) and removes the temporary directories. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
        await Promise.race([node.exited, sleep(WAIT_MS, { unref: true })]);
        everyChild.delete(node.child);
        await rm(node.dir, { recursive: true, force: true });
      }),
    );
    this.nodes.length = 0;
  }

  private async logTails(): Promise<string> {
    const tails = await Promise.all(
      this.nodes.map(async (node) => {
        const log = await readFile(join(node.dir, 'redis.log'), 'utf8').catch(() => '(no log)');
        return `--- node ${node.port} ---\n${log.split('\n').slice(-15).join('\n')}`;
      }),
    );
    return tails.join('\n');
  }
}

export interface ClusterNodeView {
  id: string;
  port: number;
  role: 'master' | 'slave';
  /** The node id this replica follows ('-' for a master). */
  masterId: string;
  failing: boolean;
  /** Slot ranges [first, last] served by a master. */
  slots: Array<[number, number]>;
}

/** One line of CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...` */
function parseClusterNodesLine(line: string): ClusterNodeView {
  const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
  const flagList = flags.split(',');
  return {
    id,
    port: Number(address.split('@')[0].split(':').pop()),
    role: flagList.includes('master') ? 'master' : 'slave',
    masterId,
    failing: flagList.includes('fail') || flagList.includes('fail?'),
    slots: slots
      .filter((slot) => !slot.startsWith('['))
      .map((slot) => {
        const [first, last] = slot.split('-').map(Number);
        return [first, last ?? first] as [number, number];
      }),
  };
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function startNode(port: number, busPort: number, nodeTimeoutMs: number): Promise<ClusterNodeProcess> {
  const dir = await mkdtemp(join(tmpdir(), `redis-cluster-${port}-`));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-port', String(busPort),
    '--cluster-node-timeout', String(nodeTimeoutMs),
    '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'redis.log'), '--loglevel', 'notice',
  ];
  const child = spawn('redis-server', args, { cwd: dir, stdio: 'ignore' });
  everyChild.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned) throw new Error(`redis-server could not be started: ${spawned.message}`);
  return { port, busPort, dir, child, exited };
}

async function waitForPing(node: ClusterNodeProcess): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null) throw new Error(`redis-server on port ${node.port} exited with code ${node.child.exitCode}`);
    const client = new Redis({ host: '127.0.0.1', port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500, retryStrategy: () => null });
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not listening yet
    } finally {
      client.disconnect();
    }
    await sleep(50);
  }
  throw new Error(`redis-server on port ${node.port} did not answer PING within ${WAIT_MS} ms`);
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: WAIT_MS }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
