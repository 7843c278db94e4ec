/**
 * Takes the README's picture of the dashboard from a running hub (the demo, after a
 * minute or two of traffic, shows every panel with data):
 *
 *   npm run demo                      # in another terminal
 *   npx tsx scripts/screenshot.ts --url http://127.0.0.1:8080/ --sku MUG-BLUE --out docs/images/dashboard.png
 *
 * Uses Debian's Chromium (SHELFSYNC_CHROMIUM to point elsewhere), like the browser tests.
 */
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080/' },
    sku: { type: 'string', default: 'MUG-BLUE' },
    out: { type: 'string', default: 'docs/images/dashboard.png' },
    width: { type: 'string', default: '1280' },
  },
});

const browser = await chromium.launch({
  executablePath: process.env.SHELFSYNC_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: Number(values.width), height: 900 } });
  await page.goto(`${values.url}#sku=${encodeURIComponent(values.sku)}`);
  await page.locator('#hub-connection.pill-ok').waitFor({ timeout: 15_000 });
  await page.locator('#detail-bars li').first().waitFor({ timeout: 15_000 });
  await page.locator('#chain-totals').filter({ hasText: 'Last 5 min' }).waitFor({ timeout: 15_000 });
  // Let the live events draw a few steps of the sparklines.
  await page.waitForTimeout(8_000);
  await page.screenshot({ path: values.out, fullPage: true });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
}
