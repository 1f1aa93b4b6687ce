// The bsampose demo page (an ES module): loads the wasm network and its weights up front,
// then runs every prediction locally on an image file or the webcam.
//
// Query parameters (for tests and benchmarks):
//   ?image=/same/origin.jpg   run on this image once loaded (fetched and decoded meanwhile)
//   &box=x,y,w,h              person box for it (image pixels)
//   &bench=N                  then run N inferences and report into #bench
//   &minscore=S               joints below S are drawn as faint rings
//
// Test hooks: window.runOnURL(url, box) -> Promise<result>,
// window.runBench(n) -> Promise<report>, window.pageState() -> {...}. #status has data-state
// "loading" | "ready" | "busy" | "error"; #result holds the JSON of the
// last keypoints; #ms the last inference time.
import { loadPoseWasm } from './posewasm.js';

(() => {
  const $ = (id) => document.getElementById(id);
  const view = $('view');
  const vctx = view.getContext('2d');
  const work = document.createElement('canvas');
  const wctx = work.getContext('2d', { willReadFrequently: true });

  const st = {
    info: null, api: null, meta: null,
    src: null, w: 0, h: 0,      // current image (ImageBitmap or video) and size
    userBox: null,              // box drawn by the user, [x, y, w, h] image px
    autoBox: null,              // video: box from the previous frame's keypoints
    last: null,                 // last result {keypoints, ms, box}
    video: null, stream: null, loop: 0, frames: 0,
    busy: false, drag: null,
    firstResultAt: 0, readyAt: 0,
    marks: {}, // performance.now() when each loading phase ended
    minScore: 0.2,
  };

  function setStatus(text, state) {
    const s = $('status');
    s.textContent = text;
    s.dataset.state = state || 'ready';
  }

  function fail(err) {
    console.error(err);
    setStatus('error: ' + (err && err.message ? err.message : err), 'error');
  }

  const imageOpts = { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' };

  async function init() {
    setStatus('loading model info…', 'loading');
    // The server inlines /api/info into the page (and preloads the assets).
    const inline = document.getElementById('bsampose-info');
    if (inline) {
      st.info = JSON.parse(inline.textContent);
    } else {
      const res = await fetch('/api/info');
      if (!res.ok) throw new Error('/api/info: HTTP ' + res.status);
      st.info = await res.json();
    }
    const a = st.info.assets;
    const q = new URLSearchParams(location.search);
    // An ?image= is fetched and decoded while the wasm and weights load.
    const firstImage = q.get('image') ? loadBitmap(q.get('image')).catch((e) => e) : null;
    setStatus('loading wasm and weights…', 'loading');
    // Everything is fetched now, so the page works offline afterwards.
    st.marks.info = performance.now();
    const [api, model] = await Promise.all([
      loadPoseWasm({ wasmURL: a.wasm, simdURL: a.simd, relaxedURL: a.relaxed, execURL: a.exec })
        .then((x) => { st.marks.wasm = performance.now(); return x; }),
      fetch(a.model).then((r) => {
        if (!r.ok) throw new Error('model: HTTP ' + r.status);
        return r.arrayBuffer();
      }).then((x) => { st.marks.weights_fetched = performance.now(); return x; }),
    ]);
    st.api = api;
    st.meta = await api.load(new Uint8Array(model));
    st.readyAt = st.marks.weights_loaded = performance.now();
    const m = st.meta;
    $('model').textContent = `${st.info.preset || 'model'} · ${m.names.length} joints · input ${m.input_w}×${m.input_h} · ${m.kernel || (m.simd ? 'SIMD' : 'scalar')} · ${(sumGzip() / 1e6).toFixed(2)} MB gzip`;
    for (const id of ['camera', 'benchbtn', 'resetbox']) $(id).disabled = false;
    setStatus('ready: open an image or start the webcam', 'ready');
    drawEmpty();

    if (q.get('minscore') !== null && Number.isFinite(parseFloat(q.get('minscore')))) {
      st.minScore = parseFloat(q.get('minscore'));
      $('minscore').value = String(st.minScore);
      $('minscoreval').textContent = st.minScore.toFixed(2);
    }
    if (firstImage) {
      const bmp = await firstImage;
      if (bmp instanceof Error) throw bmp;
      st.marks.first_image = performance.now();
      await runOnBitmap(bmp, parseBox(q.get('box')));
    }
    if (q.get('bench')) await runBench(parseInt(q.get('bench'), 10) || 50);
  }

  // sumGzip is the gzip download of the assets this browser fetched (it
  // takes one of the two SIMD kernels).
  function sumGzip() {
    const g = st.info.gzip_bytes || {};
    const kernel = st.api && st.api.simdLevel === 2 ? 'relaxed' : 'simd';
    return ['exec', 'wasm', 'model', kernel].reduce((n, k) => n + (g[k] || 0), 0);
  }

  function parseBox(s) {
    if (!s) return null;
    const v = s.split(',').map(Number);
    if (v.length !== 4 || v.some((x) => !Number.isFinite(x)) || v[2] <= 0 || v[3] <= 0) return null;
    return v;
  }

  function wholeFrame() { return [0, 0, st.w, st.h]; }

  function currentBox() {
    return st.userBox || st.autoBox || wholeFrame();
  }

  // pixels returns the RGBA bytes of the current frame (4*w*h, row-major).
  function pixels() {
    if (work.width !== st.w || work.height !== st.h) {
      work.width = st.w;
      work.height = st.h;
    }
    wctx.drawImage(st.src, 0, 0, st.w, st.h);
    const d = wctx.getImageData(0, 0, st.w, st.h).data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }

  async function infer(box) {
    const rgba = pixels();
    const t0 = performance.now();
    const r = await st.api.predict(rgba, st.w, st.h, box);
    const wall = performance.now() - t0;
    if (!st.firstResultAt) {
      st.firstResultAt = performance.now();
      st.marks.first_pixels = t0;
      st.marks.first_predict_ms = r.ms;
    }
    st.last = { keypoints: r.keypoints, ms: r.ms, wall_ms: wall, box: box.slice() };
    $('ms').textContent = (r.ms != null ? r.ms : wall).toFixed(1);
    $('result').textContent = JSON.stringify(r.keypoints);
    return st.last;
  }

  async function setSource(src, w, h) {
    st.src = src;
    st.w = w;
    st.h = h;
    st.userBox = null;
    st.autoBox = null;
    st.last = null;
    layout();
  }

  // layout fits the canvas to the space beside the joint table (small
  // images are scaled up, at most 4x) with a backing store at device
  // resolution; drawing then works in image pixels through st.scale.
  function layout() {
    const w = st.src ? st.w : 640, h = st.src ? st.h : 480;
    const stage = view.parentElement;
    const availW = Math.max(200, stage.clientWidth);
    const availH = Math.max(240, window.innerHeight - view.getBoundingClientRect().top - 48);
    const fit = Math.min(availW / w, availH / h, 4);
    const cssW = Math.max(1, Math.round(w * fit)), cssH = Math.max(1, Math.round(h * fit));
    const dpr = window.devicePixelRatio || 1;
    view.style.width = cssW + 'px';
    view.style.height = cssH + 'px';
    view.width = Math.round(cssW * dpr);
    view.height = Math.round(cssH * dpr);
    st.scale = view.width / w; // backing pixels per image pixel
    st.css = dpr / st.scale;   // one CSS pixel in image pixels
  }

  async function runOnBitmap(bitmap, box) {
    stopCamera();
    await setSource(bitmap, bitmap.width, bitmap.height);
    st.userBox = box || null;
    return rerun();
  }

  async function rerun() {
    if (!st.api || !st.src || st.video) return null;
    setStatus('running…', 'busy');
    const r = await infer(currentBox());
    draw();
    setStatus(`done in ${r.ms.toFixed(1)} ms`, 'ready');
    return r;
  }

  async function loadBitmap(url) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
    return createImageBitmap(await res.blob(), imageOpts);
  }

  async function runOnURL(url, box) {
    return runOnBitmap(await loadBitmap(url), box);
  }

  // runBench runs n inferences on the current frame and box and reports
  // the median time and the page's load numbers into #bench.
  async function runBench(n) {
    if (!st.src) throw new Error('benchmark: open an image first');
    n = Math.max(1, Math.min(10000, n | 0));
    setStatus(`benchmark: ${n} inferences…`, 'busy');
    const box = currentBox();
    const rgba = pixels();
    const inner = [], wall = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await st.api.predict(rgba, st.w, st.h, box);
      wall.push(performance.now() - t0);
      if (r.ms != null) inner.push(r.ms);
    }
    // transferSize: bytes over the network (0 from the browser cache);
    // encodedBodySize: the (gzip) bodies, wherever they came from.
    let transfer = 0, encoded = 0;
    for (const e of [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]) {
      if (new URL(e.name).origin !== location.origin) continue;
      transfer += e.transferSize;
      encoded += e.encodedBodySize;
    }
    const r1 = (x) => Math.round(x * 10) / 10;
    const report = {
      n,
      median_ms: r1(median(inner.length ? inner : wall)),
      median_wall_ms: r1(median(wall)),
      min_ms: r1(Math.min(...(inner.length ? inner : wall))),
      load_to_ready_ms: Math.round(st.readyAt),
      load_to_first_result_ms: Math.round(st.firstResultAt),
      phases_ms: Object.fromEntries(Object.entries(st.marks).map(([k, v]) => [k, Math.round(v)])),
      // inside bsampose.load: decoding the weights and packing them for
      // the kernel (warmup is 0: the first prediction is the warm-up;
      // phases_ms.first_predict_ms is its time)
      load_ms: { decode: st.meta.decode_ms, pack: st.meta.pack_ms, warmup: st.meta.warmup_ms },
      download_bytes: transfer,
      encoded_bytes: encoded,
      assets_gzip_bytes: sumGzip(),
      simd: !!(st.meta && st.meta.simd),
      simd_level: st.api.simdLevel,
      kernel: st.meta.kernel,
      input: [st.meta.input_w, st.meta.input_h],
      user_agent: navigator.userAgent,
      timeline_ms: timeline(),
    };
    $('bench').textContent = JSON.stringify(report, null, 1);
    setStatus(`benchmark: median ${report.median_ms.toFixed(1)} ms over ${n}`, 'ready');
    return report;
  }

  // timeline is when the page and each same-origin download started and
  // ended (ms since navigation start), to see where load time goes.
  function timeline() {
    const r0 = (x) => Math.round(x);
    const out = {};
    const nav = performance.getEntriesByType('navigation')[0];
    if (nav) {
      out.page = [r0(nav.requestStart), r0(nav.responseEnd)];
      out.dom_interactive = r0(nav.domInteractive);
    }
    for (const e of performance.getEntriesByType('mark')) out[e.name] = r0(e.startTime);
    for (const e of performance.getEntriesByType('resource')) {
      const u = new URL(e.name);
      if (u.origin !== location.origin) continue;
      out[u.pathname.replace(/^.*\//, '')] = [r0(e.startTime), r0(e.responseEnd)];
    }
    return out;
  }

  function median(xs) {
    const s = xs.slice().sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  // ---- webcam ----

  async function startCamera() {
    if (st.video) { stopCamera(); return; }
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    const v = document.createElement('video');
    v.muted = true;
    v.playsInline = true;
    v.srcObject = stream;
    await v.play();
    await setSource(v, v.videoWidth, v.videoHeight);
    st.video = v;
    st.frames = 0;
    st.stream = stream;
    $('camera').textContent = 'Stop webcam';
    setStatus('webcam', 'busy');
    const tick = async () => {
      if (st.video !== v) return;
      if (!st.busy) {
        st.busy = true;
        try {
          const r = await infer(currentBox());
          st.frames++;
          st.autoBox = st.userBox ? null : boxFromKeypoints(r.keypoints);
          draw();
        } catch (e) {
          fail(e);
          stopCamera();
          return;
        } finally {
          st.busy = false;
        }
      }
      st.loop = requestAnimationFrame(tick);
    };
    st.loop = requestAnimationFrame(tick);
  }

  function stopCamera() {
    if (!st.video) return;
    cancelAnimationFrame(st.loop);
    for (const t of st.stream.getTracks()) t.stop();
    st.video = null;
    st.stream = null;
    $('camera').textContent = 'Start webcam';
    setStatus('webcam stopped', 'ready');
  }

  // boxFromKeypoints is the extent of the confident keypoints padded by a
  // quarter of its size on each side, clamped to the frame; null (whole
  // frame next time) when fewer than four joints are confident.
  function boxFromKeypoints(kps) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, n = 0;
    for (const k of kps) {
      if (k.score < Math.max(st.minScore, 0.3)) continue;
      x0 = Math.min(x0, k.x); y0 = Math.min(y0, k.y);
      x1 = Math.max(x1, k.x); y1 = Math.max(y1, k.y);
      n++;
    }
    if (n < 4) return null;
    const pw = Math.max((x1 - x0) * 0.25, 16), ph = Math.max((y1 - y0) * 0.25, 16);
    const bx0 = Math.max(0, x0 - pw), by0 = Math.max(0, y0 - ph);
    const bx1 = Math.min(st.w, x1 + pw), by1 = Math.min(st.h, y1 + ph);
    if (bx1 - bx0 < 8 || by1 - by0 < 8) return null;
    return [bx0, by0, bx1 - bx0, by1 - by0];
  }

  // ---- drawing ----

  function drawEmpty() {
    layout();
    vctx.setTransform(1, 0, 0, 1, 0, 0);
    vctx.fillStyle = '#000';
    vctx.fillRect(0, 0, view.width, view.height);
    vctx.fillStyle = '#8b95a3';
    vctx.font = `${Math.round(16 / st.css)}px system-ui, sans-serif`;
    vctx.textAlign = 'center';
    vctx.setTransform(st.scale, 0, 0, st.scale, 0, 0);
    vctx.fillText('Open an image or start the webcam', 320, 240);
    vctx.textAlign = 'start';
  }

  function side(name) {
    if (/^(left|l)[_ -]/i.test(name)) return 'left';
    if (/^(right|r)[_ -]/i.test(name)) return 'right';
    return 'mid';
  }
  const colors = { left: '#4fb3ff', right: '#ff9f43', mid: '#5fd38d' };

  function draw() {
    if (!st.src) { drawEmpty(); return; }
    vctx.setTransform(st.scale, 0, 0, st.scale, 0, 0);
    vctx.imageSmoothingQuality = 'high';
    vctx.drawImage(st.src, 0, 0, st.w, st.h);
    const u = st.css; // one CSS pixel, in image pixels
    const box = st.drag ? st.drag.box : (st.last ? st.last.box : currentBox());
    if (box) {
      vctx.save();
      vctx.setLineDash([4 * u, 3 * u]);
      vctx.lineWidth = u;
      vctx.strokeStyle = st.userBox || st.drag ? '#ffd166' : 'rgba(255,255,255,.6)';
      vctx.strokeRect(box[0], box[1], box[2], box[3]);
      vctx.restore();
    }
    if (!st.last || st.drag) { fillTable(null); return; }
    const kps = st.last.keypoints;
    const sk = (st.meta && st.meta.skeleton) || (st.info && st.info.skeleton) || [];
    vctx.lineCap = 'round';
    for (const [a, b] of sk) {
      const p = kps[a], q = kps[b];
      if (!p || !q || p.score < st.minScore || q.score < st.minScore) continue;
      const sa = side(p.name), sb = side(q.name);
      vctx.strokeStyle = colors[sa === sb ? sa : 'mid'];
      vctx.globalAlpha = 0.35 + 0.65 * Math.min(1, Math.min(p.score, q.score));
      vctx.lineWidth = 3 * u;
      vctx.beginPath();
      vctx.moveTo(p.x, p.y);
      vctx.lineTo(q.x, q.y);
      vctx.stroke();
    }
    vctx.globalAlpha = 1;
    vctx.font = `${11 * u}px system-ui, sans-serif`;
    // Joints below the threshold: small hollow rings, so a weak model
    // still shows where it looks.
    vctx.globalAlpha = 0.55;
    for (const k of kps) {
      if (k.score >= st.minScore) continue;
      vctx.strokeStyle = colors[side(k.name)];
      vctx.lineWidth = 1.5 * u;
      vctx.beginPath();
      vctx.arc(k.x, k.y, 3 * u, 0, 2 * Math.PI);
      vctx.stroke();
    }
    vctx.globalAlpha = 1;
    for (const k of kps) {
      if (k.score < st.minScore) continue;
      const r = u * (2.5 + 3 * Math.min(1, Math.max(0, k.score)));
      vctx.fillStyle = colors[side(k.name)];
      vctx.strokeStyle = '#000';
      vctx.lineWidth = u;
      vctx.beginPath();
      vctx.arc(k.x, k.y, r, 0, 2 * Math.PI);
      vctx.fill();
      vctx.stroke();
      const label = k.score.toFixed(2);
      vctx.lineWidth = 3 * u;
      vctx.lineJoin = 'round';
      vctx.strokeText(label, k.x + r + u, k.y - r);
      vctx.fillStyle = '#fff';
      vctx.fillText(label, k.x + r + u, k.y - r);
    }
    fillTable(kps);
  }

  function fillTable(kps) {
    const tb = $('joints').tBodies[0];
    if (!kps) { tb.replaceChildren(); return; }
    if (st.video && tb.rows.length === kps.length && (performance.now() - (fillTable.t || 0)) < 250) return;
    fillTable.t = performance.now();
    const rows = kps.map((k) => {
      const tr = document.createElement('tr');
      const low = k.score < st.minScore;
      const cells = [k.name, k.x.toFixed(1), k.y.toFixed(1)];
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        if (low) td.className = 'low';
        tr.append(td);
      }
      const td = document.createElement('td');
      if (low) td.className = 'low';
      td.textContent = k.score.toFixed(2);
      const bw = document.createElement('span');
      bw.className = 'barw';
      const bar = document.createElement('span');
      bar.style.width = `${Math.round(100 * Math.max(0, Math.min(1, k.score)))}%`;
      bw.append(bar);
      td.append(bw);
      tr.append(td);
      return tr;
    });
    tb.replaceChildren(...rows);
  }

  // ---- box drawing by dragging ----

  function toImage(ev) {
    const r = view.getBoundingClientRect();
    return [(ev.clientX - r.left) * st.w / r.width, (ev.clientY - r.top) * st.h / r.height];
  }

  view.addEventListener('pointerdown', (ev) => {
    if (!st.src || !st.api) return;
    view.setPointerCapture(ev.pointerId);
    const p = toImage(ev);
    st.drag = { p0: p, box: [p[0], p[1], 0, 0] };
  });
  view.addEventListener('pointermove', (ev) => {
    if (!st.drag) return;
    const p = toImage(ev);
    const x0 = Math.max(0, Math.min(st.drag.p0[0], p[0])), y0 = Math.max(0, Math.min(st.drag.p0[1], p[1]));
    const x1 = Math.min(st.w, Math.max(st.drag.p0[0], p[0])), y1 = Math.min(st.h, Math.max(st.drag.p0[1], p[1]));
    st.drag.box = [x0, y0, x1 - x0, y1 - y0];
    if (!st.video) draw();
  });
  const endDrag = () => {
    if (!st.drag) return;
    const b = st.drag.box;
    st.drag = null;
    if (b[2] >= 8 && b[3] >= 8) {
      st.userBox = b;
      st.autoBox = null;
      rerun().catch(fail);
    } else if (!st.video) {
      draw();
    }
  };
  view.addEventListener('pointerup', endDrag);
  view.addEventListener('pointercancel', endDrag);
  view.addEventListener('dblclick', () => {
    st.userBox = null;
    st.autoBox = null;
    rerun().catch(fail);
  });

  // ---- controls ----

  $('file').addEventListener('change', async (ev) => {
    const f = ev.target.files && ev.target.files[0];
    ev.target.value = ''; // choosing the same file again fires change again
    if (!f) return;
    try {
      const bmp = await createImageBitmap(f, imageOpts);
      await runOnBitmap(bmp, null);
    } catch (e) {
      fail(e);
    }
  });
  $('camera').addEventListener('click', () => startCamera().catch(fail));
  $('resetbox').addEventListener('click', () => {
    st.userBox = null;
    st.autoBox = null;
    rerun().catch(fail);
  });
  window.addEventListener('resize', () => { if (st.src) { layout(); draw(); } else drawEmpty(); });
  $('benchbtn').addEventListener('click', () => runBench(50).catch(fail));
  $('minscore').addEventListener('input', (ev) => {
    st.minScore = parseFloat(ev.target.value);
    $('minscoreval').textContent = st.minScore.toFixed(2);
    if (!st.video) draw();
  });

  window.runOnURL = (url, box) => runOnURL(url, box || null);
  window.runBench = (n) => runBench(n);
  // pageState is a read-only view for tests.
  window.pageState = () => ({
    ready: !!st.meta, video: !!st.video, frames: st.frames, width: st.w, height: st.h,
    box: st.last ? st.last.box : null, userBox: st.userBox, autoBox: st.autoBox,
  });

  init().catch(fail);
})();
