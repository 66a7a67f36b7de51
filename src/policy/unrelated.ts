/**
 * Spans that can never become an agent's tool or model call, told apart at start so the policy
 * SpanProcessor leaves them alone (no state, no late-naming watch): every other span of the
 * application (HTTP, database, messaging, file system) passes through it at almost no cost.
 *
 * A span is unrelated when
 *   - it comes from one of OpenTelemetry's own instrumentations of HTTP, databases, messaging, RPC,
 *     web frameworks or the runtime (by instrumentation scope name: none of them ever writes a GenAI,
 *     OpenInference, OpenLLMetry or AI SDK attribute), or
 *   - its start attributes already say what it is, an HTTP request, a database, messaging or RPC
 *     call (`http.request.method`, `db.system`, `url.full`, ...), and it carries none of the attributes
 *     any tool or model convention (policy/conventions.ts, policy/model-conventions.ts) is marked by.
 *     No instrumentation that marks tool or model spans, at start or later, writes these on such a span.
 * Everything else stays tracked, since any span may be named a tool or model span after start.
 */
import type { Attributes } from '@opentelemetry/api';

/** OpenTelemetry's instrumentations of protocols, stores, frameworks and the runtime (opentelemetry-js-contrib). */
const UNRELATED_SCOPES = new Set(
  [
    'http',
    'undici',
    'fetch',
    'net',
    'dns',
    'fs',
    'grpc',
    'pg',
    'mysql',
    'mysql2',
    'redis',
    'redis-4',
    'ioredis',
    'mongodb',
    'mongoose',
    'memcached',
    'cassandra-driver',
    'tedious',
    'knex',
    'oracledb',
    'kafkajs',
    'amqplib',
    'aws-sdk',
    'express',
    'fastify',
    'koa',
    'hapi',
    'restify',
    'router',
    'connect',
    'nestjs-core',
    'graphql',
    'socket.io',
    'generic-pool',
    'dataloader',
    'lru-memoizer',
    'cucumber',
    'runtime-node',
  ].map((name) => `@opentelemetry/instrumentation-${name}`),
);

/**
 * Whether start attributes say a span is an HTTP, database, messaging or RPC call, and no convention marks
 * it. The keys are written out, one property read each: read through a loop over a list of keys, they
 * cost about 100 ns more per span in the benchmark. `http.request.method`, `http.method`, `url.full`, `db.system`, `db.system.name`,
 * `rpc.system`, `messaging.system` say what the span is; `gen_ai.operation.name`,
 * `openinference.span.kind`, `traceloop.span.kind`, `ai.operationId`, `llm.request.type` mark tool or
 * model spans in some convention, and a span carrying one is never passed over.
 */
export function unrelatedByAttributes(a: Attributes): boolean {
  const protocol =
    a['http.request.method'] !== undefined ||
    a['http.method'] !== undefined ||
    a['url.full'] !== undefined ||
    a['db.system'] !== undefined ||
    a['db.system.name'] !== undefined ||
    a['rpc.system'] !== undefined ||
    a['messaging.system'] !== undefined;
  return (
    protocol &&
    a['gen_ai.operation.name'] === undefined &&
    a['openinference.span.kind'] === undefined &&
    a['traceloop.span.kind'] === undefined &&
    a['ai.operationId'] === undefined &&
    a['llm.request.type'] === undefined
  );
}

/** Whether spans of this instrumentation scope can never become tool or model spans. */
export function isUnrelatedScope(scopeName: string | undefined): boolean {
  return scopeName !== undefined && UNRELATED_SCOPES.has(scopeName);
}

/** Whether a span, as it starts, can never become a tool or model span. */
export function cannotBeAgentCall(scopeName: string | undefined, a: Attributes): boolean {
  return isUnrelatedScope(scopeName) || unrelatedByAttributes(a);
}
