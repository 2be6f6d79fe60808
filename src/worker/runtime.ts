import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { ConfigError } from '../errors';
import type { Logger } from '../logging/logger';

/** The SDK's own log lines, through our JSON logger (and so its redaction). */
class PinoSdkLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata) {
    const method =
      level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARN' ? 'warn' : 'error';
    this.logger[method]({ sdk: true, ...(meta ?? {}) }, message);
  }
  trace(message: string, meta?: LogMetadata) {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata) {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata) {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata) {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata) {
    this.log('ERROR', message, meta);
  }
}

/**
 * Installs the SDK runtime once, before any connection: its logs go to our logger (the native core's are JSON too),
 * and its worker metrics are served for Prometheus at `metricsBind` (empty: off).
 */
export function installRuntime(logger: Logger, metricsBind: string): void {
  try {
    Runtime.install({
      logger: new PinoSdkLogger(logger),
      telemetryOptions: {
        // The SDK's native core writes its own lines to stdout, coloured text by default: JSON like
        // ours instead (its own shape: timestamp, level, fields, target), at the SDK's default levels.
        // Not forwarded to our logger: forwarding keeps a timer that holds the process open.
        logging: { filter: { core: 'WARN', other: 'ERROR' }, console: { format: 'json' } },
        ...(metricsBind ? { metrics: { prometheus: { bindAddress: metricsBind } } } : {}),
      },
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // The SDK only says the exporter failed (a port another process holds, a bad address): name the setting.
    if (metricsBind && /metrics|prometheus|address/i.test(why)) {
      throw new ConfigError(
        `WORKER_METRICS_BIND=${metricsBind}: the worker's Prometheus metrics cannot be served there (${why}). ` +
          'Set WORKER_METRICS_BIND to a free IP address and port (each worker on a host needs its own), or to an empty value to turn them off.',
      );
    }
    throw err;
  }
}
