// Screenshot of a lab report for the docs: opens report.html in headless Chromium (playwright-core,
// the system chromium), waits until every chart is drawn, and saves the top of the page as a PNG.
// Usage: node scripts/report-screenshot.mjs <report.html> <out.png> [height]
import { launchChromium } from '../dist/src/testing/chromium.js';

const [html, out, height = '2300'] = process.argv.slice(2);
if (!html || !out) {
  console.error('usage: node scripts/report-screenshot.mjs <report.html> <out.png> [height]');
  process.exit(1);
}
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1150, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`file://${html.startsWith('/') ? html : `${process.cwd()}/${html}`}`);
  await page.waitForSelector('body[data-charts-done="true"]', { timeout: 30000 });
  await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 1150, height: Number(height) } });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
