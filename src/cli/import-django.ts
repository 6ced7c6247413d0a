import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppModule } from '../app.module.js';
import { DjangoImporter } from '../django-import/django-importer.js';
import { formatImportReport } from '../django-import/import-report.js';
import { RevocationStore } from '../session/revocation-store.service.js';
import { UsersService } from '../users/users.service.js';

const USAGE = `usage: npm run import:django -- --from <postgres url of the Django database> [--dry-run] [--placeholder-emails] [--json]`;

/** Exit codes: 0 done, 2 stopped by conflicts (nothing written), 1 failed, 64 bad usage. */
async function main(): Promise<number> {
  let values: { from?: string; 'dry-run'?: boolean; 'placeholder-emails'?: boolean; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'placeholder-emails': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 64;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.from || !/^postgres(ql)?:\/\//.test(values.from)) {
    console.error(`--from must be the postgres:// URL of the Django database\n${USAGE}`);
    return 64;
  }
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ worker: false }), { logger: ['error', 'warn'] });
  try {
    const importer = new DjangoImporter(app.get<DataSource>(getDataSourceToken()), app.get(UsersService), app.get(RevocationStore));
    const report = await importer.run(values.from, { dryRun: values['dry-run'] === true, placeholderEmails: values['placeholder-emails'] === true });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatImportReport(report));
    return report.conflicts.length > 0 ? 2 : 0;
  } finally {
    await app.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    // The message only: a driver error could quote a statement's parameters (hashes).
    console.error(`import:django failed: ${error.message}`);
    process.exit(1);
  },
);
