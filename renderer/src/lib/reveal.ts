/**
 * Brings a new job's card into sight (issue 20: a new card used to appear far below the
 * window): a Svelte action on the card, given whether it is the job StudioState just saw
 * appear; it scrolls the card into view, marks it for a moment, and reports it done.
 */
export interface RevealParams {
  on: boolean;
  done: () => void;
}

export function reveal(node: HTMLElement, params: RevealParams) {
  const run = (p: RevealParams) => {
    if (!p.on) return;
    node.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    node.classList.add('just-started');
    setTimeout(() => node.classList.remove('just-started'), 2000);
    p.done();
  };
  run(params);
  return { update: run };
}
