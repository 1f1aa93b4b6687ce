// End-to-end check of the browser path under node: web/static/posewasm.js
// loads cmd/posewasm and the SIMD modules, then load + predict + bench.
// usage: node e2e.mjs config.json   (see wasm_test.go for the fields)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const file = (p) => (p ? readFileSync(p) : undefined);
createRequire(import.meta.url)(cfg.exec); // defines globalThis.Go
const { loadPoseWasm } = await import(pathToFileURL(cfg.loader).href);
const api = await loadPoseWasm({
  wasmBytes: file(cfg.wasm), simdBytes: file(cfg.simd), relaxedBytes: file(cfg.relaxed),
  simd: cfg.useSIMD, relaxed: cfg.useRelaxed,
});
const info = await api.load(new Uint8Array(readFileSync(cfg.model)));
const rgba = new Uint8ClampedArray(readFileSync(cfg.pixels));
let badArgs = '';
try {
  await api.predict(rgba, cfg.width, cfg.height, [1, 2, 3]);
} catch (e) {
  badArgs = e.message;
}
const r = await api.predict(rgba, cfg.width, cfg.height, cfg.box);
const b = await api.bench(cfg.benchIterations || 5);
process.stdout.write(JSON.stringify({ info, result: r, bench: b, simdLevel: api.simdLevel, badArgs }) + '\n');
process.exit(0);
