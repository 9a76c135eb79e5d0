/**
 * Text a provider wrote (error descriptions, messages) is shown to people on a
 * terminal and lands in logs. A hostile or broken server could put escape sequences
 * in it that rewrite the screen, hide lines or change the window title, and a
 * careless one may repeat a secret it was sent; so it passes through here first,
 * where it enters a message.
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

/** What stands in for a secret the provider repeated. */
export const REDACTED = '[redacted]';

/** Takes out of a text every secret it knows of. */
export type Redact = (text: string) => string;

const keepAll: Redact = (text) => text;

/**
 * A Redact for these exact strings (each form a secret took on the wire). The longest
 * are matched first, so a secret inside a longer encoded form never leaves a remnant.
 */
export function secretRedactor(forms: Iterable<string | undefined>): Redact {
  const distinct = [...new Set([...forms].filter((form): form is string => Boolean(form)))];
  if (distinct.length === 0) return keepAll;
  const pattern = new RegExp(
    distinct
      .sort((a, b) => b.length - a.length)
      .map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'g',
  );
  return (text) => text.replace(pattern, REDACTED);
}

export interface ProviderTextOptions {
  maxLength?: number;
  /** The secrets of the exchange the text answers: replaced before the text is cut. */
  redact?: Redact;
}

/**
 * The provider's text, safe to print on a terminal: line breaks and tabs become one
 * space, other control characters are dropped, secrets the caller names are replaced
 * with `[redacted]`, and the result is cut to `maxLength`.
 *
 * @example
 * providerText('bad\u001b[2J client\r\nnext') // 'bad[2J client next'
 */
export function providerText(text: string, options: ProviderTextOptions = {}): string {
  const { maxLength = MAX_PROVIDER_TEXT_LENGTH, redact = keepAll } = options;
  // Before and after the clean-up: a control character slipped inside an echoed secret must
  // not hide it, nor may the clean-up split a secret that holds one.
  const printable = redact(redact(text).replace(LINE_BREAKS, ' ').replace(UNPRINTABLE, '')).trim();
  return printable.length > maxLength ? `${printable.slice(0, maxLength)}…` : printable;
}
