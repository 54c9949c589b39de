/**
 * Sizes through the networks, as plain arithmetic, so options can be checked before any
 * tensor exists (and the engine can refuse what would silently produce an empty map).
 */
/** Side of the patch map for an input side: each conv4 (pad 1) takes one, each blur halves. */
export function discriminatorOutputSide(side: number, nLayers: number): number {
  let s = side;
  for (let n = 0; n < nLayers; n++) {
    s -= 1; // conv4, zero pad 1
    if (s < 2) return 0; // the blur's reflect pad needs two pixels
    s = Math.floor((s - 1) / 2) + 1; // blur-downsample
  }
  return Math.max(0, s - 2); // two more conv4s
}

/** Smallest input side that leaves the discriminator at least one patch. */
export function minDiscriminatorSide(nLayers: number): number {
  let side = 4;
  while (discriminatorOutputSide(side, nLayers) < 1) side += 1;
  return side;
}
