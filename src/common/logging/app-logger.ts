import { ConsoleLogger, type LoggerService } from '@nestjs/common';
import { pino, type Logger as PinoLogger, type Level } from 'pino';
import type { AppConfig, LogLevelSetting } from '../../config/app.config.js';
import { logLevelsFrom } from '../../config/app.config.js';
import { REDACTED, REDACTED_PATHS, redactSecrets } from './log-redaction.js';

/** Nest's boot chatter (one line per module and per route, ~50 lines): shown at `verbose` only. */
const STARTUP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

const PINO_LEVELS: Record<LogLevelSetting, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

export interface AppLogger {
  /** What Nest logs through (NestFactory's `logger` option). */
  nest: LoggerService;
  /** The pino instance behind it in JSON mode: Fastify logs requests through it too. */
  pino?: PinoLogger;
}

/**
 * The process's logger. `LOG_FORMAT=json` (production default): pino, one JSON object per line on
 * stdout (what Heroku's log drains and most log stores parse), with credentials redacted from
 * objects and messages alike. `text` (development): Nest's readable lines, coloured only on a terminal.
 */
export function createAppLogger(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): AppLogger {
  if (config.logFormat === 'text') {
    return { nest: new TextLogger({ logLevels: logLevelsFrom(config.logLevel), colors: colorsWanted() }) };
  }
  const instance = pino({
    level: PINO_LEVELS[config.logLevel],
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      err: (error: Error) => {
        const serialized = pino.stdSerializers.err(error);
        return { ...serialized, message: redactSecrets(serialized.message), stack: redactSecrets(serialized.stack) };
      },
    },
    hooks: {
      // Messages are free text: scrub tokens, bearer values and link secrets out of them too.
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
      },
    },
  });
  return { nest: new PinoNestLogger(instance), pino: instance };
}

/** Colours only for a terminal, and never with NO_COLOR (https://no-color.org). */
function colorsWanted(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

/** Nest's console logger, with its start-up listing demoted to verbose. */
class TextLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && STARTUP_CONTEXTS.has(context)) super.verbose(message, ...rest);
    else super.log(message, ...rest);
  }
}

/** Nest's LoggerService on pino: `context` becomes a field, errors keep their stack. */
class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: PinoLogger) {}

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    this.write(typeof context === 'string' && STARTUP_CONTEXTS.has(context) ? 'trace' : 'info', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  /** Nest passes (message, context) or, for errors, (message, stack, context). */
  private write(level: Level, message: unknown, rest: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const params = [...rest];
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const fields: Record<string, unknown> = { context };
    const stack = params.find((param) => typeof param === 'string') as string | undefined;
    if (stack) fields.stack = redactSecrets(stack);
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, redactSecrets(message.message));
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}
