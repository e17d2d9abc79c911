// Vendors the OpenAPI v3 schemas of KServe's CRDs for the manifest tests (src/deploy/testdata).
// Usage: node scripts/vendor-kserve-crds.mjs <kserve checkout> <tag>
//   reads config/crd/full/serving.kserve.io_{servingruntimes,inferenceservices}.yaml at <tag> (git show)
//   and writes src/deploy/testdata/kserve-<plural>-<version>.schema.json.gz: { source, schema }.
// The schema is the CRD's spec.versions[].schema.openAPIV3Schema, unchanged.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';

const [checkout, tag] = process.argv.slice(2);
if (!checkout || !tag) {
  console.error('usage: node scripts/vendor-kserve-crds.mjs <kserve checkout> <tag>');
  process.exit(1);
}
const commit = execFileSync('git', ['-C', checkout, 'rev-parse', `${tag}^{commit}`], { encoding: 'utf8' }).trim();
for (const plural of ['servingruntimes', 'inferenceservices']) {
  const path = `config/crd/full/serving.kserve.io_${plural}.yaml`;
  const crd = parse(execFileSync('git', ['-C', checkout, 'show', `${commit}:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  for (const v of crd.spec.versions) {
    const out = `src/deploy/testdata/kserve-${plural}-${v.name}.schema.json.gz`;
    const source = `github.com/kserve/kserve ${tag} (${commit}) ${path}, spec.versions[name=${v.name}].schema.openAPIV3Schema`;
    const body = JSON.stringify({ source, group: crd.spec.group, kind: crd.spec.names.kind, version: v.name, schema: v.schema.openAPIV3Schema });
    writeFileSync(out, gzipSync(body, { level: 9 }));
    console.log(`${out}: ${body.length} bytes JSON, ${source}`);
  }
}
