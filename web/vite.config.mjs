// Vite build of the browser page (web/ → dist/web/). Everything the page loads — its code, both
// onnxruntime-web builds and their .wasm files — is emitted here and served from the page's origin
// (no CDN). Each text asset also gets .br and .gz siblings so `trainfer ui` can serve them compressed.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));
const COMPRESSIBLE = /\.(js|mjs|css|html|wasm|svg|json)$/;

/** Writes `<file>.br` (quality 6: 0.7 s for the 14 MB wasm, within 3% of quality 9) and `<file>.gz`. */
function precompress() {
  return {
    name: 'trainfer-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
      for (const file of walk(outDir)) {
        if (!COMPRESSIBLE.test(file) || statSync(file).size < 1024) continue;
        const data = readFileSync(file);
        writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 6 }));
      }
    },
  };
}

// Vite reads its configuration from the default export; the one default export in the project.
// eslint-disable-next-line no-restricted-syntax
export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // onnxruntime-web's code is minified already; its .wasm files are large by nature.
    chunkSizeWarningLimit: 1024,
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  plugins: [precompress()],
});
