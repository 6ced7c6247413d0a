import { Global, Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig } from '../config/database.config.js';
import { DatabaseHealth } from './database-health.service.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { ReplicaPools } from './replica-pools.service.js';
import { ReplicaReader } from './replica-reader.service.js';
import { Transactions } from './transactions.service.js';

/**
 * PostgreSQL: the TypeORM data source on the primary, the replica pools, the replica reads and the
 * transaction helper. Knows no feature: each feature module registers its own entities
 * (TypeOrmModule.forFeature) and autoLoadEntities collects them.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (config: ConfigType<typeof databaseConfig>) => ({
        ...buildDataSourceOptions(config, { entities: [] }),
        autoLoadEntities: true,
        // Migrations run in the release phase (npm run migration:run), never at boot.
        migrationsRun: false,
        retryAttempts: 3,
        retryDelay: 1000,
      }),
    }),
  ],
  providers: [ReplicaPools, ReplicaReader, Transactions, DatabaseHealth],
  exports: [ReplicaReader, Transactions, DatabaseHealth],
})
export class DatabaseModule {}
