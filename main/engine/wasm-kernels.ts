/**
 * Training kernels for the TF.js `wasm` backend (TF.js 4.22).
 *
 * The wasm backend cannot train a conv net out of the box: it has no `Conv2DBackpropFilter`
 * (tfjs issue #8474) and no `UnsortedSegmentSum`, the gradient of `gather` (#8082), and its
 * `Conv2DBackpropInput` is a plain scalar loop. This module registers replacements that hand
 * the multiply-adds to the backend's own XNNPACK kernels (s = stride, (pt, pl) = the forward
 * conv's top/left padding, x [N, H, W, Ci], W [kh, kw, Ci, Co], dy [N, Ho, Wo, Co]):
 *
 * - Conv2DBackpropInput, stride 1: a `Conv2D` of dy, padded by k − 1 − p, with W flipped in
 *   space and its in/out channels swapped. Strided: instead of that conv over the zero-dilated
 *   dy (s² − 1 of every s² multiply-adds on zeros), cols = dy · Wᵀ on the GEMM, then col2im.
 * - Conv2DBackpropFilter: dW = Σ x[n, oh·s − pt + i, ow·s − pl + j, ci] · dy[n, oh, ow, co],
 *   as im2col patchesᵀ · dy on the GEMM; with few output channels, as a `Conv2D` of x seen as Ci
 *   images with N channels ([Ci, H, W, N]) by dy seen as a [Ho, Wo, N, Co] filter dilated by s.
 * - UnsortedSegmentSum: a scatter-add into a zeroed buffer.
 *
 * The layout changes these need (the flipped and swapped filter, Wᵀ, channel planes, a
 * BatchMatMul operand) are tiled copies in JavaScript rather than the backend's Transpose and
 * Reverse kernels, which index every element through a general n-d loop: flipping PatchGAN's
 * [4, 4, 256, 512] filter took ~110 ms there, a few ms here.
 *
 * Intermediates are processed in blocks, so memory stays bounded at any image size. The conv
 * kernels are NHWC only; they carry no dilation attribute because TF.js refuses gradients of
 * dilated convs before dispatching them.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const BACKEND = 'wasm';
/** Largest im2col / col2im block, in floats (4 MiB): memory stays bounded at any image size. */
const BLOCK_FLOATS = 1 << 20;

type Info = tf.TensorInfo;
type Padding = tf.Conv2DBackpropInputAttrs['pad'];
type Shape4 = [number, number, number, number];

interface WasmKernelArgs<I, A> {
  inputs: I;
  backend: BackendWasm;
  attrs: A;
}

// ---------------------------------------------------------------------------------------------
// Small helpers over the backend's TensorInfos

/** Runs one of the wasm backend's own kernels (Conv2D, Transpose, Reverse) on TensorInfos. */
function callWasm(
  backend: BackendWasm,
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): Info {
  const kernel = tf.getKernel(name, BACKEND);
  if (kernel === undefined) throw new Error(`The wasm backend has no ${name} kernel.`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0] : out;
}

/** The same data seen with another shape of equal size; it owns nothing and is never released. */
function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Drops this module's reference to intermediates (the backend counts references per buffer). */
function release(backend: BackendWasm, ...infos: Info[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function float32Heap(backend: BackendWasm, t: Info): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`Expected a float32 tensor, got ${t.dtype}.`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Side of the square tiles a 2-D transpose copies at a time: both tiles stay in the L1 cache. */
const TILE = 32;

/**
 * dst[dstAt + c·rows + r] = src[srcAt + r·cols + c] for a rows × cols matrix: a tiled copy in
 * JavaScript. The backend's Transpose kernel walks every element through a general n-d index
 * (a [16, 256, 512] filter took ~50 ms there, ~3 ms here).
 */
function transpose2d(
  src: Float32Array,
  srcAt: number,
  dst: Float32Array,
  dstAt: number,
  rows: number,
  cols: number,
): void {
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const from = srcAt + r * cols;
        for (let c = c0; c < c1; c++) dst[dstAt + c * rows + r] = src[from + c];
      }
    }
  }
}

