// Front-end-only browser tests against the mock server (e2e/mock-server.mjs): behaviour that
// does not depend on the Rust server's data, such as virtual scrolling over 10 million rows,
// keyboard navigation and markup in packet data. The workflow on real captures is ui.test.mjs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, HOSTILE } from './mock-server.mjs';
import { NO_BROWSER, launch, shot, counts, menu } from './helpers.mjs';

if (NO_BROWSER) console.log(`mock.test.mjs skipped: ${NO_BROWSER}`);

/** @type {Awaited<ReturnType<typeof startMock>>} */
let mock;
/** @type {Awaited<ReturnType<typeof launch>>} */
let b;
/** @type {import('playwright-core').Page} */
let page;

describe('front end on the mock server', { skip: NO_BROWSER ?? false, timeout: 180_000 }, () => {
  before(async () => {
    mock = await startMock({ files: ['big.pcap', 'zeek-get-gzip.pcap', 'hostile.pcap'], quiet: true });
    b = await launch();
    page = b.page;
    await page.goto(mock.url);
    await page.waitForSelector('.ctab');
  });
  after(async () => {
    await b?.browser.close();
    await mock?.close();
  });

  it('grows the list while indexing and keeps only the visible rows in the DOM', async () => {
    // big.pcap is indexed over ~4 s: the list must grow before it is done.
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.list.total > 0);
    const early = await page.evaluate(() => /** @type {any} */ (window).wiresift.list.total);
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.current?.status?.done === true, null, { timeout: 30_000 });
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.list.total === 10_000_000);
    assert.ok(early < 10_000_000, `rows appeared before the end of indexing (first total ${early})`);
    const dom = await page.locator('.plist-row:not(.plist-headrow)').count();
    assert.ok(dom < 100, `DOM rows ${dom}`);
    const spacer = await page.evaluate(() => parseFloat(/** @type {HTMLElement} */ (document.querySelector('.plist-spacer')).style.height));
    assert.ok(spacer <= 8_000_000, `spacer height ${spacer}`);
    await page.locator('.plist-view').focus();
    await page.keyboard.press('End');
    await page.waitForSelector('.plist-row.selected .c-no:text-is("10000000")');
    await page.keyboard.press('PageUp');
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.list.selFrame != null && /** @type {any} */ (window).wiresift.list.selFrame < 10_000_000);
    // Go to a packet in the middle: the scaled scroll position must show it.
    await page.keyboard.press('Control+g');
    await page.keyboard.type('777777');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.plist-row.selected .c-no:text-is("777777")');
    const box = await page.locator('.plist-row.selected').boundingBox();
    const view = await page.locator('.plist-view').boundingBox();
    assert.ok(box && view && box.y >= view.y && box.y + box.height <= view.y + view.height + 1, 'selected row is in view');
    // The tab's JavaScript heap after scrolling through 10 million rows: only what is on
    // screen (and a few cached pages) is held.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = /** @type {{usedSize: number}} */ (await cdp.send('Runtime.getHeapUsage'));
    console.log(`JS heap after scrolling 10M rows: ${(usedSize / 1048576).toFixed(1)} MiB`);
    assert.ok(usedSize < 100 * 1024 * 1024, `JS heap ${usedSize} bytes`);
    await shot(page, 'mock-01-big-list');
  });

  it('switches the time format from the View menu with the keyboard', async () => {
    await page.locator('.ctab', { hasText: 'zeek-get-gzip.pcap' }).click();
    await page.waitForSelector('.plist-row[data-pos="0"] .c-time:text-matches("^\\\\d\\\\d:")');
    await page.keyboard.press('Alt+V');
    await page.keyboard.press('Enter'); // Time Display Format ▸
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown'); // Seconds Since Beginning of Capture
    await page.keyboard.press('Enter');
    await page.waitForSelector('.plist-row[data-pos="0"] .c-time:text-is("0.000000")');
    await page.keyboard.press('Control+Alt+2'); // back to time of day
    await page.waitForSelector('.plist-row[data-pos="0"] .c-time:text-matches("^\\\\d\\\\d:")');
  });

  it('marks packets like Wireshark (black rows) and counts them', async () => {
    await page.locator('.plist-row[data-pos="2"]').click();
    await page.keyboard.press('Control+m');
    await page.waitForSelector('.plist-row[data-pos="2"].marked');
    assert.match(await counts(page), /Marked: 1/);
    await page.locator('.plist-row[data-pos="4"]').click();
    const bg = await page.locator('.plist-row[data-pos="2"]').evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(bg, 'rgb(0, 0, 0)');
    await page.keyboard.press('Control+m');
    await page.waitForFunction(() => document.querySelector('#sb-counts')?.textContent?.includes('Marked: 2'));
    await shot(page, 'mock-02-marked');
    await menu(page, ['Edit', 'Unmark All Displayed']);
    await page.waitForFunction(() => document.querySelector('#sb-counts')?.textContent?.includes('Marked: 0'));
  });

  it('completes field names and keeps history and saved buttons', async () => {
    await page.keyboard.press('Control+/');
    await page.keyboard.type('http.re');
    await page.waitForSelector('.completions:not(.hidden) .comp-item');
    await shot(page, 'mock-03-completion');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    assert.equal(await page.inputValue('#filter-input'), 'http.request');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.current.filter === 'http.request');
    await page.click('.fb-save');
    await page.keyboard.press('Control+a');
    await page.keyboard.type('Requests');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.fb-saved-btn:text-is("Requests")');
    await page.click('.fb-clear');
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.current.filter === '');
    await page.click('.fb-saved-btn:text-is("Requests")');
    await page.waitForFunction(() => /** @type {any} */ (window).wiresift.current.filter === 'http.request');
    await page.click('.fb-history');
    await page.waitForSelector('.menu .menu-label:text-is("http.request")');
    await page.keyboard.press('Escape');
    await page.click('.fb-clear');
  });

  it('shows markup from packets as text and runs none of it', async () => {
    await page.locator('.ctab', { hasText: 'hostile.pcap' }).click();
    await page.waitForSelector('.plist-row[data-pos="0"]');
    await page.locator('.plist-row[data-pos="0"]').click();
    await page.waitForSelector('.tn-row');
    const info = await page.locator('.plist-row[data-pos="0"] .c-info').textContent();
    assert.ok(info?.includes(HOSTILE), 'markup shown literally in the list');
    assert.equal(await page.locator('#list-pane img, #detail-pane img, #detail-pane script, #list-pane script').count(), 0);
    await page.keyboard.press('Control+Alt+Shift+T');
    await page.waitForSelector('dialog.follow .c2s');
    const text = await page.locator('dialog.follow .follow-text').textContent();
    assert.ok(text?.includes('<script>window.__pwned=1</script>'));
    await page.keyboard.press('Escape');
    await menu(page, ['File', 'Export Objects', 'HTTP…']);
    await page.waitForSelector('dialog.objects tbody tr');
    await page.locator('dialog.objects tbody tr').first().click();
    await page.waitForSelector('dialog.objects .preview-text');
    assert.ok((await page.locator('dialog.objects .preview-text').textContent())?.includes('<script>'));
    await shot(page, 'mock-04-hostile-objects');
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).__pwned), undefined);
    assert.deepEqual(b.dialogs, []);
    assert.equal(await page.locator('dialog.objects img, .follow-text img').count(), 0);
  });

  it('resizes the panes by dragging a splitter', async () => {
    const before = await page.locator('#list-pane').boundingBox();
    const sp = await page.locator('#split1').boundingBox();
    assert.ok(before && sp);
    await page.mouse.move(sp.x + 200, sp.y + 2);
    await page.mouse.down();
    await page.mouse.move(sp.x + 200, sp.y + 62, { steps: 4 });
    await page.mouse.up();
    const after = await page.locator('#list-pane').boundingBox();
    assert.ok(after && Math.abs(after.height - before.height - 60) <= 2, `list pane ${before.height} → ${after?.height}`);
  });

  it('raised no page errors', () => {
    assert.deepEqual(b.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  });
});
