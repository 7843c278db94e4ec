import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/**
 * The dashboard (served by the hub) and the store console (served by a store
 * node) in real headless Chromium, against real hub and store processes. The
 * browser is Debian's `chromium` package; `.ci/run` installs it when missing.
 */
const CHROMIUM = process.env.SHELFSYNC_CHROMIUM ?? '/usr/bin/chromium';
/** Only an explicit choice skips these tests; a missing browser otherwise fails them. */
const SKIP = process.env.SHELFSYNC_SKIP_BROWSER_TESTS === '1';
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results');

const text = async (page: Page, selector: string): Promise<string> =>
  ((await page.locator(selector).textContent()) ?? '').trim();

describe.skipIf(SKIP)('dashboard and store console in headless Chromium', () => {
  const cluster = new Cluster();
  const hub = (): string => cluster.hub?.url ?? '';
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `headless Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does), point SHELFSYNC_CHROMIUM at it, or set SHELFSYNC_SKIP_BROWSER_TESTS=1 to skip the browser tests on purpose`,
      );
    }
    mkdirSync(RESULTS, { recursive: true });
    await cluster.startHub();
    await cluster.startStore('north');
    await cluster.startStore('south');
    for (const [store, sku, quantity] of [
      ['north', 'MUG-BLUE', 40],
      ['south', 'MUG-BLUE', 12],
      ['north', 'LAMP-01', 6],
      ['south', 'TEE-M', 9],
    ] as const) {
      expect((await post(cluster.store(store), '/v1/receipts', { sku, quantity }, `seed-${store}-${sku}`)).status).toBe(
        201,
      );
    }
    await eventually(async () => (await get(hub(), '/v1/skus/MUG-BLUE')).body, { available: 52 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cluster.stop();
  }, 30_000);

  it('shows merged stock that changes live on a sale, and a store cut from its controls as offline', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${hub()}/`);
    await expect.poll(() => text(page, '#hub-connection'), { timeout: 10_000 }).toMatch(/^Live/);
    const mug = '#sku-rows tr[data-key="MUG-BLUE"] .available';
    await expect.poll(() => text(page, mug), { timeout: 10_000 }).toBe('52');
    // A mark on the page's window: still there after the change means no reload happened.
    await page.evaluate('window.notReloaded = true');

    expect((await post(cluster.store('north'), '/v1/sales', { sku: 'MUG-BLUE', quantity: 3 }, 'sale-1')).status).toBe(
      201,
    );
    await expect.poll(() => text(page, mug), { timeout: 10_000 }).toBe('49');
    expect(await page.evaluate('window.notReloaded')).toBe(true);

    // A sale beyond what south's shelf holds is refused while north still has the units: an alert that says
    // so (not an escrow failure), and a bar.
    const refused = await post(cluster.store('south'), '/v1/sales', { sku: 'MUG-BLUE', quantity: 20 }, 'sale-2');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ details: { cause: 'location_empty' } });
    await expect
      .poll(() => text(page, '#alerts'), { timeout: 10_000 })
      .toMatch(
        /MUG-BLUE: 1 sale refused at south while the chain had \d+ available: the units were at another location \(an empty shelf, not an escrow failure\)/,
      );
    const reservation = await post(hub(), '/v1/reservations', { sku: 'MUG-BLUE', quantity: 2 }, 'order-1', {
      authorization: `Bearer ${cluster.apiToken}`,
    });
    expect(reservation.status).toBe(201);
    await expect
      .poll(() => text(page, '#chain-totals'), { timeout: 10_000 })
      .toMatch(/· 1 sale refused \(1 out of stock at the store\) · 1 reservations$/);

    // The Cluster panel: the one embedded hub, ready, holding both stores' sessions, and no shard map.
    await expect.poll(() => text(page, '#cluster-mode'), { timeout: 10_000 }).toBe('· embedded (one hub)');
    await expect.poll(() => text(page, '#cluster-ready')).toMatch(/^This node is ready/);
    const hubRow = page.locator('#cluster-nodes tr');
    await expect.poll(() => hubRow.count()).toBe(1);
    await expect.poll(() => text(page, '#cluster-nodes tr .stores')).toBe('2');
    expect(await text(page, '#cluster-nodes tr .status')).toBe('alive');
    expect(await page.locator('#shard-map-block').isHidden()).toBe(true);

    // Search narrows the table; the detail view draws per-store bars.
    await page.getByLabel('Search').fill('lamp');
    await expect.poll(() => page.locator('#sku-rows tr').count()).toBe(1);
    await page.getByLabel('Search').fill('');
    await page.getByRole('link', { name: 'MUG-BLUE', exact: true }).click();
    await expect.poll(() => page.locator('#detail-bars li').count(), { timeout: 10_000 }).toBe(2);
    expect(await text(page, '#detail-bars li[data-key="north"] .bar-text')).toMatch(
      /^POS \d+ · online \d+ · reserved \d+/,
    );
    await expect.poll(() => text(page, '#detail-summary')).toMatch(/^47 available chain-wide across 2 stores/);
    expect(await text(page, '#detail-bars')).toContain('reserved 2');

    // The tester control: without the token the buttons are off; with it, cut north.
    const cut = page.getByRole('button', { name: 'Cut the link of north' });
    await expect.poll(() => cut.isDisabled(), { timeout: 10_000 }).toBe(true);
    await page.getByLabel('API token').fill(cluster.apiToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    await cut.click();
    await expect
      .poll(() => page.locator('#stores tr[data-key="north"]').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('cut');
    await expect.poll(() => text(page, '#alerts'), { timeout: 10_000 }).toContain('north: link cut by an operator');
    const links = (await get(hub(), '/v1/stores')).body.stores as { storeId: string }[];
    expect(links.find((l) => l.storeId === 'north')).toMatchObject({ connected: false, cut: true });
    // The store sees the hub as unreachable and sells from its local quota.
    await eventually(async () => (await get(cluster.store('north'), '/v1/status')).body, { hub: { connected: false } });
    await page.screenshot({ path: join(RESULTS, 'dashboard.png'), fullPage: true });

    await page.getByRole('button', { name: 'Restore the link of north' }).click();
    await expect
      .poll(() => page.locator('#stores tr[data-key="north"]').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('connected');

    // On a phone the page reflows to one column instead of scrolling sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await page.screenshot({ path: join(RESULTS, 'dashboard-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the store console keeps selling with the hub stopped, under an offline banner; the dashboard shows it lost the hub', async () => {
    const dashboard = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await dashboard.goto(`${hub()}/`);
    await expect.poll(() => text(dashboard, '#hub-connection'), { timeout: 10_000 }).toMatch(/^Live/);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${cluster.store('south')}/`);
    await expect.poll(() => text(page, '#store-id'), { timeout: 10_000 }).toBe('south');
    await page.getByRole('textbox', { name: 'SKU' }).fill('MUG-BLUE');
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => text(page, '#fig-rights'), { timeout: 10_000 }).toMatch(/^\d+$/);
    expect(await page.locator('#offline-banner').isHidden()).toBe(true);

    await cluster.stopHub();
    const banner = page.locator('#offline-banner');
    await expect
      .poll(() => text(page, '#offline-banner'), { timeout: 15_000 })
      .toMatch(/^Offline: selling from local quota, \d+ units? of MUG-BLUE left\.$/);
    await expect.poll(() => text(dashboard, '#hub-connection'), { timeout: 15_000 }).not.toMatch(/^Live/);

    const before = Number(await text(page, '#fig-rights'));
    expect(before).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Sell' }).click();
    await expect.poll(() => text(page, '#result'), { timeout: 10_000 }).toMatch(/^Sold 1 of MUG-BLUE\./);
    await expect.poll(() => text(page, '#fig-rights')).toBe(String(before - 1));
    expect(await banner.textContent()).toContain(`${before - 1} unit`);
    await page.screenshot({ path: join(RESULTS, 'console-offline.png'), fullPage: true });
    await dashboard.screenshot({ path: join(RESULTS, 'dashboard-hub-down.png') });
    await page.close();
    await dashboard.close();
  });
});
