import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * PostgreSQL in this process: PGlite (PostgreSQL compiled to WebAssembly) with its data in a folder,
 * served on a free loopback port by pglite-socket, so `pg`, TypeORM and the migrations talk to it
 * like to any PostgreSQL server.
 *
 * PGlite is one backend session. The service's pool has one connection (transactions of concurrent
 * requests queue for it, whole), and the socket server admits two: the second is room for the pool
 * to reconnect while the old socket's close is still being processed — never two at work (the
 * server also runs only the statements of the connection whose transaction is open).
 * What one session cannot give, the service does without: no LISTEN connection for the outbox (it
 * is polled), and no advisory lock around migrations (the folder's lock file below already keeps
 * a second process out).
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lockFile: string,
    /** postgres://postgres@127.0.0.1:<port>/postgres */
    readonly url: string,
  ) {}

  static async start(folder: string): Promise<EmbeddedPostgres> {
    mkdirSync(folder, { recursive: true });
    const lockFile = takeFolderLock(folder);
    let db: PGlite | undefined;
    try {
      db = await PGlite.create({ dataDir: join(folder, 'pg') });
      const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
      await server.start();
      return new EmbeddedPostgres(db, server, lockFile, `postgres://postgres@${server.getServerConn()}/postgres`);
    } catch (error) {
      await db?.close().catch(() => undefined);
      rmSync(lockFile, { force: true });
      throw error;
    }
  }

  /** Stops serving, closes the database (its files are consistent on disk) and frees the folder. */
  async close(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    rmSync(this.lockFile, { force: true });
  }
}

/**
 * PGlite does not keep a second process out of its folder, and two would corrupt it: a lock file
 * with our pid does. A lock left by a process that is gone (killed) is taken over.
 */
function takeFolderLock(folder: string): string {
  const lockFile = join(folder, 'pg.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return lockFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new Error(`${folder} is in use by process ${owner} (another embedded instance); stop it or set DATA_DIR`, { cause: error });
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${folder}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
