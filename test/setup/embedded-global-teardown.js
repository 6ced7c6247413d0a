import { rmSync } from 'node:fs';

/** Deletes the embedded run's DATA_DIR. */
export default async function embeddedGlobalTeardown() {
  if (process.env.E2E_EMBEDDED === 'true' && process.env.DATA_DIR) rmSync(process.env.DATA_DIR, { recursive: true, force: true });
}
