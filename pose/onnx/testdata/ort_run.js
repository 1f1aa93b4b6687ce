// Runs an ONNX model with onnxruntime-node (CPU) on float32 inputs.
// usage: node ort_run.js ORT_DIR MODEL IN_1.bin,N,C,H,W:OUT_1.bin [...]
// ORT_DIR holds node_modules/onnxruntime-node (or is that package itself).
// Each run reads a little-endian float32 NCHW input for "input", writes
// "output" as little-endian float32 to OUT and prints its dims as JSON.
'use strict';
const fs = require('fs');
const path = require('path');

const [ortDir, model, ...runs] = process.argv.slice(2);
let ort;
for (const p of [path.join(ortDir, 'node_modules', 'onnxruntime-node'), ortDir]) {
  try { ort = require(p); break; } catch (e) { if (p === ortDir) throw e; }
}

(async () => {
  const sess = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const dims = [];
  for (const r of runs) {
    const [spec, out] = r.split(':');
    const [file, ...shape] = spec.split(',');
    const buf = fs.readFileSync(file);
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const res = await sess.run({ input: new ort.Tensor('float32', x, shape.map(Number)) });
    const y = res.output;
    fs.writeFileSync(out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
    dims.push(y.dims);
  }
  console.log(JSON.stringify({ inputs: sess.inputNames, outputs: sess.outputNames, dims }));
})().catch((e) => { console.error(e); process.exit(1); });
