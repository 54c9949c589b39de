/** A small seeded texture written as a PNG (RGB, or one gray channel): pairs for SinCUT tests. */
import sharp from 'sharp';

export async function writeTexturePng(
  file: string,
  width: number,
  height: number,
  seed: number,
  gray = false,
): Promise<string> {
  const channels = gray ? 1 : 3;
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * 13 + seed * 71 + ((i / 97) | 0)) % 256;
  const img = sharp(px, { raw: { width, height, channels } });
  await (gray ? img.toColourspace('b-w') : img).png().toFile(file);
  return file;
}
