// The HTTP API of `animus serve` on Fastify: request schemas validated before any handler
// runs, an OpenAPI document at /openapi.json, bearer-token auth on everything except the
// health probes and the OpenAPI document, body-size limits, and 4xx errors that name the
// field or the problem. Handlers are thin: they call the Animus client and shape JSON.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { AnimusError, IllegalTransitionError, NotFoundError, ValidationError } from '../errors/index.js';
import type { Secret } from '../config/index.js';
import { checkBearer } from './auth.js';
import {
  errorResponse,
  listWorkQuery,
  type ListWorkQuery,
  searchMemoriesBody,
  type SearchMemoriesBody,
  storeMemoriesBody,
  type StoreMemoriesBody,
  submitWorkBody,
  type SubmitWorkBody,
  workIdParams,
} from './http-schemas.js';
import { runSearch, type ServiceClient } from './service-client.js';
import { toJson } from './json.js';

/** Options for {@link buildHttpServer}. */
export interface HttpServerOptions {
  client: ServiceClient;
  /** Bearer token; `undefined` = no auth (the caller must listen on loopback only). */
  apiToken: Secret | undefined;
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Prometheus text exposition of the current metrics; `undefined` = /metrics answers 404. */
  metrics?: () => Promise<string>;
  /** Whether the service is ready for traffic (false while starting or draining). Default: always. */
  ready?: () => boolean;
  /** The service's version, for the OpenAPI document. */
  version?: string;
  /** Called once per failed request with status ≥ 500 (the service logs it). */
  onServerError?: (err: unknown) => void;
}

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** Turns Ajv's errors into one message naming the field (`body.workType: must be string`). */
function describeValidation(err: FastifyError): { message: string; field: string | undefined } {
  const first = err.validation?.[0];
  if (first === undefined) return { message: err.message, field: undefined };
  const context = err.validationContext ?? 'body';
  let path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const params = first.params as Record<string, unknown>;
  if (typeof params.missingProperty === 'string')
    path = path === '' ? params.missingProperty : `${path}.${params.missingProperty}`;
  if (typeof params.additionalProperty === 'string') {
    const full = path === '' ? params.additionalProperty : `${path}.${params.additionalProperty}`;
    return { message: `${context}.${full}: is not a known field`, field: full };
  }
  const field = path === '' ? undefined : path;
  return {
    message: `${context}${field === undefined ? '' : `.${field}`}: ${first.message ?? 'is invalid'}`,
    field,
  };
}

