/**
 * The in-browser benchmark, driven from Node: serve a models directory with `startUiServer`, open the
 * page in headless Chromium (playwright-core driving a system Chromium), call the page's
 * `window.trainfer.benchmark()` and return its p50/p99/throughput per model, plus the page's download
 * size and every request the page made (all must go to the page's own origin). This is what
 * `trainfer ui --bench` runs, and what `trainfer bench --browser` plugs in.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { TrainferError, oneLine } from '../util/errors.js';
import type { BrowserBenchReport, PageBenchOptions, PageState } from './page-api.js';
import { startUiServer } from './ui-server.js';

/** Options for `runBrowserBenchmark`. */
export interface BrowserBenchOptions {
  modelsDir: string;
  /** Timed inferences per model (default 200). */
  iterations?: number;
  /** Untimed runs per model first (default 10). */
  warmup?: number;
  /** Only these model names (as the page lists them; default every model the page runs). */
  models?: string[];
  /** WASM threads (default: the page's choice, up to 4 when cross-origin isolated). */
  threads?: number;
  /** Force a backend (default: WebGPU when the browser has an adapter, else WASM). */
  backend?: 'wasm' | 'webgpu';
  /** Chromium executable (default `TRAINFER_CHROMIUM` or a system Chromium/Chrome). */
  executablePath?: string;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
}

/** What the page downloaded, from its Resource Timing entries. */
export interface PageDownload {
  /** Bytes over the wire (compressed, headers included), everything the page fetched. */
  transferredBytes: number;
  /** Bytes after decompression. */
  decodedBytes: number;
  /** Of those, the `.onnx` models. */
  modelBytes: number;
  requests: number;
}

/**
 * `runBrowserBenchmark`'s result: the page's report (backend, per-model `BrowserModelBench` with
 * `p50Ms`, `p99Ms`, `throughputPerS`, `bytes`, …) plus the browser, the download and the network log.
 */
export interface BrowserBenchResult extends BrowserBenchReport {
  browserVersion: string;
  /** From navigation to every model loaded, ms. */
  pageReadyMs: number;
  download: PageDownload;
  /** Requests to any origin other than the page's (must be empty: no CDN). */
  foreignRequests: string[];
  consoleErrors: string[];
}

/** Options for `openPage`. */
export interface OpenPageOptions {
  page: Page;
  url: string;
  timeoutMs?: number;
}

/** Page events collected while it runs. */
export interface PageLog {
  requests: string[];
  foreignRequests: string[];
  consoleErrors: string[];
}

/**
 * Navigates `page` to the UI and waits until every model is loaded (or failed); records every request
 * and console error from the first byte on.
 */
export async function openPage(o: OpenPageOptions): Promise<{ state: PageState; log: PageLog; readyMs: number }> {
  const origin = new URL(o.url).origin;
  const log: PageLog = { requests: [], foreignRequests: [], consoleErrors: [] };
  o.page.on('request', (r) => {
    const u = r.url();
    log.requests.push(u);
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) log.foreignRequests.push(u);
  });
  o.page.on('console', (m) => {
    if (m.type() === 'error') log.consoleErrors.push(m.text());
  });
  o.page.on('pageerror', (e) => log.consoleErrors.push(String(e)));
  const t0 = performance.now();
  await o.page.goto(o.url, { timeout: o.timeoutMs ?? 120_000 });
  // Expressions as strings: they run in the page, whose globals Node's type-check does not know.
  await o.page.waitForFunction('window.trainfer?.state().ready === true || window.trainfer?.state().errors.length > 0', undefined, { timeout: o.timeoutMs ?? 120_000 });
  const readyMs = performance.now() - t0;
  const state = await o.page.evaluate<PageState>('window.trainfer.state()');
  return { state, log, readyMs };
}

