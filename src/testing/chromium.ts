/**
 * Test helper (not part of the public API or the npm package): launches headless Chromium through
 * playwright-core. The browser is the system one (Debian's `chromium`, which `.ci/run` installs);
 * `npx playwright install` cannot download browsers here. Flags keep Chromium off the network.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Path of a Chromium/Chrome executable: `TRAINFER_CHROMIUM`, or the first system one found. */
export function chromiumPath(): string | undefined {
  const env = process.env.TRAINFER_CHROMIUM;
  if (env) return env;
  return CANDIDATES.find((p) => existsSync(p));
}

/**
 * Why browser tests cannot run here, or `false` when they can. In CI (`CI` set) a missing browser is a
 * failure, never a skip: the tests must not pass by not running.
 */
export function browserSkipReason(): string | false {
  if (chromiumPath()) return false;
  if (process.env.CI) throw new Error('CI is set but no Chromium was found (apt-get install chromium, or set TRAINFER_CHROMIUM)');
  return 'no Chromium found (apt-get install chromium, or set TRAINFER_CHROMIUM)';
}

/** Launches headless Chromium with networking to other hosts disabled. */
export async function launchChromium(options: { args?: string[] } = {}): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium found (apt-get install chromium, or set TRAINFER_CHROMIUM)');
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.args ?? []),
    ],
  });
}
