/**
 * A word as a POSIX shell reads it back, for the commands messages tell a person to run: as
 * it is when it holds only characters no shell treats specially, else in single quotes (a
 * quote inside is closed, escaped and reopened).
 */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9._@%+=:,/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
