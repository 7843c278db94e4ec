import { ErrorCode, onlineAccount, storeAccount, storeWriter } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyValidatedUpdate, ledgerOf, validateUpdate } from '../../src/index.js';
import { assertAcceptedEffect, forge, forgeryKinds } from '../../src/testing/index.js';
import { expectedCode, expectRejected as rejected } from './forgery-verdicts.js';
import type { Replica } from './replica.js';
import { storeIdOf } from './replica.js';
import { runs } from './runs.js';

/** A small synced chain (store A, store B and the hub), with `extraSales` more sales at A. */
export type World = (extraSales?: number) => { storeA: Replica; hub: Replica };

/** Runs of each property; `seed` fixes the three (seed, seed + 1, seed + 2) so a version's run replays. */
export interface PropertyCounts {
  readonly forgeries: number;
  readonly mutations: number;
  readonly honest: number;
  readonly seed?: number;
}

const seeded = (counts: PropertyCounts, offset: number): { seed?: number } =>
  counts.seed === undefined ? {} : { seed: counts.seed + offset };

const a = storeIdOf(0);
const writerA = storeWriter(a);
const expectRejected = (doc: Y.Doc, update: Uint8Array, codes: Parameters<typeof rejected>[3]): void =>
  rejected(doc, update, writerA, codes);

/**
 * The properties every schema version's validation keeps, over `world`: every
 * forgery is refused and changes nothing; a mutated honest update is refused or
 * accepted only when its effect keeps every rule; every honest update is accepted.
 */
export function describeValidationProperties(title: string, world: World, counts: PropertyCounts): void {
  describe(title, () => {
    it('random forgeries against random synced states are all rejected and leave the document byte-for-byte unchanged', () => {
      fc.assert(
        fc.property(fc.nat(6), fc.constantFrom(...forgeryKinds), fc.nat(1000), (sales, kind, seed) => {
          const { hub } = world(sales);
          expectRejected(hub.doc, forge(hub.doc, kind, seed), expectedCode[kind]);
        }),
        { numRuns: runs(counts.forgeries), ...seeded(counts, 0) },
      );
    });

    it('mutated honest updates (flipped, cut, spliced or appended bytes) are rejected, or accepted only when the result keeps every rule', () => {
      fc.assert(
        fc.property(
          fc.nat(6),
          fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { minLength: 1, maxLength: 4 }),
          fc.option(fc.nat(), { nil: undefined }),
          fc.boolean(),
          fc.uint8Array({ maxLength: 4 }),
          (sales, flips, cut, restart, tail) => {
            const { storeA, hub } = world(sales);
            storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
            // A restart puts two client ids into the update, and cross-client origins.
            if (restart) storeA.restart();
            storeA.apply({ type: 'transferRights', from: storeAccount(a), to: onlineAccount(a), quantity: 1 });
            const honest = Y.encodeStateAsUpdate(storeA.doc, Y.encodeStateVector(hub.doc));
            let mutated = honest.slice();
            for (const { at, value } of flips) mutated[at % mutated.length] = value;
            if (cut !== undefined) mutated = mutated.slice(0, cut % (mutated.length + 1));
            mutated = Uint8Array.from([...mutated, ...tail]);
            const before = Y.encodeStateAsUpdate(hub.doc);
            const verdict = validateUpdate(hub.doc, mutated, writerA);
            expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(before);
            if (verdict.ok) assertAcceptedEffect(hub.doc, mutated, writerA);
            // The honest update itself with bytes after its end: never its valid prefix.
            if (tail.length > 0) {
              expect(validateUpdate(hub.doc, Uint8Array.from([...honest, ...tail]), writerA)).toMatchObject({
                ok: false,
                error: { code: ErrorCode.UpdateMalformed },
              });
            }
          },
        ),
        { numRuns: runs(counts.mutations), ...seeded(counts, 1) },
      );
    });

    it('every honest update of a random operation sequence is accepted', () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ pick: fc.nat(4), quantity: fc.integer({ min: 1, max: 4 }), restart: fc.boolean() }), {
            maxLength: 30,
          }),
          (steps) => {
            const { storeA, hub } = world();
            for (const step of steps) {
              if (step.restart) storeA.restart();
              const own = storeAccount(a);
              const operations = [
                { type: 'receive', account: own, quantity: step.quantity },
                { type: 'sell', account: own, quantity: step.quantity },
                { type: 'count', account: own, counted: step.quantity * 3 },
                { type: 'transferRights', from: own, to: onlineAccount(a), quantity: step.quantity },
                { type: 'return', account: own, quantity: step.quantity },
              ] as const;
              const sent = storeA.sent.length;
              storeA.apply(operations[step.pick % operations.length] ?? operations[0]);
              for (const update of storeA.sent.slice(sent)) {
                const verdict = applyValidatedUpdate(hub.doc, update, writerA);
                expect(verdict).toMatchObject({ ok: true, value: { changed: true } });
              }
            }
            expect(ledgerOf(hub.doc).get('store:store-0')).toEqual(ledgerOf(storeA.doc).get('store:store-0'));
          },
        ),
        { numRuns: runs(counts.honest), ...seeded(counts, 2) },
      );
    });
  });
}
