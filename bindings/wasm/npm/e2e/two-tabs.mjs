// End-to-end: two tabs of the demo page in Debian's Chromium (playwright-core) edit the
// same checklist; one goes offline (its transport paused), both keep editing, it comes
// back, and both converge to the same document. Then, with B offline again, A grows the
// document past 1 MB; B comes back and is caught up (transfers of any size). Leaves a
// screenshot of each tab.
//
// usage: node two-tabs.mjs <demo URL> <screenshot.png>
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node two-tabs.mjs <demo URL> <screenshot.png>');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
  ],
});

const started = Date.now();
const step = (what) => console.log(`    [${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

try {
  // One context: one browser profile, where BroadcastChannel connects the tabs.
  const context = await browser.newContext({ viewport: { width: 720, height: 640 } });
  const [a, b] = [await context.newPage(), await context.newPage()];
  for (const page of [a, b]) {
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.starlingReady === true);
  }
  step('two tabs loaded');

  const add = async (page, name) => {
    await page.fill('#new-item', name);
    await page.click('#add');
  };
  const item = (page, name) => page.locator(`li[data-item="${name}"]`);
  const digest = (page) => page.evaluate(() => window.starling.digest());
  // Whether both tabs hold the same document within `ms`.
  const converge = async (ms) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await digest(a)) === (await digest(b))) {
        return true;
      }
      await a.waitForTimeout(100);
    }
    return false;
  };
  const state = (page) => page.evaluate(() => window.starling.replica.toJSON());

  await add(a, 'milk');
  await item(b, 'milk').waitFor({ timeout: 10_000 });
  step('an item added in tab A shows in tab B');

  await b.check('#offline');
  step('tab B offline');
  await add(a, 'eggs');
  await item(a, 'milk').locator('input[type=checkbox]').check();
  await item(a, 'milk').locator('.vote').click();
  await add(b, 'bread');
  await item(b, 'milk').locator('.vote').click();
  await item(b, 'milk').locator('.vote').click();
  await item(b, 'milk').locator('.remove').click();
  await add(a, 'milk'); // A adds "milk" again, concurrently with B's remove
  await a.waitForTimeout(1_000);
  const [sa, sb] = [await state(a), await state(b)];
  assert.deepEqual(sa.sets.items, ['eggs', 'milk'], 'A has not seen B\'s offline edits');
  assert.deepEqual(sb.sets.items, ['bread'], 'B has not seen A\'s edits');
  step('both tabs edited while B was offline; they differ');

  await b.uncheck('#offline');
  assert.ok(await converge(20_000), 'the tabs converge after B comes back');
  const final = await state(a);
  assert.deepEqual(final, await state(b));
  // Add wins over a concurrent remove: A's second add keeps "milk" in the list.
  assert.deepEqual(final.sets.items, ['bread', 'eggs', 'milk']);
  assert.equal(final.counters['votes:milk'], 3, 'votes from both tabs add up');
  assert.equal(final.flags['done:milk'], true);
  step(`converged: ${JSON.stringify(final.sets.items)}, votes:milk = ${final.counters['votes:milk']}`);

  // A 1 MB document: tab A writes 16 registers of 64 KiB while B is offline; back online,
  // B is caught up through a transfer of many chunks (documents were capped at 16,320 B).
  await b.check('#offline');
  await a.evaluate(() => {
    for (let i = 0; i < 16; i++) {
      window.starling.replica.register(`blob${i}`).set('x'.repeat(65_536) + i);
    }
  });
  const size = await a.evaluate(() => window.starling.replica.save().length);
  assert.ok(size >= 1_000_000, `tab A's document is ${size} bytes`);
  step(`tab A wrote a ${size}-byte document while B was offline`);
  const back = Date.now();
  await b.uncheck('#offline');
  assert.ok(await converge(60_000), 'tab B catches up to the 1 MB document');
  const blob = await b.evaluate(() => window.starling.replica.register('blob15').get());
  assert.equal(blob.length, 65_538);
  step(`tab B caught up to ${size} bytes in ${((Date.now() - back) / 1000).toFixed(1)} s`);

  await a.screenshot({ path: screenshot, fullPage: true });
  await b.screenshot({ path: screenshot.replace(/\.png$/, '-tab-b.png'), fullPage: true });
  step(`screenshots: ${screenshot} (tab A), ${screenshot.replace(/\.png$/, '-tab-b.png')} (tab B)`);
} finally {
  await browser.close();
}
