import { describe, expect, it } from 'vitest';
import { Catalog, computeAlerts, paginate, refusalCounts, refusalText } from '../src/dashboard/model.js';
import { ago, duration } from '../src/shared/format.js';
import { ChainSummarySchema, type Minute, type Refusal, type SkuStock, type StoreLink } from '../src/shared/schemas.js';
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

  it('names the cause a store reported: an empty shelf is units at another location, not an escrow failure', () => {
    const refusal = (storeId: string, cause: string): Refusal => ({
      sku: 'MUG-BLUE',
      storeId,
      at: new Date(NOW).toISOString(),
      requested: 2,
      chainAvailable: 30,
      cause,
    });
    const alerts = computeAlerts({
      stores: [],
      refusals: [
        refusal('south', 'location_empty'),
        refusal('north', 'hub_unreachable'),
        refusal('east', 'online_escrow'),
        refusal('west', 'topup_timeout'),
        refusal('south', 'location_empty'),
        refusal('west', 'a_cause_from_a_newer_hub'),
      ],
      catalog: [],
      now: NOW,
      offlineAfterMs: 30_000,
    });
    expect(alerts.map((a) => [a.key, a.text])).toEqual([
      [
        'refused:MUG-BLUE:location_empty',
        'MUG-BLUE: 2 sales refused at south while the chain had 30 available: the units were at another location (an empty shelf, not an escrow failure)',
      ],
      [
        'refused:MUG-BLUE:hub_unreachable',
        "MUG-BLUE: 1 sale refused at north while the chain had 30 available: the units sat in the store's online escrow with the hub out of reach",
      ],
      [
        'refused:MUG-BLUE:online_escrow',
        "MUG-BLUE: 1 sale refused at east while the chain had 30 available: the location's rights were kept for online orders",
      ],
      [
        'refused:MUG-BLUE:topup_timeout',
        "MUG-BLUE: 1 sale refused at west while the chain had 30 available: the hub's top-up did not arrive in time",
      ],
      [
        'refused:MUG-BLUE:a_cause_from_a_newer_hub',
        'MUG-BLUE: 1 sale refused at west while the chain had 30 available',
      ],
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

describe('refusals in the chain view', () => {
  const minute = (refused: Minute['refused']): Minute => ({
    minute: new Date(NOW).toISOString(),
    sold: 0,
    refused,
    reservations: { held: 0, confirmed: 0, cancelled: 0, expired: 0, refused: 0 },
  });

  it('names the causes seen, and reads an older hub without the newer fields', () => {
    const minutes = [
      minute({ locationEmpty: 1, escrowHeld: 0, hubUnreachable: 2, topUpTimeout: 0 }),
      minute({ locationEmpty: 0, escrowHeld: 1, hubUnreachable: 0, topUpTimeout: 1 }),
    ];
    expect(refusalText(minutes)).toBe(
      '5 sales refused (1 out of stock at the store, 2 hub unreachable, 1 held for online, 1 top-up timed out)',
    );
    expect(refusalText([minute({ locationEmpty: 1, escrowHeld: 0, hubUnreachable: 0, topUpTimeout: 0 })])).toBe(
      '1 sale refused (1 out of stock at the store)',
    );
    expect(refusalText([])).toBe('0 sales refused');
    // A hub from before the refusal reports: two causes, still read.
    const old = ChainSummarySchema.parse({
      generatedAt: new Date(NOW).toISOString(),
      minutes: [{ ...minute({ locationEmpty: 2, escrowHeld: 1 }) }],
      refusedWithChainStock: [
        { sku: 'A', storeId: 's', at: new Date(NOW).toISOString(), requested: 1, chainAvailable: 3 },
      ],
    });
    expect(refusalCounts(old.minutes)).toEqual({
      locationEmpty: 2,
      hubUnreachable: 0,
      escrowHeld: 1,
      topUpTimeout: 0,
      total: 3,
    });
    expect(refusalText(old.minutes)).toBe('3 sales refused (2 out of stock at the store, 1 held for online)');
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
