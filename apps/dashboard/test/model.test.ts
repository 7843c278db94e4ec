import { describe, expect, it } from 'vitest';
import { Catalog, computeAlerts, paginate } from '../src/dashboard/model.js';
import { ago, duration } from '../src/shared/format.js';
import type { Refusal, SkuStock, StoreLink } from '../src/shared/schemas.js';
import { History, sparklinePath } from '../src/shared/sparkline.js';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const link = (storeId: string, over: Partial<StoreLink> = {}): StoreLink => ({
  storeId,
  connected: true,
  cut: false,
  lastSeen: new Date(NOW).toISOString(),
  syncLagMs: 0,
  pendingUpdates: 0,
  rejectedUpdates: 0,
  ...over,
});
const stock = (sku: string, available: number, locations: SkuStock['locations'] = []): SkuStock => ({
  sku,
  available,
  central: { available: 0 },
  locations,
  updatedAt: null,
  change: 1,
});

describe('alerts', () => {
  it('flags stores offline past the threshold, and cut links as a tester’s doing', () => {
    const alerts = computeAlerts({
      stores: [
        link('north'),
        link('south', { connected: false, lastSeen: new Date(NOW - 45_000).toISOString() }),
        link('east', { connected: false, lastSeen: new Date(NOW - 5_000).toISOString() }),
        link('west', { connected: false, cut: true, lastSeen: new Date(NOW - 2_000).toISOString() }),
      ],
      refusals: [],
      catalog: [],
      now: NOW,
      offlineAfterMs: 30_000,
    });
    expect(alerts).toEqual([
      { key: 'offline:south', level: 'critical', text: 'south: offline for 45 s' },
      { key: 'cut:west', level: 'warning', text: 'west: link cut by an operator 2 s ago; selling from local quota' },
    ]);
  });

  it('groups sales refused while the chain had stock by SKU, newest first', () => {
    const refusal = (storeId: string, chainAvailable: number): Refusal => ({
      sku: 'MUG-BLUE',
      storeId,
      at: new Date(NOW).toISOString(),
      requested: 2,
      chainAvailable,
    });
    const alerts = computeAlerts({
      stores: [],
      refusals: [refusal('south', 30), refusal('north', 31), refusal('south', 33)],
      catalog: [],
      now: NOW,
      offlineAfterMs: 30_000,
    });
    expect(alerts).toEqual([
      {
        key: 'refused:MUG-BLUE',
        level: 'warning',
        sku: 'MUG-BLUE',
        text: 'MUG-BLUE: 3 sales refused at south, north while the chain had 30 available',
      },
    ]);
  });

  it('reads a per-store deficit when the SKU read carries one, and ignores reads without it', () => {
    const location = { location: 'north', onShelf: 0, posRights: 0, onlineRights: 0, reserved: 0 };
    const alerts = computeAlerts({
      stores: [],
      refusals: [],
      catalog: [
        { sku: 'OLD-HUB', locations: [location] },
        { sku: 'TEE-M', locations: [{ ...location, deficit: 0 }] },
        { sku: 'MUG-BLUE', locations: [{ ...location, deficit: 3 }] },
        { sku: 'LAMP-01', locations: [{ ...location, deficit: 2, reservationsAtRisk: 1 }] },
        { sku: 'NO-READ', locations: null },
      ],
      now: NOW,
      offlineAfterMs: 30_000,
    });
    expect(alerts.map((a) => a.key)).toEqual(['deficit:MUG-BLUE:north', 'deficit:LAMP-01:north']);
    expect(alerts[1]?.text).toBe(
      'LAMP-01: north has a deficit of 2 (manager override beyond its rights); 1 reserved units at risk',
    );
    expect(alerts[0]?.text).toBe('MUG-BLUE: north has a deficit of 3 (manager override beyond its rights)');
  });
});

describe('catalog', () => {
  it('keeps the latest figures by SKU, searches any case in SKU order and pages', () => {
    const catalog = new Catalog();
    for (const sku of ['TEE-M', 'MUG-RED', 'MUG-BLUE']) catalog.listed({ sku, available: 5, updatedAt: null }, NOW);
    catalog.stock(
      stock('MUG-RED', 2, [{ location: 'north', onShelf: 2, posRights: 2, onlineRights: 0, reserved: 0 }]),
      NOW + 1,
    );
    catalog.stock(stock('LAMP-01', 1), NOW + 2);
    expect(catalog.search('mug').map((e) => [e.sku, e.available])).toEqual([
      ['MUG-BLUE', 5],
      ['MUG-RED', 2],
    ]);
    expect(catalog.search('').map((e) => e.sku)).toEqual(['LAMP-01', 'MUG-BLUE', 'MUG-RED', 'TEE-M']);
    expect(
      catalog
        .get('MUG-RED')
        ?.history.values()
        .map((p) => p.v),
    ).toEqual([5, 2]);
    expect(paginate(catalog.search(''), 1, 3)).toEqual({ items: [catalog.get('TEE-M')], page: 1, pages: 2 });
    expect(paginate(catalog.search(''), 9, 3).page).toBe(1);
    expect(paginate([], 0, 3)).toEqual({ items: [], page: 0, pages: 1 });
  });
});

describe('sparklines', () => {
  it('keep one point per change, extend a flat run in place, and forget the oldest past capacity', () => {
    const history = new History(3);
    history.push(1, 5);
    history.push(2, 5);
    history.push(3, 5);
    expect(history.values()).toEqual([
      { t: 1, v: 5 },
      { t: 3, v: 5 },
    ]);
    history.push(4, 4);
    history.push(5, 3);
    expect(history.values().map((p) => p.v)).toEqual([5, 4, 3]);
  });

  it('draw a step line scaled from zero to the series maximum', () => {
    expect(sparklinePath([], 100, 20)).toBe('');
    expect(sparklinePath([{ t: 0, v: 5 }], 100, 20, 0)).toBe('M0 0H100');
    expect(
      sparklinePath(
        [
          { t: 0, v: 10 },
          { t: 50, v: 5 },
          { t: 100, v: 0 },
        ],
        100,
        20,
        0,
      ),
    ).toBe('M0 0H50V10H100V20');
  });
});

describe('formatting', () => {
  it('says durations and ages the way people read them', () => {
    expect(duration(0)).toBe('0 s');
    expect(duration(850)).toBe('850 ms');
    expect(duration(12_000)).toBe('12 s');
    expect(duration(4 * 60_000)).toBe('4 min');
    expect(duration(125 * 60_000)).toBe('2 h 5 min');
    expect(ago(NOW - 1_000, NOW)).toBe('now');
    expect(ago(NOW - 90_000, NOW)).toBe('1 min ago');
  });
});
