import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from '../app.module.js';
import { buildOpenApiDocument } from '../common/openapi/openapi-document.js';

/** The committed document, at the repository root (this file runs as dist/cli/openapi.js). */
export const OPENAPI_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi.json');

/**
 * `npm run openapi`: writes the OpenAPI document the service serves at /api/schema/ to openapi.json.
 * Nest's preview mode builds the module graph without instantiating any provider, so no database,
 * Redis or configuration is needed.
 */
async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule.forRoot({ worker: false }), new FastifyAdapter(), { preview: true, logger: ['error'] });
  try {
    writeFileSync(OPENAPI_FILE, `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`);
    console.log(`wrote ${relative(process.cwd(), OPENAPI_FILE) || OPENAPI_FILE}`);
  } finally {
    await app.close();
  }
}

main().catch((error: Error) => {
  console.error(`openapi failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
