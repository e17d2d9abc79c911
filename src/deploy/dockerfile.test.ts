// The Dockerfile, checked without a Docker engine (none runs on these machines): it lints clean
// (dockerfile-utils), its stages, user, health check, port, volume and command are what the manifests
// and `trainfer serve` expect, every file it COPYs from the context exists and is not .dockerignored,
// and the runtime stage — exactly what `npm pack` publishes plus production dependencies — starts the
// server and passes the image's own HEALTHCHECK command, run here from a copy of the packed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { addToRepository, mnistMlp } from '../serve/example-models.js';
import { IMAGE, SERVE, serveArgs } from './serve-contract.js';

let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json'))) root = dirname(root);
const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; files: string[] };

interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}

/** The stages, with `ARG` defaults declared before the first FROM substituted into their images. */
function stages(): Stage[] {
  const args = new Map<string, string>();
  for (const a of dockerfile.getInitialARGs()) {
    const p = a.getProperty();
    if (p?.getName()) args.set(p.getName(), p.getValue() ?? '');
  }
  const out: Stage[] = [];
  for (const ins of dockerfile.getInstructions()) {
    const kw = ins.getKeyword();
    if (kw === 'FROM') {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === ins.getRange().start.line)!;
      const image = (from.getImage() ?? '').replace(/\$\{?(\w+)\}?/g, (_, v: string) => args.get(v) ?? '');
      out.push({ name: from.getBuildStage(), image, instructions: [] });
    } else if (out.length > 0) {
      out[out.length - 1]!.instructions.push(ins);
    }
  }
  return out;
}

const argv = (ins: Instruction) => ins.getArguments().map((a) => a.getValue());
/** The strings of an exec-form (JSON array) instruction. */
function execForm(ins: Instruction): string[] {
  const raw = ins.getRawArgumentsContent() ?? '';
  const json = raw.slice(raw.indexOf('['));
  return JSON.parse(json.replace(/\\\n/g, '')) as string[];
}

test('Dockerfile: lints clean and has build → deps → runtime stages on node:20-slim', () => {
  assert.deepEqual(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  const s = stages();
  assert.deepEqual(s.map((x) => x.name), ['build', 'deps', 'runtime']);
  const runtime = s.at(-1)!;
  assert.match(runtime.image, /^(node:20(\.\d+)*-slim|gcr\.io\/distroless\/nodejs20-debian\d+)(@sha256:[0-9a-f]{64})?$/);
  for (const st of s) assert.equal(st.image, runtime.image, `stage ${st.name} uses the same base`);
});

test('Dockerfile: the runtime stage runs trainfer serve as a non-root user with a volume, port and health check', () => {
  const runtime = stages().at(-1)!;
  const kws = runtime.instructions.map((i) => i.getKeyword());
  const one = (kw: string) => {
    const found = runtime.instructions.filter((i) => i.getKeyword() === kw);
    assert.equal(found.length, 1, `one ${kw} in the runtime stage`);
    return found[0]!;
  };
  const user = argv(one('USER'))[0]!;
  assert.ok(user === 'node' || user === String(IMAGE.uid), `USER ${user}: the manifests run as uid ${IMAGE.uid}`);
  assert.ok(kws.indexOf('USER') < kws.indexOf('ENTRYPOINT') && kws.indexOf('USER') < kws.indexOf('CMD'), 'USER before the process starts');
  assert.ok(!runtime.instructions.slice(kws.indexOf('USER') + 1).some((i) => i.getKeyword() === 'USER'), 'no later USER');
  assert.deepEqual(execForm(one('VOLUME')), [IMAGE.modelsPath]);
  assert.deepEqual(argv(one('EXPOSE')), [String(SERVE.defaultPort)]);
  const health = one('HEALTHCHECK').getRawArgumentsContent() ?? '';
  assert.ok(health.includes(SERVE.readyPath), 'HEALTHCHECK probes readiness');
  assert.deepEqual(execForm(one('ENTRYPOINT')), ['node', '/app/dist/src/cli/main.js']);
  assert.deepEqual(execForm(one('CMD')), serveArgs({ repository: IMAGE.modelsPath, port: SERVE.defaultPort }));
  assert.deepEqual(argv(one('WORKDIR')), ['/app']);
});

test('Dockerfile: production install from the lockfile with install scripts (the CUDA download) skipped', () => {
  const s = stages();
  for (const st of s) {
    for (const run of st.instructions.filter((i) => i.getKeyword() === 'RUN')) {
      const cmd = run.getRawArgumentsContent() ?? '';
      for (const m of cmd.matchAll(/npm (ci|install)\b[^&;]*/g)) {
        assert.equal(m[1], 'ci', `stage ${st.name}: npm ci (the lockfile), not npm install`);
        assert.match(m[0], /--ignore-scripts/, `stage ${st.name}: ${m[0]}`);
      }
    }
    const usesNpm = st.instructions.some((i) => i.getKeyword() === 'RUN' && /\bnpm\b/.test(i.getRawArgumentsContent() ?? ''));
    if (usesNpm) assert.ok(st.instructions.some((i) => i.getKeyword() === 'ENV' && /ONNXRUNTIME_NODE_INSTALL=skip/.test(i.getRawArgumentsContent() ?? '')), `stage ${st.name} sets ONNXRUNTIME_NODE_INSTALL=skip`);
  }
  const deps = s.find((x) => x.name === 'deps')!;
  assert.ok(deps.instructions.some((i) => /npm ci [^&]*--omit=dev/.test(i.getRawArgumentsContent() ?? '')), 'deps: npm ci --omit=dev');
  const runtime = s.at(-1)!;
  assert.ok(!runtime.instructions.some((i) => i.getKeyword() === 'RUN' && /\bnpm\b/.test(i.getRawArgumentsContent() ?? '')), 'no npm in the runtime stage');
});

test('Dockerfile: every COPY source exists in the repository, is not .dockerignored, and stages copy from earlier stages', () => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const s = stages();
  const seen: string[] = [];
  let fromContext = 0;
  for (const st of s) {
    for (const copy of dockerfile.getCOPYs().filter((c) => st.instructions.includes(c))) {
      const from = copy.getFromFlag()?.getValue();
      const args = argv(copy).filter((a) => !a.startsWith('--'));
      const sources = args.slice(0, -1);
      assert.ok(sources.length > 0, copy.toString());
      if (from) {
        assert.ok(seen.includes(from), `COPY --from=${from}: no earlier stage of that name`);
        continue;
      }
      for (const src of sources) {
        fromContext++;
        assert.ok(existsSync(join(root, src)), `COPY ${src}: not in the repository`);
        const top = normalize(src).split('/')[0]!;
        assert.ok(!ignored.includes(top) && !ignored.includes(normalize(src)), `COPY ${src}: excluded by .dockerignore`);
      }
    }
    seen.push(st.name ?? '');
  }
  assert.ok(fromContext >= 5);
  // the build stage copies what `npm pack` packs (package.json "files") and what tsc compiles
  const build = s.find((x) => x.name === 'build')!;
  const copied = new Set(dockerfile.getCOPYs().filter((c) => build.instructions.includes(c) && !c.getFromFlag()).flatMap((c) => argv(c).slice(0, -1)).map((p) => normalize(p)));
  for (const f of pkg.files.filter((x) => !x.startsWith('!') && !x.startsWith('dist/'))) assert.ok(copied.has(normalize(f)), `package.json files '${f}' is not copied into the build stage`);
  for (const f of ['src', 'tsconfig.json', 'package.json', 'package-lock.json']) assert.ok(copied.has(f), `build stage copies ${f}`);
  // the package ships the browser page (dist/web, `trainfer ui`): the build stage builds it from web/
  if (pkg.files.includes('dist/web')) {
    assert.ok(copied.has('web'), 'build stage copies web/');
    const runs = build.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getTextContent());
    assert.ok(runs.some((r) => r.includes('npm run build:web')), 'build stage runs npm run build:web');
  }
});

