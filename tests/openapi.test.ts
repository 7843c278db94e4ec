import { hubOperations, storeOperations, type ApiOperation } from '@shelfsync/protocol';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { openApiFiles } from '../scripts/openapi.js';
import { Cluster, eventually, get, post } from './support/cluster.js';

type OpenApi = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
};

/** Validates real responses against the committed OpenAPI documents (not the zod schemas they came from). */
function validator(file: string) {
  const doc = parse(readFileSync(file, 'utf8')) as OpenApi;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  return (op: ApiOperation, status: number, contentType: string, body: unknown): void => {
    const documented = doc.paths[op.path]?.[op.method]?.responses[String(status)];
    expect(documented, `${op.method} ${op.path} answered ${status}, which is not documented`).toBeDefined();
    const ref = (documented as { $ref?: string }).$ref;
    if (ref !== undefined) {
      expect(contentType).toContain('application/problem+json');
      const valid = ajv.validate({ $ref: 'doc#/components/schemas/Problem' }, body);
      expect(valid, JSON.stringify(ajv.errors)).toBe(true);
      return;
    }
    const content = (documented as { content?: Record<string, { schema: unknown }> }).content;
    if (content === undefined) return; // 304
    const json = content['application/json'];
    if (json === undefined) return; // a text stream or Prometheus text
    expect(contentType).toContain('application/json');
    const valid = ajv.validate(json.schema as object, body);
    expect(valid, `${op.method} ${op.path} ${status}: ${JSON.stringify(ajv.errors)} in ${JSON.stringify(body)}`).toBe(
      true,
    );
  };
}

describe('OpenAPI contract', () => {
  it('docs/openapi.yaml and docs/openapi-store.yaml are what the zod schemas say (run pnpm openapi after a change)', () => {
    for (const { file, text } of openApiFiles()) expect(readFileSync(file, 'utf8')).toBe(text);
  });

  describe('every documented example, replayed against real processes, answers as documented', () => {
    const cluster = new Cluster();
    beforeAll(async () => {
      await cluster.startHub();
      await cluster.startStore('north');
      await cluster.startStore('central');
      expect(
        (await post(cluster.store('north'), '/v1/receipts', { sku: 'MUG-BLUE', quantity: 40 }, 'seed')).status,
      ).toBe(201);
      await eventually(async () => (await get(cluster.hub?.url ?? '', '/v1/skus/MUG-BLUE')).body, { available: 40 });
      // The rest is escrowed online once the allocator has seen the receipt.
      await eventually(async () => {
        const body = (await get(cluster.hub?.url ?? '', '/v1/stores/north/skus/MUG-BLUE')).body;
        return (body.reservable as number) > 0;
      }, true);
    }, 60_000);
    afterAll(() => cluster.stop(), 30_000);

    const call = async (
      base: string,
      op: ApiOperation,
      path: string,
      body: unknown,
      headers: Record<string, string>,
    ) => {
      const res = await fetch(`${base}${path}`, {
        method: op.method.toUpperCase(),
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const type = res.headers.get('content-type') ?? '';
      const text = await res.text();
      return { status: res.status, type, body: type.includes('json') ? (JSON.parse(text) as unknown) : text };
    };

    it('hub', async () => {
      const hub = cluster.hub?.url ?? '';
      const check = validator(openApiFiles()[0]?.file ?? '');
      const auth = { authorization: `Bearer ${cluster.apiToken}` };
      let reservation = '';
      let checked = 0;
      for (const op of hubOperations) {
        if (op.example === undefined) continue;
        const res = await call(hub, op, op.example.path, op.example.body, {
          ...(op.auth === undefined ? {} : auth),
          ...(op.idempotent === true ? { 'idempotency-key': `example-${op.path}` } : {}),
        });
        check(op, res.status, res.type, res.body);
        expect(res.status).toBeLessThan(300);
        if (op.path === '/v1/reservations') reservation = String((res.body as { id: string }).id);
        checked++;
      }
      // The operations on one reservation, then documented failures.
      const byPath = (path: string, method = 'post'): ApiOperation => {
        const op = hubOperations.find((o) => o.path === path && o.method === method);
        if (op === undefined) throw new Error(path);
        return op;
      };
      for (const [path, method] of [
        ['/v1/reservations/{id}', 'get'],
        ['/v1/reservations/{id}/confirm', 'post'],
        ['/v1/reservations/{id}/cancel', 'post'],
      ] as const) {
        const op = byPath(path, method);
        const res = await call(hub, op, path.replace('{id}', reservation), undefined, auth);
        check(op, res.status, res.type, res.body);
        checked++;
      }
      const failures: [ApiOperation, string, unknown, Record<string, string>][] = [
        [byPath('/v1/skus/{sku}', 'get'), '/v1/skus/NOPE-0', undefined, {}],
        [byPath('/v1/skus', 'get'), '/v1/skus?limit=0', undefined, {}],
        [byPath('/v1/reservations'), '/v1/reservations', { sku: 'MUG-BLUE', quantity: 1 }, {}],
        [byPath('/v1/reservations'), '/v1/reservations', { sku: 'MUG-BLUE', quantity: 10_000 }, auth],
      ];
      for (const [op, path, body, headers] of failures) {
        const res = await call(hub, op, path, body, headers);
        expect(res.status).toBeGreaterThanOrEqual(400);
        check(op, res.status, res.type, res.body);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(14);
    });

    it('store', async () => {
      const store = cluster.store('north');
      const check = validator(openApiFiles()[1]?.file ?? '');
      let checked = 0;
      for (const op of storeOperations) {
        if (op.example === undefined) continue;
        const res = await call(store, op, op.example.path, op.example.body, {
          ...(op.idempotent === true ? { 'idempotency-key': `example-${op.path}` } : {}),
        });
        check(op, res.status, res.type, res.body);
        expect(res.status).toBeLessThan(300);
        checked++;
      }
      const sales = storeOperations.find((o) => o.path === '/v1/sales');
      const read = storeOperations.find((o) => o.path === '/v1/skus/{sku}');
      if (sales === undefined || read === undefined) throw new Error('missing operations');
      for (const [op, path, body] of [
        [sales, '/v1/sales', { sku: 'MUG-BLUE', quantity: 1_000_000 }],
        [sales, '/v1/sales', { sku: 'MUG-BLUE', quantity: -1 }],
        [read, '/v1/skus/NOPE-0', undefined],
      ] as const) {
        const res = await call(store, op, path, body, {});
        expect(res.status).toBeGreaterThanOrEqual(400);
        check(op, res.status, res.type, res.body);
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(13);
    });
  });
});
