import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';

/**
 * The project runs on the Node major its package.json names (`engines.node`, "24.x"): `npm ci`
 * installs that Node (the `node` dev dependency) and npm scripts put it first on PATH, so the
 * tests run on it even on a machine whose own Node is older. This fails if they do not.
 */
describe('Node runtime', () => {
  it('is the major that package.json engines.node names', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    const wanted = /^(\d+)\.x$/.exec(pkg.engines.node)?.[1];
    expect(wanted).toBe('24');
    expect(process.versions.node.split('.')[0]).toBe(wanted);
    // The installed runtime and the engines range agree.
    expect(pkg.devDependencies.node.split('.')[0]).toBe(wanted);
  });
});
