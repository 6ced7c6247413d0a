// Preloaded into a service process (node --import) by test/embedded.e2e-spec.ts: appends every
// outgoing TCP or socket connection the process opens (pg, ioredis, nodemailer, fetch all go through
// net.Socket#connect) to the file named by CONNECTION_LOG, one JSON line each, so the test can show
// which servers the process talked to over its whole life — not only the sockets open at one instant.
import fs from 'node:fs';
import net from 'node:net';

const file = process.env.CONNECTION_LOG;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function recordedConnect(...args) {
  // net.connect() passes its normalised arguments as one array: [options, callback].
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  let target;
  if (first !== null && typeof first === 'object') target = { host: first.host ?? 'localhost', port: first.port, path: first.path };
  else if (typeof first === 'number' || /^\d+$/.test(String(first))) target = { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first) };
  else target = { path: String(first) };
  if (file) fs.appendFileSync(file, `${JSON.stringify(target)}\n`);
  return connect.apply(this, args);
};
