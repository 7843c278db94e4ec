import { z } from 'zod';
import { ProblemSchema } from './errors.js';
import { type ApiOperation, hubOperations, storeOperations } from './openapi-operations.js';

export { hubOperations, storeOperations, type ApiOperation } from './openapi-operations.js';

const json = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  return rest;
};

/** An OpenAPI 3.1 document for one process's operations. */
export function buildOpenApiDocument(
  title: string,
  description: string,
  server: string,
  operations: readonly ApiOperation[],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters = [
      ...Object.entries(op.pathParams ?? {}).map(([name, schema]) => ({
        name,
        in: 'path',
        required: true,
        schema: json(schema, 'input'),
      })),
      ...Object.entries(op.query ?? {}).map(([name, q]) => ({
        name,
        in: 'query',
        required: false,
        description: q.description,
        schema: json(q.schema, 'input'),
      })),
      ...Object.entries(op.headers ?? {}).map(([name, h]) => ({
        name,
        in: 'header',
        required: false,
        description: h.description,
        schema: json(h.schema, 'input'),
      })),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(op.responses)) {
      if (schema === null) responses[status] = { description: 'Not modified' };
      else if ('mediaType' in schema) {
        responses[status] = {
          description: schema.description,
          content: { [schema.mediaType]: { schema: { type: 'string' } } },
        };
      } else {
        responses[status] = {
          description: 'Success',
          content: { 'application/json': { schema: json(schema, 'output') } },
        };
      }
    }
    for (const status of op.problems) {
      responses[String(status)] = { $ref: '#/components/responses/Problem' };
    }
    const operation: Record<string, unknown> = {
      summary: op.summary,
      operationId: `${op.method}${op.path
        .replace(/[{}]/g, '')
        .replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())
        .replace(/[^A-Za-z0-9]/g, '')}`,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: json(op.body, 'input'),
                  ...(op.example?.body === undefined ? {} : { example: op.example.body }),
                },
              },
            },
          }),
      responses,
      ...(op.auth === undefined ? {} : { security: [{ apiToken: [] }] }),
      ...(op.example === undefined ? {} : { 'x-example-path': op.example.path }),
    };
    paths[op.path] = { ...paths[op.path], [op.method]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title, version: '1', description },
    servers: [{ url: server }],
    paths,
    components: {
      securitySchemes: { apiToken: { type: 'http', scheme: 'bearer', description: '--api-token of the hub' } },
      schemas: { Problem: json(ProblemSchema, 'output') },
      responses: {
        Problem: {
          description: 'RFC 9457 problem details with a stable code (docs: ErrorCode)',
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        },
      },
    },
  };
}

export function hubOpenApi(): Record<string, unknown> {
  return buildOpenApiDocument(
    'shelfsync hub',
    'The cloud hub: storefront reads (public, cacheable, rate limited), online reservations (API token), health and metrics. Stores sync over WebSocket at /v1/sync (docs/protocol.md); /yjs/{sku} serves each SKU document read-only to y-websocket clients. Generated from the zod schemas by `pnpm openapi`; do not edit by hand.',
    'http://127.0.0.1:8080',
    hubOperations,
  );
}

export function storeOpenApi(): Record<string, unknown> {
  return buildOpenApiDocument(
    'shelfsync store node',
    "A store's local POS API. Every POST takes JSON and an optional Idempotency-Key. Generated from the zod schemas by `pnpm openapi`; do not edit by hand.",
    'http://127.0.0.1:8081',
    storeOperations,
  );
}
