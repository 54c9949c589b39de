/**
 * Translate one image with a generator, untiled: reflect-pad to multiples of 4 (the network
 * downsamples twice), run G, crop back, so the output has exactly the input's size. The
 * seamless tiled path for large images builds on the same contract.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResnetGenerator } from '../model/generator';

export interface RgbFloatImage {
  /** HWC, 3 channels, values in [−1, 1]. */
  data: Float32Array;
  width: number;
  height: number;
}

/** Smallest side the generator accepts after padding (two downsamplings and reflect pads). */
export const MIN_SIDE = 8;

/** Any generator with CUT's forward contract (CUT's own, or an imported CycleGAN one). */
export type Translating = Pick<ResnetGenerator, 'forward'>;

/**
 * G(image) at the image's size, read with `await tensor.data()`: what every backend supports
 * (webgpu in Node has no synchronous read).
 */
export async function translateImageAsync(
  G: Translating,
  image: RgbFloatImage,
): Promise<RgbFloatImage> {
  const out = forwardCropped(G, image);
  try {
    return { data: (await out.data()) as Float32Array, width: image.width, height: image.height };
  } finally {
    out.dispose();
  }
}

/** G on the image padded to multiples of 4, cropped back: [1, H, W, 3]. */
function forwardCropped(G: Translating, image: RgbFloatImage): tf.Tensor4D {
  const { width, height, data } = image;
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new RangeError(`image is ${width}×${height}; at least ${MIN_SIDE}×${MIN_SIDE} is needed`);
  }
  if (data.length !== width * height * 3) {
    throw new RangeError(
      `expected ${width * height * 3} values for ${width}×${height} RGB, got ${data.length}`,
    );
  }
  return tf.tidy(() => {
    const padded = padToMultipleOf4(image); // [1, H', W', 3]
    const y = G.forward(padded);
    return tf.slice(y, [0, 0, 0, 0], [1, height, width, 3]);
  });
}

/**
 * The image as a [1, H', W', 3] tensor whose sides are the next multiples of 4 (what the
 * generator needs), the extra rows and columns reflected at the bottom and right; the caller
 * crops them off its result again.
 */
export function padToMultipleOf4(image: RgbFloatImage): tf.Tensor4D {
  const { width, height, data } = image;
  return tf.tidy(() =>
    tf.mirrorPad(
      tf.tensor4d(data, [1, height, width, 3]),
      [
        [0, 0],
        [0, (4 - (height % 4)) % 4],
        [0, (4 - (width % 4)) % 4],
        [0, 0],
      ],
      'reflect',
    ),
  );
}