/**
 * t seen as [batches, rows, cols] → a fresh [batches, cols, rows] (shaped `shape`, default
 * [..., cols, rows] of t's leading axes).
 */
function transposeMatrices(
  backend: BackendWasm,
  t: Info,
  batches: number,
  rows: number,
  cols: number,
  shape: number[],
): Info {
  const out = backend.makeOutput(shape, 'float32');
  // Views are taken after makeOutput: an allocation may grow (and so detach) the wasm heap.
  const src = float32Heap(backend, t);
  const dst = float32Heap(backend, out);
  const size = rows * cols;
  for (let b = 0; b < batches; b++) transpose2d(src, b * size, dst, b * size, rows, cols);
  return out;
}

/** Source indices [first, end) whose position offset + i·stride falls inside [0, size). */
function landingRange(length: number, offset: number, stride: number, size: number): number[] {
  const first = Math.max(0, Math.ceil(-offset / stride));
  const end = Math.min(length, Math.floor((size - 1 - offset) / stride) + 1);
  return [first, Math.max(first, end)];
}

/** Rows [start, end) of t seen as [rows, C], copied into a fresh [1, end − start, C]. */
function copyRows(backend: BackendWasm, t: Info, start: number, end: number): Info {
  const c = t.shape[t.shape.length - 1];
  const out = backend.makeOutput([1, end - start, c], 'float32');
  // Views are taken after makeOutput: an allocation may grow (and so detach) the wasm heap.
  float32Heap(backend, out).set(float32Heap(backend, t).subarray(start * c, end * c));
  return out;
}

/**
 * a [1, M, K] · b [1, K, N] on XNNPACK. The backend caches the packed `b` keyed by its buffer id
 * alone, not its shape, so `b` must be a buffer this module made for products of this shape.
 */
