// Package web serves the browser demo: the page, the WebAssembly pose
// network and its weights, and a native JSON prediction API, on
// github.com/labstack/echo/v4.
//
// New builds the server from a Config. The page (static/, embedded with
// go:embed, or read from disk in Dev mode) loads wasm_exec.js, the
// posewasm.wasm inference module (plus the SIMD128 GEMM kernel) and
// the browser weights model.bin, then runs every prediction in the browser;
// once loaded it needs no network. POST /api/predict runs the same model
// natively for clients without a browser. EnsureWasm builds posewasm.wasm
// from the source embedded in the binary (package bsampose), so a server
// installed with go install needs no checkout.
//
// Routes (GET routes also answer HEAD):
//
//	GET  /                  the page (Cache-Control: no-cache), with the
//	                        /api/info JSON inlined, the wasm modules and
//	                        weights preloaded and wasm_exec.js as a
//	                        deferred script
//	GET  /static/*          page scripts and styles (ETag, revalidated)
//	GET  /wasm_exec.js      Go's loader matching the toolchain that built the wasm
//	GET  /posewasm.wasm     the inference module (application/wasm, pre-gzipped)
//	GET  /simd.wasm         the SIMD128 GEMM kernel (pose/infer/simd.Module)
//	GET  /simd-relaxed.wasm the same with relaxed-SIMD FMA (simd.ModuleRelaxed)
//	GET  /model.bin         browser weights (infer.EncodeWith of the folded model)
//	GET  /api/info          model schema, input geometry, asset URLs and sizes
//	POST /api/predict       multipart "image" (+ optional "box" = "x,y,w,h"):
//	                        {"keypoints":[{name,x,y,score}],"ms",...} (native)
//
// Assets whose URL carries ?v=<content hash> (the URLs /api/info hands out)
// are served as immutable; everything else carries a strong ETag and is
// revalidated. Assets are gzipped once at start-up at the best level,
// and served compressed only where that saves at least 10% (not the
// float32 weights: gzip saves 7% of them, and inflating 9 MB costs the
// browser more time than that); every asset response has a
// Content-Length. Every response has a content security policy that allows
// WebAssembly compilation ('wasm-unsafe-eval') and nothing from other
// origins, nosniff, frame-ancestors 'none' (and X-Frame-Options DENY) and
// a same-origin referrer policy. Errors are JSON objects {"error": "..."}:
// 400 for a non-image, corrupt image or bad box, 408 for an upload that
// stalls longer than Config.BodyIdleTimeout, 413 beyond Config.MaxUpload,
// 503 with Retry-After when the queue is full, when a request outlives
// Config.Timeout (queue wait included) and during shutdown.
//
// POST /api/predict under load: a request is admitted before its upload
// is read, into at most in-flight+Config.QueueLen slots (a full queue
// answers 503 at once); admitted uploads are decoded a few at a time
// (runtime.NumCPU) and cut into network crops, so a waiting request holds
// a 3*H*W crop, not its image. One micro-batcher goroutine (the dynamic
// batching of Triton and TorchServe's batch_size/max_batch_delay) takes
// every queued crop, up to Config.MaxBatch, waiting at most
// Config.BatchDelay after the oldest arrived, into one
// BatchPredictor.PredictCrops call (Native: pose.Net.Forward(m)); crops
// whose request has already timed out are skipped. The answer reports the
// network time, the time queued and the batch size. e.Server.Shutdown
// refuses new requests, waits for every admitted one, then closes the
// network.
//
// The page (static/app.js, an ES module importing static/posewasm.js)
// fetches everything before the first prediction, so it keeps working
// offline. Query parameters drive it without a mouse: ?image=URL&box=x,y,w,h
// runs on a same-origin image, &bench=N then reports the median
// milliseconds of N inferences, the load-to-first-result time and the
// bytes downloaded into #bench as JSON (with a timeline of the loading
// phases and downloads), and &minscore=S sets the drawing threshold.
// TestBrowser drives it with headless Chromium.
//
// # Shapes
//
// Uploaded images are decoded (EXIF orientation applied) to RGB; the page
// hands the wasm module RGBA bytes of length 4*width*height, row-major.
// Keypoint lists have one entry per joint of the model's schema, in schema
// order.
//
// # Coordinates
//
// Boxes and keypoints are in image pixels of the decoded image, with pixel
// centres at integer coordinates (the convention of pose.Predictor and
// coco): a box is [x, y, w, h] with its top-left corner at (x, y); the
// default box is the whole image [0, 0, width, height].
//
// # References
//
//   - Issue 6 of this project (the browser demo, onnxruntime-web baseline:
//     25.9 ms per inference, 3.5 MB gzip, 808 ms load to first result).
//   - Issue 12 (the server under load; install anywhere).
//   - Triton dynamic batching (max_queue_delay_microseconds,
//     preferred_batch_size):
//     https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/model_configuration.html#dynamic-batcher
//   - TorchServe batch inference (batch_size, max_batch_delay):
//     https://pytorch.org/serve/batch_inference_with_ts.html
//   - Go WebAssembly: $(go env GOROOT)/lib/wasm/wasm_exec.js.
//   - WebAssembly CSP: https://github.com/WebAssembly/content-security-policy
//     ('wasm-unsafe-eval').
package web
