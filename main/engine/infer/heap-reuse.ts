/**
 * The part of the process's resident memory a translation can use again without growing it.
 * The wasm backend keeps every tensor in one WebAssembly heap that grows and never shrinks:
 * after a training run (a SinCUT reference run grows it to about 2.5 GiB) the process stays
 * that large, but once the run's tensors are disposed almost all of the heap is free, and the
 * heap's allocator gives it to the next tensors. Counting all of the resident set as taken
 * would leave a preview in that process the smallest tiles, whose halo dwarfs their core; the
 * budget (tiled-generator.ts workingBytes) counts this part as available instead.
 *
 * Other backends: the cpu backend's tensors are JavaScript arrays the garbage collector gives
 * back, webgpu's live on the GPU and tfjs-node's in TensorFlow's own allocator; none of them
 * is counted as reusable.
 */
import * as tf from '@tensorflow/tfjs';

/** The wasm heap's size and the bytes of the tensors in it. */
export interface HeapUse {
  heapBytes: number;
  inUseBytes: number;
}

/**
 * Not counted as free: the allocator's own overhead and fragmentation, and what the backend
 * keeps in the heap besides tensors (XNNPACK's packed weights). A fresh process's heap (16 MiB)
 * thus has nothing reusable.
 */
export const HEAP_SLACK_FRACTION = 1 / 16;
const HEAP_SLACK_MIN = 16 * 2 ** 20;

/** The wasm backend's heap, when it is the backend in use; null otherwise. */
export function wasmHeapUse(): HeapUse | null {
  if (tf.getBackend() !== 'wasm') return null;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  if (!heap) return null;
  return { heapBytes: heap.buffer.byteLength, inUseBytes: tf.memory().numBytes };
}

/**
 * Bytes of the heap that the next tensors can take without the process growing: the heap less
 * its tensors and a slack, and never more than the process has resident.
 */
export function reusableHeapBytes(
  use: HeapUse | null = wasmHeapUse(),
  residentBytes: number = process.memoryUsage().rss,
): number {
  if (!use) return 0;
  const slack = Math.max(HEAP_SLACK_MIN, use.heapBytes * HEAP_SLACK_FRACTION);
  return Math.max(0, Math.min(use.heapBytes - use.inUseBytes - slack, residentBytes));
}
