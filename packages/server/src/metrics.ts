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
  readonly connectionsClosed = this.#counter(
    'parley_connections_closed_total',
    'Closed connections by transport and reason code name',
    ['transport', 'reason'],
  );
  readonly framesIn = this.#counter('parley_frames_in_total', 'Frames received', ['transport']);
  readonly framesOut = this.#counter('parley_frames_out_total', 'Frames sent', ['transport']);
  readonly bytesIn = this.#counter('parley_bytes_in_total', 'Bytes received in frames', ['transport']);
  readonly bytesOut = this.#counter('parley_bytes_out_total', 'Bytes sent in frames', ['transport']);
  readonly messagesAcked = this.#counter(
    'parley_messages_acked_total',
    'Messages acknowledged to their senders (duplicates counted separately)',
    ['duplicate'],
  );
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
  readonly errors = this.#counter('parley_errors_total', 'Errors returned or raised, by code name', ['code']);
  readonly heartbeatTimeouts = this.#counter(
    'parley_heartbeat_timeouts_total',
    'Connections closed for silence past their heartbeat interval plus grace',
  );

  readonly busPublishes = this.#counter(
    'parley_bus_publishes_total',
    'Envelopes published to other nodes (one per node per fan-out), by kind',
    ['kind'],
  );
  readonly busReceived = this.#counter('parley_bus_received_total', 'Envelopes received from other nodes, by kind', [
    'kind',
  ]);
  readonly busSkipped = this.#counter(
    'parley_bus_skipped_total',
    'Cross-node routings skipped while Redis was unreachable (recipients catch up at sync)',
  );
  readonly redisErrors = this.#counter('parley_redis_errors_total', 'Redis connection and command errors');
  readonly redisReconnects = this.#counter(
    'parley_redis_reconnects_total',
    'Times the Redis connection came back after an outage',
  );
  readonly redisUp = new Gauge({
    name: 'parley_redis_up',
    help: '1 while the Redis command connection is ready, 0 during an outage',
    registers: [this.registry],
  });

  readonly pushQueued = this.#counter(
    'parley_push_queued_total',
    'Messages queued for a device notification (several may coalesce into one)',
  );
  readonly pushSkipped = this.#counter(
    'parley_push_skipped_total',
    'Device notifications not sent, by reason (muted, online, read, no_device, provider_off, gave_up)',
    ['reason'],
  );
  readonly pushResults = this.#counter(
    'parley_push_results_total',
    "Provider answers by provider, outcome (sent, dropped, unregistered, retry, refreshed) and the provider's reason",
    ['provider', 'outcome', 'reason'],
  );
  readonly pushLatency = new Histogram({
    name: 'parley_push_send_seconds',
    help: 'Time for a provider to answer one notification',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly pushConnections = this.#counter(
    'parley_push_connection_ends_total',
    'Provider connections that ended (goaway, error, close), by provider; the next send reconnects',
    ['provider', 'event'],
  );
  readonly pushQueueDepth = new Gauge({
    name: 'parley_push_queue_depth',
    help: 'Notifications waiting or in flight in the durable push queue',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }

  /** A counter on this server's registry. Names and labels are public: dashboards and docs use them. */
  #counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
