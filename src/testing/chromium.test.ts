import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkipReason, launchChromium } from './chromium.js';

test('headless Chromium renders a page and runs its script', { skip: browserSkipReason() }, async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent('<p id="x"></p><script>document.getElementById("x").textContent = String(6 * 7)</script>');
    assert.equal(await page.textContent('#x'), '42');
  } finally {
    await browser.close();
  }
});
