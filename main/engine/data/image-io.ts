/**
 * Images in and out (DESIGN.md "Images in and out"), on sharp/libvips and plain typed arrays:
 * the one import for the rest of the app, its parts split by what each owns:
 * - image-decode.ts: decode to sRGB floats in [-1, 1], orientation and ICC applied;
 * - image-preprocess.ts: the reference's training preprocessing geometry in one pipeline;
 * - image-encode.ts: encode to the output formats (shared/image-formats.ts), 8 or 16 bits;
 * - image-colour.ts: the ICC profile decisions of both directions;
 * - image-metadata.ts: EXIF/XMP/ICC blocks patched into containers by hand;
 * - image-write.ts: atomic writes that never replace an input;
 * - image-errors.ts: ImageReadError and ImageWriteError.
 */
export {
  ImageReadError,
  ImageWriteError,
  type ImageReadReason,
  type ImageWriteReason,
} from './image-errors';
export {
  DEFAULT_MAX_PIXELS,
  decodeImage,
  decodeImagePixels,
  openImage,
  pixelsToFloat,
  readImageInfo,
  type DecodedImage,
  type DecodedPixels,
  type ImageInfo,
  type ImageInput,
  type OpenedImage,
  type PixelBuffer,
  type ReadOptions,
  type SourceMetadata,
} from './image-decode';
export { isSrgbProfile } from './image-colour';
export {
  DEFAULT_MAX_SIZE,
  flipHorizontal,
  planPreprocess,
  resizeForTraining,
  type PreprocessParams,
  type PreprocessPlan,
  type Rect,
} from './image-preprocess';
export { OUTPUT_FORMATS, type OutputFormat } from '../../../shared/image-formats';
export {
  encodeImage,
  encodePixels,
  floatToPixels,
  type EncodedImage,
  type EncodeOptions,
} from './image-encode';
export {
  formatForPath,
  writeFileAtomic,
  writeImageAtomic,
  type WriteOptions,
  type WriteResult,
} from './image-write';