/** The page's downloads so far, from its Resource Timing entries (everything is same-origin, so sizes are exposed). */
export async function pageDownload(page: Page): Promise<PageDownload> {
  return page.evaluate<PageDownload>(`(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const d = { transferredBytes: 0, decodedBytes: 0, modelBytes: 0, requests: entries.length };
    for (const e of entries) {
      d.transferredBytes += e.transferSize;
      d.decodedBytes += e.decodedBodySize;
      if (e.name.endsWith('.onnx')) d.modelBytes += e.decodedBodySize;
    }
    return d;
  })()`);
}

/** Options for `benchFilesInBrowser`: `runBrowserBenchmark`'s, with model files instead of a directory. */
export interface BenchFilesOptions extends Omit<BrowserBenchOptions, 'modelsDir' | 'models'> {
  /** `.onnx` files (a text model's `tokenizer.json` beside it comes along); names must differ. */
  files: string[];
}

/**
 * The in-browser benchmark of particular model files (what `trainfer bench --browser <model.onnx>`
 * needs): links them into a temporary directory, so the page loads only these, and benchmarks that.
 * Models are named by file name without `.onnx` (a text model by its directory's name).
 */
export async function benchFilesInBrowser(o: BenchFilesOptions): Promise<BrowserBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-browser-bench-'));
  try {
    for (const file of o.files) {
      if (!existsSync(file)) throw new TrainferError(`${file}: no such file`);
      const isText = basename(file).toLowerCase() === 'model.onnx' && existsSync(join(dirname(file), 'tokenizer.json'));
      const target = isText ? join(dir, basename(dirname(resolve(file)))) : dir;
      mkdirSync(target, { recursive: true });
      const dest = join(target, isText ? 'model.onnx' : basename(file));
      if (existsSync(dest)) throw new TrainferError(`${file}: two models named ${basename(dest)}`);
      symlinkSync(resolve(file), dest);
      if (isText) symlinkSync(resolve(dirname(file), 'tokenizer.json'), join(target, 'tokenizer.json'));
    }
    return await runBrowserBenchmark({ ...o, modelsDir: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the in-browser benchmark on every model of `o.modelsDir` the page can run. */
export async function runBrowserBenchmark(o: BrowserBenchOptions): Promise<BrowserBenchResult> {
  const server = await startUiServer({ modelsDir: o.modelsDir, port: 0 });
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser(o.executablePath);
    const page = await browser.newPage();
    const params = new URLSearchParams();
    if (o.backend) params.set('backend', o.backend);
    if (o.threads) params.set('threads', String(o.threads));
    const url = `${server.url}${params.size ? `?${params}` : ''}`;
    const { state, log, readyMs } = await openPage({ page, url, timeoutMs: o.timeoutMs });
    if (state.errors.length) throw new TrainferError(`the page failed: ${state.errors[0]}`);
    if (!state.models.some((m) => m.status === 'loaded')) throw new TrainferError(`--models ${o.modelsDir}: no model the page can run (digit classifiers over 28×28 pixels, text classifiers with tokenizer.json)`);
    const opts: PageBenchOptions = { iterations: o.iterations, warmup: o.warmup, models: o.models };
    const report = await page.evaluate<BrowserBenchReport>(`window.trainfer.benchmark(${JSON.stringify(opts)})`);
    return { ...report, browserVersion: browser.version(), pageReadyMs: readyMs, download: await pageDownload(page), foreignRequests: log.foreignRequests, consoleErrors: log.consoleErrors };
  } finally {
    await browser?.close();
    await server.close();
  }
}

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Headless Chromium through playwright-core, kept off the network (the flags that stop its background traffic). */
async function launchBrowser(executablePath?: string): Promise<Browser> {
  const path = executablePath ?? process.env.TRAINFER_CHROMIUM ?? CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (!path) throw new TrainferError('no Chromium found for the browser benchmark (apt-get install chromium, or set TRAINFER_CHROMIUM)');
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    throw new TrainferError(`the browser benchmark needs playwright-core (npm install playwright-core): ${oneLine(err)}`, { cause: err });
  }
  return chromium.launch({
    executablePath: path,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
