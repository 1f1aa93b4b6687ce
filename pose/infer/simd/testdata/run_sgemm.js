// Runs the SIMD module's sgemm on the cases in a binary input file and
// writes the resulting C matrices (used by module_test.go).
// usage: node run_sgemm.js module.wasm input.bin output.bin
//
// input: int32 count, then per case int32 m, n, k, ldb, ldc, relu,
// hasBias, useScratch, lenA, lenB, lenBias, lenC, followed by float32 a,
// b, bias, c (c holds sentinels). With useScratch, sgemm gets a scratch
// area of 8*k floats (filled with garbage first), else 0 (b read in
// place). output: float32 c of every case, in order.
const fs = require('fs');
const [modPath, inPath, outPath] = process.argv.slice(2);
const buf = fs.readFileSync(inPath);
const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let off = 0;
const i32 = () => { const v = dv.getInt32(off, true); off += 4; return v; };
const mem = new WebAssembly.Memory({ initial: 1 });
const inst = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(modPath)), { env: { memory: mem } });
const outs = [];
const count = i32();
for (let t = 0; t < count; t++) {
  const [m, n, k, ldb, ldc, relu, hasBias, useScratch, la, lb, lbias, lc] = Array.from({ length: 12 }, i32);
  const need = 4096 + 4 * (la + lb + lbias + lc + 8 * k) + 4096;
  const pages = Math.ceil(need / 65536);
  if (mem.buffer.byteLength < pages * 65536) mem.grow(pages - mem.buffer.byteLength / 65536);
  let p = 1024; // a non-zero base, so that bias 0 means "none"
  const place = (len) => {
    const at = p;
    new Uint8Array(mem.buffer, at, 4 * len).set(new Uint8Array(buf.buffer, buf.byteOffset + off, 4 * len));
    off += 4 * len;
    p += 4 * len;
    return at;
  };
  const a = place(la), b = place(lb), bias = place(lbias), c = place(lc);
  const scratch = p;
  new Float32Array(mem.buffer, scratch, 8 * k).fill(-7.25);
  inst.exports.sgemm(m, n, k, a, b, ldb, c, ldc, hasBias ? bias : 0, relu, useScratch ? scratch : 0);
  outs.push(Buffer.from(new Uint8Array(mem.buffer, c, 4 * lc)));
}
fs.writeFileSync(outPath, Buffer.concat(outs));
