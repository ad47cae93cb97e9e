// Test helpers shared by the analysis tests (not built into dist).

/**
 * One fuzz case: `base` changed 1-8 times at random places — a piece inserted, up to `cut` characters removed,
 * the rest dropped, up to `dup` characters repeated, or a character replaced — with `rand` from prng(seed).
 */
export function mutateText(
  base: string,
  rand: () => number,
  pieces: string[],
  opts: { cut: number; dup: number },
): string {
  let s = base;
  const ops = 1 + Math.floor(rand() * 8);
  for (let k = 0; k < ops; k++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    if (op < 0.4) s = s.slice(0, at) + pieces[Math.floor(rand() * pieces.length)] + s.slice(at);
    else if (op < 0.6) s = s.slice(0, at) + s.slice(at + Math.floor(rand() * opts.cut));
    else if (op < 0.75) s = s.slice(0, at);
    else if (op < 0.9) s = s.slice(0, at) + s.slice(at, at + opts.dup) + s.slice(at);
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + s.slice(at + 1);
  }
  return s;
}
