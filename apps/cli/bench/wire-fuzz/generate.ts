import { headerBlockInput, requestLineInput } from './http-inputs.js';
import { FUZZ_CLASSES, type FuzzClass, type FuzzContext, type FuzzInput, type FuzzTarget } from './input.js';
import { Prng } from './prng.js';
import { wsFrameInput } from './frame-inputs.js';
import { syncFrameInput } from './sync-inputs.js';
import { upgradeInput } from './upgrade-inputs.js';

/** How often each class comes up; the WebSocket classes cost a handshake each, so they weigh a little less. */
const CLASS_WEIGHTS: readonly (readonly [number, FuzzClass])[] = [
  [25, 'request-line'],
  [20, 'header-block'],
  [20, 'upgrade'],
  [20, 'ws-frame'],
  [15, 'sync-frame'],
];

/**
 * Input number `index` of the run seeded `seed`: a pure function of the two
 * (and the context's tokens), so a failing batch replays exactly, alone.
 */
export function generateInput(seed: number, index: number, ctx: FuzzContext): FuzzInput {
  const rng = new Prng(seed, index);
  const cls = rng.weighted(CLASS_WEIGHTS);
  // Stores serve HTTP only: the WebSocket classes go to the hub.
  const target: FuzzTarget = cls === 'ws-frame' || cls === 'sync-frame' || rng.chance(0.7) ? 'hub' : 'store';
  // Most inputs half-close after writing, so an incomplete request is answered at once, not at a timeout.
  const end = rng.chance(0.95);
  switch (cls) {
    case 'request-line':
      return { index, cls, target, end, frames: [], ...requestLineInput(rng, target) };
    case 'header-block':
      return { index, cls, target, end, frames: [], ...headerBlockInput(rng, target) };
    case 'upgrade':
      return { index, cls, target, end, frames: [], ...upgradeInput(rng, ctx) };
    case 'ws-frame':
      return { index, cls, target, end: false, wellFormed: false, ...wsFrameInput(rng, ctx) };
    case 'sync-frame':
      return { index, cls, target, end: false, wellFormed: false, ...syncFrameInput(rng, ctx) };
  }
}

export { FUZZ_CLASSES };
