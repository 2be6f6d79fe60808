import pino, { type Logger, type DestinationStream } from 'pino';
import { workflowIdFor } from '../../workflows/definitions';
import { redact } from './redact';

export type { Logger } from 'pino';

/**
 * Structured JSON logs. Redaction happens here, in the logger, so no caller can
 * forget it: every object logged passes through `redact` before serialisation.
 */
export function createLogger(options: { level?: string; name?: string } = {}, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: options.name ?? 'appconnect-lifecycle' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Every line about an installation also names its workflow, for the Temporal UI.
      mixin: (merge: object, _level: number, self: Logger) => {
        const fields = { ...self.bindings(), ...merge } as { installationId?: unknown; workflowId?: unknown };
        const id = fields.installationId;
        return typeof id === 'string' && fields.workflowId === undefined ? { workflowId: workflowIdFor(id) } : {};
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => redact(obj) as Record<string, unknown>,
      },
      serializers: {
        err: (e: unknown) => redact(e),
        error: (e: unknown) => redact(e),
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
