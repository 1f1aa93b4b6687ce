// Runs the module's im2col on the cases in a binary input file (used by
// module_test.go). usage: node run_im2col.js module.wasm input.bin output.bin
// input: int32 count, then per case int32 inC, inH, inW, k, s, pad, oh, ow,
// lenX, lenCol, followed by float32 x. output: float32 col of every case.
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
  const [inC, inH, inW, k, s, pad, oh, ow, lx, lcol] = Array.from({ length: 10 }, i32);
  const pages = Math.ceil((8192 + 4 * (lx + lcol)) / 65536);
  if (mem.buffer.byteLength < pages * 65536) mem.grow(pages - mem.buffer.byteLength / 65536);
  const x = 1024, col = x + 4 * lx + 64;
  new Uint8Array(mem.buffer, x, 4 * lx).set(new Uint8Array(buf.buffer, buf.byteOffset + off, 4 * lx));
  off += 4 * lx;
  new Float32Array(mem.buffer, col, lcol + 4).fill(12345.5); // sentinels, also past the end
  inst.exports.im2col(x, col, inC, inH, inW, k, s, pad, oh, ow);
  outs.push(Buffer.from(new Uint8Array(mem.buffer, col, 4 * (lcol + 4))));
}
fs.writeFileSync(outPath, Buffer.concat(outs));
