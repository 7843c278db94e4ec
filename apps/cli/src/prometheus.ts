/** One sample of Prometheus text exposition: its labels and value. */
export interface MetricSample {
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

/** Every sample of metric `name` whose labels include `labels` (for tests and benchmarks reading /metrics). */
export function metricSamples(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) {
      samples.push({ labels: found, value: Number(match[3]) });
    }
  }
  return samples;
}

/** The sum of the matching samples (0 when none). */
export function metricSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  return metricSamples(text, name, labels).reduce((total, sample) => total + sample.value, 0);
}
