import { applyOperation, createSkuDoc } from '@shelfsync/core';
import { StoreIdSchema, storeAccount, storeWriter } from '@shelfsync/protocol';
import { PROTOCOL_VERSION, SyncMessageType, encodeControlFrame, encodeDocFrame } from '@shelfsync/sync';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { invalidSku, validSku } from './http-requests.js';
import { concat, type FuzzContext } from './input.js';
import type { Prng } from './prng.js';
import { handshake, type Peer } from './upgrade-inputs.js';
import { Opcode, encodeFrame } from './ws-frame.js';

/** Well-formed binary frames on an authenticated sync session, carrying garbage or near-miss sync frames. */

const hellos = new Map<string, Uint8Array>();

/** The handshake's first frame, as an honest store of that id would send it. */
export function hello(peer: Peer, protocol = PROTOCOL_VERSION): Uint8Array {
  const id = `${peer.storeId}/${protocol}`;
  const known = hellos.get(id);
  if (known !== undefined) return known;
  const frame = encodeControlFrame({
    type: 'hello',
    protocol,
    storeId: StoreIdSchema.parse(peer.storeId),
    epoch: null,
    cursor: 0,
    dirty: [],
  });
  hellos.set(id, frame);
  return frame;
}

/** A valid DOC update frame per peer and SKU: what an honest store of that id would send. */
const templates = new Map<string, Uint8Array>();
function template(storeId: string, sku: string, step: number): Uint8Array {
  const id = `${storeId}/${sku}/${step}`;
  let frame = templates.get(id);
  if (frame === undefined) {
    const store = StoreIdSchema.parse(storeId);
    // A client id from the template's name keeps the bytes, and so the inputs, the same on every run and replay.
    let clientID = 2166136261;
    for (let i = 0; i < id.length; i += 1) clientID = Math.imul(clientID ^ id.charCodeAt(i), 16777619) >>> 0;
    const doc = createSkuDoc({ clientID: clientID % 1_000_000_000 });
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    applyOperation(doc, storeWriter(store), { type: 'receive', account: storeAccount(store), quantity: 5 });
    if (step > 0) applyOperation(doc, storeWriter(store), { type: 'sell', account: storeAccount(store), quantity: 1 });
    frame = encodeDocFrame(sku, 0, SyncMessageType.Update, Y.mergeUpdates(updates));
    templates.set(id, frame);
  }
  return frame;
}

function mutate(rng: Prng, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes);
  switch (rng.int(0, 4)) {
    case 0:
      for (let i = rng.int(1, 4); i > 0; i -= 1) {
        const at = rng.int(0, out.length - 1);
        out[at] = (out[at] ?? 0) ^ (1 << rng.int(0, 7));
      }
      return out;
    case 1:
      return out.subarray(0, rng.int(0, out.length - 1));
    case 2: {
      const at = rng.int(0, out.length);
      return concat([out.subarray(0, at), rng.bytes(rng.int(1, 16)), out.subarray(at)]);
    }
    case 3: {
      // A varint of maximal length where a length or count was.
      const at = rng.int(0, out.length - 1);
      return concat([
        out.subarray(0, at),
        new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        out.subarray(at + 1),
      ]);
    }
    default:
      out[rng.int(0, out.length - 1)] = rng.pick([0, 0x7f, 0x80, 0xff]);
      return out;
  }
}

