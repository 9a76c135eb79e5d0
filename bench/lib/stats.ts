/** Small statistics and formatting helpers for benchmark figures. */

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The largest value (NaN for none), in a loop: spreading 100,000s of values as arguments overflows the stack. */
export function maximum(values: readonly number[]): number {
  let largest = Number.NaN;
  for (const value of values) if (Number.isNaN(largest) || value > largest) largest = value;
  return largest;
}

/** Linear-interpolated quantile (q in [0, 1]) of a non-empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] as number;
  const highValue = sorted[high] as number;
  return lowValue + (highValue - lowValue) * (position - low);
}

/** 12,345 / 1.23 M / 0.97: a figure for a table, with the precision a reader needs. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  return Math.round(value).toLocaleString('en-US');
}

export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '-';
}

export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${value.toFixed(0)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function formatBytes(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let unit = 0;
  let scaled = value;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${scaled.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** "min–max" of a list, formatted: the spread a median came from. */
export function formatSpread(values: readonly number[], format: (value: number) => string): string {
  if (values.length === 0) return '-';
  return `${format(Math.min(...values))} – ${format(Math.max(...values))}`;
}
