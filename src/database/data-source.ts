import { DataSource } from 'typeorm';
import { databaseConfig } from '../config/database.config.js';
import { buildDataSourceOptions } from './data-source-options.js';

/** Data source for the TypeORM CLI (`npm run migration:generate`); the app uses DatabaseModule. */
export default new DataSource(buildDataSourceOptions(databaseConfig(), { applicationName: 'auth-cli' }));
