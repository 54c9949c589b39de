/**
 * Writes resources/samples/ (the demo's and the app's "try it with samples" images) from
 * ../shared/datasets/photos: a source domain, a target domain given the known-answer grade,
 * and held-out photos with their graded truth. Every photo is first brought to one brightness
 * and contrast (normalisedPhoto: CUT's generator cannot see those, so the grade is learnable
 * only on such photos). Run once: `npx tsx test/support/make-samples.ts`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { gradeImage, normalisedPhoto } from './known-answer';

const root = fileURLToPath(new URL('../../', import.meta.url));
const photos = path.join(root, '../shared/datasets/photos');
const out = path.join(root, 'resources/samples');

const SPLIT = {
  source: ['aqua', 'dune', 'garden', 'ladybird', 'storm'],
  target: ['blinds', 'freshflower', 'greenmeadow', 'raindrops', 'wood'],
  'held-out': ['twowings', 'yellowflower'],
};
const SHORT_SIDE = 160;

async function write(name: string, folder: string, graded: boolean) {
  mkdirSync(path.join(out, folder), { recursive: true });
  const small = await sharp(await normalisedPhoto(path.join(photos, `${name}.jpg`)))
    .resize({ width: SHORT_SIDE, height: SHORT_SIDE, fit: 'outside' })
    .toBuffer();
  const img = graded ? gradeImage(small) : sharp(small);
  await img.jpeg({ quality: 90 }).toFile(path.join(out, folder, `${name}.jpg`));
}

for (const name of SPLIT.source) await write(name, 'source', false);
for (const name of SPLIT.target) await write(name, 'target', true);
for (const name of SPLIT['held-out']) {
  await write(name, 'held-out', false);
  await write(name, 'held-out-truth', true);
}
console.log(`samples written to ${out}`);
