// posewasm.js: loads the Go WebAssembly pose network (cmd/posewasm) with
// its SIMD128 GEMM module and resolves to the global `bsampose` API.
//
//   import { loadPoseWasm } from './posewasm.js';   // or globalThis.loadPoseWasm
//   const api = await loadPoseWasm({ wasmURL, simdURL, execURL });
//   const info = await api.load(new Uint8Array(await (await fetch('model.bin')).arrayBuffer()));
//   // info: {names, skeleton, flip_pairs, input_w, input_h, preset, joints, simd, kernel,
//   //        decode_ms, pack_ms, warmup_ms}  (the phases of load in ms; warmup_ms is 0:
//   //        load runs no forward pass, the first prediction is the warm-up)
//   const r = await api.predict(imageData.data, imageData.width, imageData.height, [x, y, w, h]);
//   // r: {keypoints: [{name, x, y, score}], ms, kernel}; optional 5th argument {flip: true}
//   const b = await api.bench(50);   // {median_ms, min_ms, mean_ms, iterations, kernel}
//
// The loader compiles the Go module while it downloads (compileStreaming),
// fetches, compiles and warms up the SIMD kernel, and loads wasm_exec.js
// (unless the page already ran it), all at once; performance marks
// posewasm:go_compiled, :simd_compiled, :exec, :simd_ready and :go_started
// record the phases.
//
// Options: wasmURL (default 'posewasm.wasm'), simdURL ('posewasm-simd.wasm'),
// relaxedURL ('posewasm-simd-relaxed.wasm': the same kernels with relaxed-
// SIMD FMA, used when WebAssembly.validate accepts it; a missing file is
// fine), execURL ('wasm_exec.js', must come from the Go that built the
// wasm), simd (default true; false forces the portable Go kernel),
// relaxed (default true; false keeps plain SIMD128), and, instead of
// URLs, wasmBytes / simdBytes / relaxedBytes (ArrayBuffer or Uint8Array).
//
// The Go module imports bsampose_simd.sgemm, .im2col and .available
// (//go:wasmimport). They must exist when Go is instantiated, before the
// SIMD module can be: it imports Go's memory (exports.mem). So Go gets
// trampolines that call into the SIMD instance created right after;
// available() tells Go what exists: 0 (SIMD unsupported: Go keeps its
// portable kernel), 1 (SIMD128), 2 (relaxed SIMD).

let loading = null;

export function loadPoseWasm(opts = {}) {
  if (!loading) {
    loading = load(opts).catch((e) => { loading = null; throw e; });
  }
  return loading;
}
globalThis.loadPoseWasm = loadPoseWasm;

async function load(opts) {
  const wasmURL = opts.wasmURL || 'posewasm.wasm';
  const simdURL = opts.simdURL || 'posewasm-simd.wasm';
  const relaxedURL = opts.relaxedURL || 'posewasm-simd-relaxed.wasm';
  const execURL = opts.execURL || 'wasm_exec.js';
  // Three independent chains run at once: compiling Go while it downloads
  // (streaming), fetching, compiling and warming up the SIMD kernel, and
  // loading wasm_exec.js (already run when the page has it as a script).
  const goModule = compileGo(opts.wasmBytes, wasmURL).then((m) => { mark('go_compiled'); return m; });
  const simdModule = opts.simd === false ? Promise.resolve([null, 0])
    : compileSIMD(opts, simdURL, relaxedURL).then((x) => { mark('simd_compiled'); return x; });
  const exec = typeof globalThis.Go === 'function' ? Promise.resolve() : loadScript(execURL);
  await exec;
  mark('exec');
  const go = new globalThis.Go();
  let simd = null;
  let level = 0;
  go.importObject.bsampose_simd = {
    sgemm: (m, n, k, a, b, ldb, c, ldc, bias, relu, scratch) => simd.sgemm(m, n, k, a, b, ldb, c, ldc, bias, relu, scratch),
    im2col: (x, col, inC, inH, inW, k, s, pad, oh, ow) => simd.im2col(x, col, inC, inH, inW, k, s, pad, oh, ow),
    available: () => level,
  };
  const inst = await WebAssembly.instantiate(await goModule, go.importObject);
  const [mod, lv] = await simdModule;
  if (mod) {
    simd = (await WebAssembly.instantiate(mod, { env: { memory: inst.exports.mem } })).exports;
    level = lv;
  }
  mark('simd_ready');
  const ready = new Promise((resolve) => { globalThis.__bsamposeReady = resolve; });
  const exited = go.run(inst).then(() => { throw new Error('posewasm: Go program exited'); });
  const api = await Promise.race([ready, exited]);
  exited.catch((e) => console.error(e)); // a later exit is logged, not unhandled
  delete globalThis.__bsamposeReady;
  mark('go_started');
  api.simdLevel = level; // 0 none, 1 SIMD128, 2 relaxed SIMD
  return api;
}

// compileSIMD resolves to [module, level] for the best kernel this engine
// validates (2 relaxed SIMD, 1 SIMD128), warmed up, or [null, 0].
async function compileSIMD(opts, simdURL, relaxedURL) {
  const simdBytes = bytes(opts.simdBytes, simdURL).catch((e) => { console.warn('posewasm: no SIMD module:', e); return null; });
  const relaxedBytes = opts.relaxed === false ? Promise.resolve(null)
    : bytes(opts.relaxedBytes, relaxedURL).catch(() => null);
  for (const [b, lv] of [[await relaxedBytes, 2], [await simdBytes, 1]]) {
    if (b && WebAssembly.validate(b)) {
      const mod = await WebAssembly.compile(b);
      warmUp(mod);
      return [mod, lv];
    }
  }
  return [null, 0];
}

// mark records a loading phase (performance.mark, 'posewasm:' + name).
function mark(name) {
  if (globalThis.performance && performance.mark) performance.mark('posewasm:' + name);
}

// warmUp runs the SIMD kernels a few times on a throwaway instance with its
// own memory: the engine compiles a module's functions with its baseline
// compiler first and optimises them once they are hot, and the optimised
// code is shared by every instance of the module, so the first real
// prediction already gets it (V8: Liftoff, then TurboFan).
function warmUp(mod) {
  const w = new WebAssembly.Instance(mod, { env: { memory: new WebAssembly.Memory({ initial: 3 }) } }).exports;
  // a: 4x2048 at 1024, b: 2048x8 after it, c: 4x8, then the 2048x8 scratch
  const a = 1024, b = a + 32768, c = b + 65536, scratch = c + 256;
  for (let i = 0; i < 16; i++) {
    w.sgemm(4, 8, 2048, a, b, 8, c, 8, 0, 1, scratch);
    w.im2col(1024, 8192, 1, 32, 32, 3, 1, 1, 32, 32);
  }
}

async function bytes(given, url) {
  if (given) return given instanceof Uint8Array ? given : new Uint8Array(given);
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`posewasm: fetch ${url}: ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

// compileGo compiles the Go module, streaming (while it downloads) when
// the server sends application/wasm.
async function compileGo(given, url) {
  if (!given && WebAssembly.compileStreaming) {
    try {
      return await WebAssembly.compileStreaming(fetch(url));
    } catch (e) {
      // wrong MIME type or no streaming: fall back to bytes below
    }
  }
  return WebAssembly.compile(await bytes(given, url));
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`posewasm: cannot load ${src}`));
    document.head.appendChild(s);
  });
}