/** Relative files and bare packages that `entry` loads, transitively (static imports, dynamic imports, worker URLs). */
function importClosure(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    // code lines only: TSDoc examples in comments may mention imports that never run
    const src = readFileSync(join(root, file), 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l)).join('\n');
    const specs = [
      ...src.matchAll(/^(?:import|export)\s(?:[^'";]*?\sfrom\s)?\s*['"]([^'"]+)['"]/gm),
      ...src.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...src.matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]+\.js)['"]/g),
    ].map((m) => m[1]!);
    for (const spec of specs) {
      if (spec.startsWith('.')) queue.push(normalize(join(dirname(file), spec)));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

function packedFiles(): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

test('npm pack holds everything the runtime stage runs; its imports are production dependencies; the packed copy serves and passes the HEALTHCHECK', async (t) => {
  const packed = packedFiles();
  const entry = 'dist/src/cli/main.js';
  assert.ok(packed.includes(entry) && packed.includes('package.json'));
  const { files, packages } = importClosure([entry]);
  assert.ok(files.has('dist/src/runtime/pool-worker.js'), 'the worker entry is found through its URL');
  assert.ok(files.has('dist/src/deploy/k8s-plan.js') && files.has('dist/src/serve/server.js') && files.size > 80, `closure of ${files.size} files`);
  for (const f of files) assert.ok(packed.includes(f), `${f} is loaded by the CLI but not packed`);
  for (const p of packages) assert.ok(pkg.dependencies[p], `${p} is imported at run time but is not in "dependencies" (npm ci --omit=dev drops it)`);

  // the runtime stage, without Docker: the packed files alone (node_modules linked), serving a repository
  const dir = mkdtempSync(join(tmpdir(), 'trainfer-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = join(dir, 'app');
  for (const f of packed) {
    mkdirSync(dirname(join(app, f)), { recursive: true });
    copyFileSync(join(root, f), join(app, f));
  }
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
  const models = join(dir, 'models');
  addToRepository({ repo: models, name: 'mnist', model: mnistMlp({ seed: 4, hidden: [16] }), config: { instances: 1 } });
  const args = serveArgs({ repository: models, port: 0 }).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a));
  const child = spawn(process.execPath, [join(app, entry), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  t.after(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  const healthcheck = execForm(stages().at(-1)!.instructions.find((i) => i.getKeyword() === 'HEALTHCHECK')!);
  assert.equal(healthcheck[0], 'node');
  const port = new URL(url).port;
  const run = (p: string) => spawnSync(process.execPath, healthcheck.slice(1), { env: { ...process.env, TRAINFER_PORT: p }, timeout: 10_000 }).status;
  assert.equal(run(port), 0, 'HEALTHCHECK passes against the running server');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  assert.equal(run(port), 1, 'HEALTHCHECK fails once it is gone');
});
