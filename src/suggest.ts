/** "Did you mean": the closest known word to a typo, when one is close enough to be a guess. */

/** The known word nearest to `typed`, or undefined when none is plausibly meant. */
export function didYouMean(typed: string, known: readonly string[]): string | undefined {
  return similar(typed, known)[0];
}

/** Known words close to `typed`, nearest first: a few typos away, or one starts with the other. */
export function similar(typed: string, known: readonly string[]): string[] {
  const lower = typed.toLowerCase();
  // Short words allow one edit; longer ones two. More would suggest unrelated words.
  const allowed = lower.length <= 4 ? 1 : 2;
  return known
    .map((word) => ({ word, distance: editDistance(lower, word.toLowerCase()) }))
    .filter(
      ({ word, distance }) =>
        distance <= allowed ||
        (lower.length >= 3 && (word.toLowerCase().startsWith(lower) || lower.startsWith(word.toLowerCase()))),
    )
    .sort((a, b) => a.distance - b.distance || a.word.localeCompare(b.word))
    .map(({ word }) => word);
}

/** Levenshtein distance, counting a swap of two neighbours as one edit (typos often are). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[rows - 1]![cols - 1]!;
}
