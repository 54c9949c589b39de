// Svelte 5 with runes everywhere; TypeScript in components is type-only (no preprocessor).
export default {
  compilerOptions: { runes: true },
};
