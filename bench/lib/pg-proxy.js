/**
 * PostgreSQL round trips, counted on the wire.
 *
 * A loopback TCP proxy between a client (the service, the floor) and PostgreSQL. It forwards bytes
 * untouched in both directions and reads the client's side of the protocol to count round trips:
 * every simple-protocol Query ('Q') and every Sync ('S', which closes an extended-protocol
 * Parse/Bind/Execute batch) is one trip to the server and back. A transaction of three statements
 * sent by TypeORM (BEGIN, INSERT, COMMIT) is therefore three round trips, as the network sees it —
 * which is what a request waits for, unlike pg_stat_database's transaction counter.
 *
 * The first message of a connection has no type byte (StartupMessage, or an SSLRequest /
 * GSSENCRequest answered with one byte); the bench runs with DATABASE_SSL=off, and an SSLRequest
 * refused by the server leaves the stream in plain protocol, which is what this parser assumes.
 */
import net from 'node:net';

/** Frontend message types that wait for the server: simple Query and the Sync of an extended batch. */
const ROUND_TRIP_TYPES = new Set([0x51 /* Q */, 0x53 /* S */]);
const SSL_OR_GSS_REQUEST = new Set([80877103, 80877104]);

export class PgRoundTripProxy {
  /** @param target { host, port } of PostgreSQL */
  constructor(target) {
    this.target = target;
    this.roundTrips = 0;
    this.connections = 0;
    this.sockets = new Set();
    this.server = net.createServer((client) => this.#accept(client));
  }

  /** Listens on a free loopback port; returns it. */
  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    return this.server.address().port;
  }

  /** Round trips counted so far (read it before and after a run; the difference is the run's). */
  read() {
    return this.roundTrips;
  }

  async close() {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  #accept(client) {
    this.connections += 1;
    const server = net.connect(this.target);
    client.setNoDelay(true);
    server.setNoDelay(true);
    for (const socket of [client, server]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    server.pipe(client);

    // Parser state: `pending` holds the bytes of a message header not complete yet; `skip` the
    // bytes of the current message body still to pass over.
    let startup = true;
    let pending = Buffer.alloc(0);
    let skip = 0;
    client.on('data', (chunk) => {
      server.write(chunk);
      const buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      let offset = 0;
      while (offset < buffer.length) {
        if (skip > 0) {
          const step = Math.min(skip, buffer.length - offset);
          skip -= step;
          offset += step;
          continue;
        }
        if (startup) {
          if (buffer.length - offset < 8) break;
          const length = buffer.readInt32BE(offset);
          const code = buffer.readInt32BE(offset + 4);
          // After an SSL/GSS request refused with 'N' the real StartupMessage follows, still untyped.
          if (!SSL_OR_GSS_REQUEST.has(code)) startup = false;
          skip = length;
          continue;
        }
        if (buffer.length - offset < 5) break;
        const type = buffer[offset];
        const length = buffer.readInt32BE(offset + 1);
        if (ROUND_TRIP_TYPES.has(type)) this.roundTrips += 1;
        skip = 1 + length;
      }
      if (offset < buffer.length && skip === 0) pending = Buffer.from(buffer.subarray(offset));
    });
  }
}