function matMul(backend: BackendWasm, a: Info, b: Info): Info {
  return callWasm(backend, tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
}

/** Rows of (n, oh) pairs per im2col / col2im block, so a block holds at most BLOCK_FLOATS. */
function rowsPerBlock(floatsPerRow: number): number {
  return Math.max(1, Math.floor(BLOCK_FLOATS / floatsPerRow));
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry

interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Padding the forward conv put before the first row / column. */
  top: number;
  left: number;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: Padding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The forward conv x [N, H, W, Ci] * W [kh, kw, Ci, Co] → dy [N, Ho, Wo, Co] these gradients
 * belong to. Only the top/left padding is taken from TF.js's own conv arithmetic; everything
 * else follows from dy's actual shape, so no rounding mode can make the two disagree.
 */
function convGeometry(
  xShape: number[],
  filterShape: number[],
  dyShape: number[],
  attrs: ConvAttrs,
): ConvGeometry {
  if (attrs.dataFormat === 'NCHW') {
    throw new Error('wasm conv gradients support only NHWC (channelsLast) data.');
  }
  if (xShape.length !== 4 || filterShape.length !== 4 || dyShape.length !== 4) {
    throw new Error('wasm conv gradients expect rank-4 x, filter and dy.');
  }
  const [batch, inH, inW, inC] = xShape;
  const [kh, kw, filterIn, outC] = filterShape;
  const [dyBatch, outH, outW, dyC] = dyShape;
  if (dyBatch !== batch || dyC !== outC || filterIn !== inC) {
    throw new Error(
      `Conv gradient shapes disagree: x [${xShape}], filter [${filterShape}], dy [${dyShape}].`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  return { batch, inH, inW, inC, outH, outW, outC, kh, kw, sh, sw, top, left };
}

function stride1Conv(
  backend: BackendWasm,
  x: Info,
  filter: Info,
  pad: Padding,
  dilations: [number, number] = [1, 1],
): Info {
  return callWasm(
    backend,
    tf.Conv2D,
    { x, filter },
    { strides: [1, 1], dilations, pad, dataFormat: 'NHWC' },
  );
}

function explicitPad(top: number, bottom: number, left: number, right: number): Padding {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput

/** W [kh, kw, Ci, Co] → W' [kh, kw, Co, Ci] with W'[i, j, co, ci] = W[kh−1−i, kw−1−j, ci, co]. */
function flipAndSwap(backend: BackendWasm, filter: Info): Info {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const src = float32Heap(backend, filter);
  const dst = float32Heap(backend, out);
  // Spatial position p of W' takes position kh·kw − 1 − p of W (both axes flipped at once),
  // its [Ci, Co] matrix transposed.
  const positions = kh * kw;
  const size = ci * co;
  for (let p = 0; p < positions; p++) {
    transpose2d(src, (positions - 1 - p) * size, dst, p * size, ci, co);
  }
  return out;
}

/**
 * Stride 1: dx row h collects dy rows oh with oh − pt + i = h, a stride-1 correlation of dy,
 * padded by kh − 1 − pt before (and enough after for H output rows), with the flipped filter.
 * Null when a padding would be negative (forward padding ≥ kernel size), which XNNPACK refuses.
 */
function backpropInputByConv(
  backend: BackendWasm,
  dy: Info,
  filter: Info,
  g: ConvGeometry,
): Info | null {
  const padTop = g.kh - 1 - g.top;
  const padLeft = g.kw - 1 - g.left;
  const padBottom = g.inH + g.top - g.outH;
  const padRight = g.inW + g.left - g.outW;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return null;
  const kernel = flipAndSwap(backend, filter); // [kh, kw, Co, Ci]
  const pad = explicitPad(padTop, padBottom, padLeft, padRight);
  const dx = stride1Conv(backend, dy, kernel, pad); // [N, H, W, Ci]
  release(backend, kernel);
  return dx;
}

/**
 * Any stride: cols = dy · Wᵀ holds, for each output pixel, its contribution to the kh×kw input
 * patch it was computed from; col2im adds the patches into place. Unlike a conv over the
 * zero-dilated dy, no multiply-add is spent on inserted zeros (s² times fewer).
 */
function backpropInputByCol2im(
  backend: BackendWasm,
  dy: Info,
  filter: Info,
  g: ConvGeometry,
): Info {
  const patch = g.kh * g.kw * g.inC;
  const rows = g.batch * g.outH; // (n, oh) pairs
  const step = rowsPerBlock(patch * g.outW);
  const weights = transposeMatrices(backend, filter, 1, patch, g.outC, [g.outC, patch]); // [Co, kh·kw·Ci]
  const dx = backend.makeOutput([g.batch, g.inH, g.inW, g.inC], 'float32'); // [N, H, W, Ci]
  float32Heap(backend, dx).fill(0); // fresh backend buffers are not zeroed
  for (let r0 = 0; r0 < rows; r0 += step) {
    const r1 = Math.min(rows, r0 + step);
    const dyRows =
      step >= rows
        ? view(dy, [1, rows * g.outW, g.outC])
        : copyRows(backend, dy, r0 * g.outW, r1 * g.outW); // [1, P, Co], P = block pixels
    const cols = matMul(backend, dyRows, view(weights, [1, g.outC, patch])); // [1, P, kh·kw·Ci]
    col2imAdd(backend, cols, dx, g, r0, r1);
    release(backend, cols);
    if (step < rows) release(backend, dyRows);
  }
  release(backend, weights);
  return dx;
}

/** dx[n, oh·s − pt + i, ow·s − pl + j, :] += cols[(n, oh, ow), (i, j, :)] for rows r0..r1 of (n, oh). */
function col2imAdd(
  backend: BackendWasm,
  cols: Info,
  dx: Info,
  g: ConvGeometry,
  r0: number,
  r1: number,
): void {
  const out = float32Heap(backend, dx); // [N, H, W, Ci]
  const src = float32Heap(backend, cols); // [P, kh·kw·Ci]
  const c = g.inC;
  const patch = g.kh * g.kw * c;
  for (let r = r0; r < r1; r++) {
    const n = Math.floor(r / g.outH);
    const oh = r - n * g.outH;
    for (let i = 0; i < g.kh; i++) {
      const h = oh * g.sh - g.top + i;
      if (h < 0 || h >= g.inH) continue;
      for (let j = 0; j < g.kw; j++) {
        const [ow0, ow1] = landingRange(g.outW, j - g.left, g.sw, g.inW);
        for (let ow = ow0; ow < ow1; ow++) {
          const to = ((n * g.inH + h) * g.inW + ow * g.sw - g.left + j) * c;
          const from = ((r - r0) * g.outW + ow) * patch + (i * g.kw + j) * c;
          for (let k = 0; k < c; k++) out[to + k] += src[from + k];
        }
      }
    }
  }
}

function conv2dBackpropInput({
  inputs,
  backend,
  attrs,
}: WasmKernelArgs<tf.Conv2DBackpropInputInputs, tf.Conv2DBackpropInputAttrs>): Info {
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const g = convGeometry(attrs.inputShape, filter.shape, dy.shape, attrs);
  const strided = g.sh > 1 || g.sw > 1;
  // Stride 1 runs at the speed of a forward conv with no copy of dy; strided, the conv over
  // the dilated dy would waste s² − 1 of every s² multiply-adds, so col2im is faster there.
  const dx = strided ? null : backpropInputByConv(backend, dy, filter, g);
  return dx ?? backpropInputByCol2im(backend, dy, filter, g);
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

/**
 * Below this many output channels the filter gradient runs as a Conv2D rather than im2col: the
 * im2col copy of every patch then costs more than its GEMM (PatchGAN's 4×4×512→1 head: 20 ms by
 * conv against 50 ms by im2col; at 128 channels im2col wins 65 ms to 165 ms).
 */
const FEW_OUTPUT_CHANNELS = 8;

function conv2dBackpropFilter({
  inputs,
  backend,
  attrs,
}: WasmKernelArgs<tf.Conv2DBackpropFilterInputs, tf.Conv2DBackpropFilterAttrs>): Info {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const g = convGeometry(x.shape, attrs.filterShape, dy.shape, attrs);
  const dw = g.outC < FEW_OUTPUT_CHANNELS ? backpropFilterByConv(backend, x, dy, g) : null;
  return dw ?? backpropFilterByIm2col(backend, x, dy, g);
}

/**
 * dW[i, j, ci, co] = Σ_{n, oh, ow} x[n, oh·s − pt + i, ow·s − pl + j, ci] · dy[n, oh, ow, co] is
 * a stride-1 Conv2D of x seen as a batch of Ci images with N channels, [Ci, H, W, N], with dy
 * seen as a [Ho, Wo, N, Co] filter dilated by s. With only N channels per pixel XNNPACK runs
 * below its best, but x is read in place. Null when x has trailing rows or columns no output
 * reads: they would need negative padding, which XNNPACK refuses.
 */
function backpropFilterByConv(
  backend: BackendWasm,
  x: Info,
  dy: Info,
  g: ConvGeometry,
): Info | null {
  // The dilated dy spans (Ho − 1)·s + 1 rows; with pt rows of padding before and this many
  // after, the stride-1 output has exactly kh rows.
  const padBottom = g.kh + (g.outH - 1) * g.sh - g.inH - g.top;
  const padRight = g.kw + (g.outW - 1) * g.sw - g.inW - g.left;
  if (padBottom < 0 || padRight < 0) return null;
  const images =
    g.batch === 1
      ? transposeMatrices(backend, x, 1, g.inH * g.inW, g.inC, [g.inC, g.inH, g.inW, 1])
      : callWasm(backend, tf.Transpose, { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  const kernel =
    g.batch === 1
      ? view(dy, [g.outH, g.outW, 1, g.outC]) // same memory order; Conv2D's cache keys on shape too
      : callWasm(backend, tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const pad = explicitPad(g.top, padBottom, g.left, padRight);
  const grad = stride1Conv(backend, images, kernel, pad, [g.sh, g.sw]); // [Ci, kh, kw, Co]
  const dw = callWasm(backend, tf.Transpose, { x: grad }, { perm: [1, 2, 0, 3] }); // [kh, kw, Ci, Co]
  release(backend, images, grad);
  if (g.batch !== 1) release(backend, kernel);
  return dw;
}

/**
 * dW [kh·kw·Ci, Co] = Σ over blocks of output pixels of patchesᵀ [kh·kw·Ci, P] · dy [P, Co]:
 * im2col on XNNPACK's GEMM, which runs at the speed of the forward conv.
 */
function backpropFilterByIm2col(backend: BackendWasm, x: Info, dy: Info, g: ConvGeometry): Info {
  const patch = g.kh * g.kw * g.inC;
  const rows = g.batch * g.outH; // (n, oh) pairs
  const step = rowsPerBlock(patch * g.outW);
  // Channel planes make each patch row a run along W: one contiguous copy at stride 1.
  const pixels = g.batch * g.inH * g.inW;
  const planes = transposeMatrices(backend, x, 1, pixels, g.inC, [g.inC, g.batch, g.inH, g.inW]); // [Ci, N, H, W]
  let dw: Info | null = null; // [1, kh·kw·Ci, Co]
  for (let r0 = 0; r0 < rows; r0 += step) {
    const r1 = Math.min(rows, r0 + step);
    const patches = im2colTransposed(backend, planes, g, r0, r1); // [1, kh·kw·Ci, P]
    const dyRows = copyRows(backend, dy, r0 * g.outW, r1 * g.outW); // [1, P, Co]
    const partial = matMul(backend, patches, dyRows); // [1, kh·kw·Ci, Co]
    release(backend, patches, dyRows);
    dw = dw === null ? partial : addInto(backend, dw, partial);
  }
  release(backend, planes);
  dw ??= zeros(backend, [1, patch, g.outC]);
  return view(dw, [g.kh, g.kw, g.inC, g.outC]);
}

/** patchesᵀ[(i, j, ci), (n, oh, ow)] = x[n, oh·s − pt + i, ow·s − pl + j, ci], 0 in the padding. */
function im2colTransposed(
  backend: BackendWasm,
  planes: Info,
  g: ConvGeometry,
  r0: number,
  r1: number,
): Info {
  const pixels = (r1 - r0) * g.outW;
  const out = backend.makeOutput([1, g.kh * g.kw * g.inC, pixels], 'float32');
  const dst = float32Heap(backend, out); // [kh·kw·Ci, P]
  const src = float32Heap(backend, planes); // [Ci, N, H, W]
  const { batch, inH, inW, inC, outH, outW, sh, sw } = g;
  for (let i = 0; i < g.kh; i++) {
    for (let j = 0; j < g.kw; j++) {
      const [ow0, ow1] = landingRange(outW, j - g.left, sw, inW);
      for (let ci = 0; ci < inC; ci++) {
        const row = ((i * g.kw + j) * inC + ci) * pixels;
        for (let r = r0; r < r1; r++) {
          const n = Math.floor(r / outH);
          const h = (r - n * outH) * sh - g.top + i;
          const to = row + (r - r0) * outW;
          // Fresh backend buffers are not zeroed, so the padding is written here too.
          if (h < 0 || h >= inH) {
            dst.fill(0, to, to + outW);
            continue;
          }
          const from = ((ci * batch + n) * inH + h) * inW + j - g.left;
          for (let ow = 0; ow < ow0; ow++) dst[to + ow] = 0;
          copyRun(dst, to, src, from, ow0, ow1, sw);
          for (let ow = ow1; ow < outW; ow++) dst[to + ow] = 0;
        }
      }
    }
  }
  return out;
}

/** dst[to + k] = src[from + k·stride] for k in [k0, k1). */
function copyRun(
  dst: Float32Array,
  to: number,
  src: Float32Array,
  from: number,
  k0: number,
  k1: number,
  stride: number,
): void {
  // A native copy beats a JS loop only once the run is long enough to pay for subarray().
  if (stride === 1 && k1 - k0 >= 32) {
    dst.set(src.subarray(from + k0, from + k1), to + k0);
    return;
  }
  for (let k = k0; k < k1; k++) dst[to + k] = src[from + k * stride];
}

/** acc += part elementwise; part is released. */
function addInto(backend: BackendWasm, acc: Info, part: Info): Info {
  const sum = float32Heap(backend, acc);
  const add = float32Heap(backend, part);
  for (let k = 0; k < sum.length; k++) sum[k] += add[k];
  release(backend, part);
  return acc;
}

function zeros(backend: BackendWasm, shape: number[]): Info {
  const out = backend.makeOutput(shape, 'float32');
  float32Heap(backend, out).fill(0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// UnsortedSegmentSum

/** out[seg] = Σ_{i: ids[i] = seg} x[i]; ids outside [0, numSegments) are dropped, as in TF. */
function unsortedSegmentSum({
  inputs,
  backend,
  attrs,
}: WasmKernelArgs<tf.UnsortedSegmentSumInputs, tf.UnsortedSegmentSumAttrs>): Info {
  const { x, segmentIds } = inputs as { x: Info; segmentIds: Info };
  const { numSegments } = attrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, got ${x.dtype}.`);
  }
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype); // [S, ...inner]
  const sums = backend.typedArrayFromHeap(out);
  const values = backend.typedArrayFromHeap(x); // [...ids, ...inner]
  const ids = backend.typedArrayFromHeap(segmentIds);
  sums.fill(0); // fresh backend buffers are not zeroed
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i];
    if (seg < 0 || seg >= numSegments) continue;
    const to = seg * inner;
    const from = i * inner;
    for (let k = 0; k < inner; k++) sums[to + k] += values[from + k];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul with transposed operands

/**
 * The wasm BatchMatMul runs its XNNPACK path only for plain operands: with transposeA or
 * transposeB it is 7–10× slower (measured at [256,256]·[256,256]: 5 ms plain, 36 ms with
 * transposeB, 58 ms with transposeA). Every matMul gradient asks for a transpose, so the
 * operand is transposed explicitly (a memory copy) and the plain kernel does the product.
 */
let plainBatchMatMul: tf.KernelFunc | null = null;

function batchMatMul({
  inputs,
  backend,
  attrs,
}: WasmKernelArgs<tf.BatchMatMulInputs, tf.BatchMatMulAttrs>): Info {
  const plain = plainBatchMatMul as tf.KernelFunc;
  const { transposeA, transposeB } = attrs;
  const a = inputs.a as Info;
  const b = inputs.b as Info;
  if (!transposeA && !transposeB) {
    return plain({ inputs, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as Info;
  }
  const at = transposeA ? transposeLastTwo(backend, a) : a;
  const bt = transposeB ? transposeLastTwo(backend, b) : b;
  const out = plain({
    inputs: { a: at, b: bt },
    backend,
    attrs: { ...attrs, transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap,
  }) as Info;
  if (transposeA) release(backend, at);
  if (transposeB) release(backend, bt);
  return out;
}

/** [..., R, C] → [..., C, R]. */
function transposeLastTwo(backend: BackendWasm, t: Info): Info {
  const r = t.shape.length;
  const rows = t.shape[r - 2];
  const cols = t.shape[r - 1];
  const batches = tf.util.sizeFromShape(t.shape.slice(0, r - 2));
  return transposeMatrices(backend, t, batches, rows, cols, [
    ...t.shape.slice(0, r - 2),
    cols,
    rows,
  ]);
}

// ---------------------------------------------------------------------------------------------
// Reverse

/**
 * The wasm Reverse kernel walks every element through a general n-d index: ~10× the time of an
 * element-wise add of the same size (7.5 ms against 0.8 ms at [1, 96, 96, 32]). Flip
 * equivariance and the reflect-padding adjoints reverse NHWC maps along H or W, which leaves
 * whole pixels (C values) or rows contiguous: copied here as runs. Other dtypes go to the
 * backend's own kernel.
 */
let builtinReverse: tf.KernelFunc | null = null;

function reverse({
  inputs,
  backend,
  attrs,
}: WasmKernelArgs<tf.ReverseInputs, tf.ReverseAttrs>): Info {
  const x = inputs.x as Info;
  const shape = x.shape;
  if (shape.length === 0 || (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool')) {
    const builtin = builtinReverse as tf.KernelFunc;
    return builtin({ inputs, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as Info;
  }
  const axes = new Set(tf.util.parseAxisParam(attrs.dims, shape));
  // The axes after the last reversed one form contiguous runs of `run` elements.
  let last = shape.length - 1;
  while (last >= 0 && !axes.has(last)) last--;
  const run = tf.util.sizeFromShape(shape.slice(last + 1));
  const outer = shape.slice(0, last + 1);
  const out = backend.makeOutput([...shape], x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const runs = tf.util.sizeFromShape(outer);
  const index = outer.map(() => 0); // the output's multi-index over the outer axes
  for (let k = 0; k < runs; k++) {
    let from = 0;
    for (let a = 0; a < outer.length; a++) {
      from = from * outer[a] + (axes.has(a) ? outer[a] - 1 - index[a] : index[a]);
    }
    from *= run;
    const to = k * run;
    if (run >= 32) dst.set(src.subarray(from, from + run), to);
    else for (let e = 0; e < run; e++) dst[to + e] = src[from + e];
    for (let a = outer.length - 1; a >= 0 && ++index[a] === outer[a]; a--) index[a] = 0;
  }
  return out;
}

const reverseKernelFunc = reverse as unknown as tf.KernelFunc;

// ---------------------------------------------------------------------------------------------
// Registration

const replacements: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2dBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2dBackpropFilter },
  { kernelName: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSum },
].map(({ kernelName, kernelFunc }) => ({
  kernelName,
  backendName: BACKEND,
  // The registry types backends as `{}`; these kernels are only ever registered for wasm.
  kernelFunc: kernelFunc as unknown as tf.KernelFunc,
}));

const batchMatMulKernelFunc = batchMatMul as unknown as tf.KernelFunc;

/**
 * Installs the kernels above on the wasm backend, replacing any registered under the same name
 * (`tf.registerKernel` alone refuses to). Call after `tf.setBackend('wasm')` has succeeded.
 * Idempotent: a repeat call changes nothing. Returns the names of the kernels this module now
 * serves, the same list on every call, so a caller can always report them.
 */
export function registerWasmTrainingKernels(): string[] {
  const matMul = wrapBuiltin(tf.BatchMatMul, batchMatMulKernelFunc);
  if (matMul) plainBatchMatMul = matMul;
  const reverse = wrapBuiltin(tf.Reverse, reverseKernelFunc);
  if (reverse) builtinReverse = reverse;
  for (const config of replacements) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel(config);
  }
  return [...replacements.map((config) => config.kernelName), tf.BatchMatMul, tf.Reverse];
}

/**
 * Puts `ours` in place of the wasm backend's built-in kernel `name`, which ours calls for the
 * cases it leaves to it; returns the built-in kernel, or null when ours is already there (or
 * there is none). The built-in kernel binds its wasm function in its setup, once per backend
 * instance: its setup and dispose are kept, or a new wasm backend (another thread count) would
 * call into the disposed one.
 */
function wrapBuiltin(name: string, ours: tf.KernelFunc): tf.KernelFunc | null {
  const current = tf.getKernel(name, BACKEND);
  if (current === undefined || current.kernelFunc === ours) return null;
  tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: ours,
    setupFunc: current.setupFunc,
    disposeFunc: current.disposeFunc,
  });
  return current.kernelFunc;
}
