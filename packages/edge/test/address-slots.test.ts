import { describe, expect, it } from 'vitest';
import { AddressSlots } from '../src/address-slots.js';
import { Metrics } from '../src/metrics.js';

describe('AddressSlots', () => {
  it('caps each address and the total, counts refusals, and frees a slot once however often it is released', async () => {
    const metrics = new Metrics('hub');
    const slots = new AddressSlots({ name: 'event_streams', perAddress: 2, total: 3 }, metrics);
    const a1 = slots.acquire('a');
    const a2 = slots.acquire('a');
    expect(a1).not.toBeNull();
    expect(a2).not.toBeNull();
    expect(slots.acquire('a')).toBeNull();
    const b1 = slots.acquire('b');
    expect(b1).not.toBeNull();
    // The total is reached: another address is refused too.
    expect(slots.acquire('c')).toBeNull();
    a1?.release();
    a1?.release();
    expect(slots.used()).toBe(2);
    expect(slots.used('a')).toBe(1);
    expect(slots.acquire('c')).not.toBeNull();
    const text = await metrics.registry.metrics();
    expect(text).toContain('shelfsync_connections_refused_total{pool="event_streams",process="hub"} 2');
    expect(text).toContain('shelfsync_connections_open{pool="event_streams",process="hub"} 3');
  });

  it('several pools share the metrics, one label value each', async () => {
    const metrics = new Metrics('hub');
    new AddressSlots({ name: 'one', perAddress: 1 }, metrics).acquire('x');
    new AddressSlots({ name: 'two', perAddress: 1 }, metrics);
    const text = await metrics.registry.metrics();
    expect(text).toContain('shelfsync_connections_open{pool="one",process="hub"} 1');
    expect(text).toContain('shelfsync_connections_open{pool="two",process="hub"} 0');
  });
});