/** Syntactically valid binary frames on an authenticated `/v1/sync` whose payloads are garbage or near misses. */
export function syncFrameInput(
  rng: Prng,
  ctx: FuzzContext,
): { kind: string; request: Uint8Array; frames: Uint8Array[] } {
  const peer = rng.pick(ctx.peers);
  // A few SKUs only: updates that pass create documents, and the hub's catalog should not grow with the run.
  const sku = `fz${rng.int(0, 7)}`;
  const kind = rng.weighted<string>([
    [2, 'garbage'],
    [3, 'doc-random'],
    [3, 'control-random'],
    [4, 'mutated-update'],
    [1, 'valid-update'],
    [1, 'step1'],
    [1, 'huge-varint'],
  ]);
  const makers: Record<string, () => Uint8Array> = {
    garbage: () => rng.bytes(rng.int(0, 200)),
    'doc-random': () => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      encoding.writeVarString(
        e,
        rng.chance(0.7) ? sku : rng.pick([validSku(rng), invalidSku(rng), '\ud800', 'x'.repeat(rng.int(65, 5000))]),
      );
      encoding.writeVarUint(e, rng.pick([0, 1, rng.int(2, 1e6), 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]));
      encoding.writeVarUint(e, rng.int(0, 5));
      encoding.writeVarUint8Array(e, rng.bytes(rng.int(0, 120)));
      if (rng.chance(0.1)) encoding.writeUint8(e, 0);
      return encoding.toUint8Array(e);
    },
    'control-random': () => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, controlJson(rng, peer, sku));
      return encoding.toUint8Array(e);
    },
    'mutated-update': () => mutate(rng, template(peer.storeId, sku, rng.int(0, 1))),
    'valid-update': () => template(peer.storeId, sku, rng.int(0, 1)),
    step1: () =>
      encodeDocFrame(sku, 0, SyncMessageType.Step1, rng.chance(0.5) ? new Uint8Array([0]) : rng.bytes(rng.int(0, 30))),
    'huge-varint': () =>
      new Uint8Array([
        rng.int(0, 1),
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x7f,
        ...rng.bytes(rng.int(0, 8)),
      ]),
  };
  const make = makers[kind] ?? makers.garbage;
  const payloads = Array.from({ length: rng.int(1, 4) }, () => (make === undefined ? new Uint8Array(0) : make()));
  return {
    kind,
    request: handshake(rng, '/v1/sync', peer),
    frames: [hello(peer, rng.chance(0.95) ? PROTOCOL_VERSION : rng.pick([0, 2, 99, -1])), ...payloads].map((payload) =>
      encodeFrame({ opcode: Opcode.Binary, payload }),
    ),
  };
}

function controlJson(rng: Prng, peer: Peer, sku: string): string {
  return rng.pick([
    () =>
      JSON.stringify({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        storeId: rng.pick([peer.storeId, 'honest', 'x']),
        epoch: rng.pick([null, 'e', 'x'.repeat(80)]),
        cursor: rng.pick([0, -1, 1e12, 1.5]),
        dirty: [sku],
      }),
    () =>
      JSON.stringify({ type: 'topup', ref: rng.int(-1, 1e6), sku, quantity: rng.pick([1, 0, -5, 1e9, 1e10, 2 ** 53]) }),
    () => JSON.stringify({ type: 'ack', ref: rng.int(0, 1e6) }),
    () => JSON.stringify({ type: 'welcome', protocol: 3, epoch: 'e', cursor: 0, changed: [], overrideCap: 0 }),
    () => JSON.stringify({ type: 'error', code: rng.pick(['INTERNAL', 'NOPE']), detail: 'x'.repeat(rng.int(0, 3000)) }),
    () => JSON.stringify({ type: 'release', sku, target: rng.int(-1, 100) }),
    () =>
      JSON.stringify({
        type: 'refused',
        sku,
        quantity: rng.pick([1, 0, 1e10]),
        cause: rng.pick(['location_empty', 'hub_unreachable', 'nope']),
        at: rng.pick([0, Date.now(), -1, 9e15, 1e300]),
        chainAvailable: rng.pick([0, -1, 5]),
      }),
    () => JSON.stringify({ type: rng.pick(['', 'unknown', '__proto__', 'constructor']) }),
    () => `${'['.repeat(rng.int(1, 5000))}`,
    () => `{"type":"topup","ref":1,"sku":"${sku}","quantity":1${',"a":1'.repeat(rng.int(0, 2000))}}`,
    () => rng.string(rng.int(0, 60), '{}[]":,0123456789truefalsenull \\u'),
  ])();
}
