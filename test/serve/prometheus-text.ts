/**
 * A strict reader of the Prometheus text exposition format (0.0.4), enough to check
 * what /metrics serves: every line must be a comment, a HELP, a TYPE or a sample.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedMetrics {
  samples: Sample[];
  types: Map<string, string>;
  /** The value of the one sample with exactly these labels, or undefined. */
  value(name: string, labels: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parsePrometheusText(text: string): ParsedMetrics {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = line.split(' ').slice(1);
      assert.ok(name && type && ['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[3] ?? '';
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let label = LABEL.exec(body); label; label = LABEL.exec(body)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, ch: string) =>
        ch === 'n' ? '\n' : ch,
      );
      consumed = LABEL.lastIndex;
    }
    assert.equal(consumed, body.length, `labels cannot be read: ${line}`);
    const value = Number(match[4] === '+Inf' ? Number.POSITIVE_INFINITY : match[4]);
    assert.ok(!Number.isNaN(value) || match[4] === 'NaN', `not a number: ${line}`);
    samples.push({ name: match[1] as string, labels, value });
  }
  return {
    samples,
    types,
    value(name, wanted) {
      const found = samples.filter(
        (s) =>
          s.name === name &&
          Object.keys(s.labels).length === Object.keys(wanted).length &&
          Object.entries(wanted).every(([k, v]) => s.labels[k] === v),
      );
      return found.length === 1 ? found[0]?.value : undefined;
    },
  };
}
