import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one server, on its own registry (several servers in one test
 * process must not share counters). Served at GET /metrics.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'parley_connections',
    help: 'Open connections by transport and whether they have logged in',
    labelNames: ['transport', 'state'] as const,
    registers: [this.registry],
  });
  readonly connectionsClosed = new Counter({
    name: 'parley_connections_closed_total',
    help: 'Closed connections by transport and reason code name',
    labelNames: ['transport', 'reason'] as const,
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'parley_frames_in_total',
    help: 'Frames received',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly framesOut = new Counter({
    name: 'parley_frames_out_total',
    help: 'Frames sent',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly bytesIn = new Counter({
    name: 'parley_bytes_in_total',
    help: 'Bytes received in frames',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({
    name: 'parley_bytes_out_total',
    help: 'Bytes sent in frames',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly messagesAcked = new Counter({
    name: 'parley_messages_acked_total',
    help: 'Messages acknowledged to their senders (duplicates counted separately)',
    labelNames: ['duplicate'] as const,
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: 'parley_ack_latency_seconds',
    help: 'Time from a SEND frame arriving to its ack being queued',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly storeBatchSize = new Histogram({
    name: 'parley_store_batch_size',
    help: 'Messages per group-commit transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly storeBatchLatency = new Histogram({
    name: 'parley_store_batch_seconds',
    help: 'Duration of a group-commit transaction',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'parley_errors_total',
    help: 'Errors returned or raised, by code name',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly heartbeatTimeouts = new Counter({
    name: 'parley_heartbeat_timeouts_total',
    help: 'Connections closed for silence past their heartbeat interval plus grace',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }
}