/** Builds the Fastify app (not listening yet). */
export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    logger: false,
    // Reject unknown fields rather than silently dropping them; keep query coercion.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
  });
  const { client } = options;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'animus',
        description: 'Queue-centric semantic memory on Postgres: work items and memories.',
        version: options.version ?? '0.0.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    if ((request.routeOptions.config as { public?: boolean }).public === true) return;
    const outcome = checkBearer(request.headers.authorization, options.apiToken);
    if (outcome === 'ok') return;
    const why = {
      missing: 'the Authorization header is missing (expected: Authorization: Bearer <ANIMUS_API_TOKEN>)',
      malformed: 'the Authorization header is not of the form "Bearer <token>"',
      wrong: 'the bearer token is not the configured ANIMUS_API_TOKEN',
    }[outcome];
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="animus"')
      .send(errorBody('UNAUTHORIZED', why));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation !== undefined) {
      const { message, field } = describeValidation(err);
      return reply.code(400).send(errorBody('VALIDATION_FAILED', message, field));
    }
    if (err instanceof ValidationError)
      return reply.code(400).send(errorBody(err.code, err.message, err.field));
    if (err instanceof NotFoundError) return reply.code(404).send(errorBody(err.code, err.message));
    if (err instanceof IllegalTransitionError) return reply.code(409).send(errorBody(err.code, err.message));
    if (err instanceof AnimusError && err.code === 'CLOSED') {
      return reply.code(503).send(errorBody(err.code, 'the service is shutting down'));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'BODY_TOO_LARGE' : (err.code ?? 'BAD_REQUEST');
      const message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `the request body is larger than the limit of ${options.bodyLimitBytes ?? 1024 * 1024} bytes (ANIMUS_HTTP_BODY_LIMIT)`
          : err.message;
      return reply.code(status).send(errorBody(code, message));
    }
    options.onServerError?.(err);
    return reply.code(500).send(errorBody('INTERNAL', 'internal error; see the service log'));
  });

  const errors = { 400: errorResponse, 401: errorResponse, 404: errorResponse };

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    if (options.ready !== undefined && !options.ready()) {
      return reply.code(503).send({ status: 'unavailable', reason: 'starting or draining' });
    }
    try {
      const health = await client.health();
      if (!health.database.reachable)
        return reply.code(503).send({ status: 'unavailable', reason: 'database' });
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'database' });
    }
  });

  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    if (options.metrics === undefined)
      return reply.code(404).send(errorBody('NOT_FOUND', 'metrics are not enabled'));
    const text = await options.metrics();
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });

  app.post<{ Body: SubmitWorkBody }>(
    '/v1/work',
    { schema: { body: submitWorkBody, response: errors, summary: 'Submit a work item' } },
    async (request, reply) => {
      const { delaySeconds, ...rest } = request.body;
      const result = await client.work.submit({
        ...rest,
        ...(delaySeconds === undefined ? {} : { delay: delaySeconds }),
      } as Parameters<ServiceClient['work']['submit']>[0]);
      return reply.code(202).send(toJson(result));
    },
  );

  app.get<{ Querystring: ListWorkQuery }>(
    '/v1/work',
    { schema: { querystring: listWorkQuery, response: errors, summary: 'List work items, newest first' } },
    async (request) => {
      const { before, ...rest } = request.query;
      const items = await client.work.list({
        ...rest,
        ...(before === undefined ? {} : { before: new Date(before) }),
      } as Parameters<ServiceClient['work']['list']>[0]);
      return { items: toJson(items) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/work/:id',
    { schema: { params: workIdParams, response: errors, summary: 'Get a work item' } },
    async (request, reply) => {
      const item = await client.work.get(request.params.id);
      if (item === undefined || item === null) {
        return reply.code(404).send(errorBody('NOT_FOUND', `work item ${request.params.id} not found`));
      }
      return toJson(item);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/work/:id/retry',
    { schema: { params: workIdParams, response: errors, summary: 'Retry a dead or cancelled work item' } },
    async (request) => toJson(await client.work.retry(request.params.id)),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/work/:id/cancel',
    { schema: { params: workIdParams, response: errors, summary: 'Cancel a queued work item' } },
    async (request) => {
      await client.work.cancel(request.params.id);
      return { id: request.params.id, state: 'cancelled' };
    },
  );

  app.post<{ Body: StoreMemoriesBody }>(
    '/v1/memories',
    {
      schema: {
        body: storeMemoriesBody,
        response: errors,
        summary: 'Store memories now (embedded synchronously)',
      },
    },
    async (request, reply) => {
      const stored = await client.memory.store(
        request.body.memories.map((m) => ({ ...m, memoryType: m.memoryType ?? 'semantic' })),
      );
      return reply.code(201).send(toJson({ memories: stored }));
    },
  );

  app.post<{ Body: SearchMemoriesBody }>(
    '/v1/memories/search',
    {
      schema: {
        body: searchMemoriesBody,
        response: errors,
        summary: 'Search memories (vector, text or hybrid)',
      },
    },
    async (request) => {
      const mode = request.body.mode ?? 'hybrid';
      const started = performance.now();
      const hits = await runSearch(client, {
        query: request.body.query,
        mode,
        limit: request.body.limit ?? 10,
        ...(request.body.filters === undefined ? {} : { filters: request.body.filters }),
      });
      return { mode, tookMs: Math.round((performance.now() - started) * 10) / 10, hits: toJson(hits) };
    },
  );

  return app;
}
