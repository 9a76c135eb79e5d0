/** True when `text` holds a C0 or C1 control character or DEL: what must never reach a terminal from a provider. */
export function hasControlCharacter(text: string): boolean {
  return [...text].some((char) => {
    const code = char.codePointAt(0)!;
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
}
