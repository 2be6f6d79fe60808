import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the web process. */
export function createWebMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    eventsReceived: new Counter({
      name: 'appconnect_events_received_total',
      help: 'Lifecycle events received at the callback, by type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    callbackLatency: new Histogram({
      name: 'appconnect_callback_duration_seconds',
      help: 'Time to answer a callback, by status',
      labelNames: ['status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    // Where an acknowledged event's time goes: a slow store and a slow Temporal look alike in the total.
    callbackSteps: new Histogram({
      name: 'appconnect_callback_step_duration_seconds',
      help: 'Time of each step of a signed, valid callback: store (the event and its credentials), handover (to its workflow), mark; outcome ok or failed',
      labelNames: ['step', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dispatchBacklog: new Gauge({
      name: 'appconnect_dispatch_backlog',
      help: 'Stored events not yet handed to their workflow',
      registers: [registry],
    }),
  };
}
export type WebMetrics = ReturnType<typeof createWebMetrics>;
