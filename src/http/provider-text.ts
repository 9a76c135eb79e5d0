/**
 * Text a provider wrote (error descriptions, messages) is shown to people on a
 * terminal. A hostile or broken server could put escape sequences in it that
 * rewrite the screen, hide lines or change the window title, so it passes
 * through here first, where it enters a message.
 */

/** Line breaks and tabs: they become a space, so the words around them stay apart. */
const LINE_BREAKS = /[\t\n\v\f\r]+/g;
/**
 * Every other C0 and C1 control character (ESC included), DEL, and the bidirectional
 * controls that reorder what the reader sees: they are dropped.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Longer than any real error description; a page of HTML is cut here. */
export const MAX_PROVIDER_TEXT_LENGTH = 500;

/**
 * The provider's text, safe to print on a terminal: line breaks and tabs become one
 * space, other control characters are dropped, and the result is cut to `maxLength`.
 *
 * @example
 * providerText('bad\u001b[2J client\r\nnext') // 'bad[2J client next'
 */
export function providerText(text: string, maxLength = MAX_PROVIDER_TEXT_LENGTH): string {
  const printable = text.replace(LINE_BREAKS, ' ').replace(UNPRINTABLE, '').trim();
  return printable.length > maxLength ? `${printable.slice(0, maxLength)}…` : printable;
}
