/**
 * Counters and histograms in the Prometheus text format (version 0.0.4), for `GET /metrics`.
 * Written here rather than with `prom-client`: the relay needs a handful of counters, one
 * histogram and gauges read at scrape time, which is some sixty lines without a dependency
 * (and without prom-client's global default registry).
 */

type Labels = Readonly<Record<string, string>>;

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly values: Map<string, number>;
}

/** Latency buckets in seconds (routing: hello to the Edge's data connection). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, type: Family['type'], help: string): Family {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { help, type, values: new Map() };
      this.#families.set(name, f);
    }
    return f;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, 'counter', help);
    const key = labelText(labels);
    f.values.set(key, (f.values.get(key) ?? 0) + by);
  }

  observe(name: string, help: string, labels: Labels, seconds: number): void {
    const f = this.#family(name, 'histogram', help);
    for (const le of [...BUCKETS.map(String), '+Inf']) {
      const key = `_bucket${labelText({ ...labels, le })}`;
      f.values.set(key, (f.values.get(key) ?? 0) + (le === '+Inf' || seconds <= Number(le) ? 1 : 0));
    }
    for (const [suffix, by] of [['_sum', seconds], ['_count', 1]] as const) {
      const key = `${suffix}${labelText(labels)}`;
      f.values.set(key, (f.values.get(key) ?? 0) + by);
    }
  }

  /** The exposition: the counted families, then `gauges` (and counters kept elsewhere) as read now. */
  render(gauges: readonly (readonly [name: string, help: string, values: readonly (readonly [Labels, number])[], type?: 'counter'])[]): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [key, v] of f.values) out.push(`${name}${key} ${v}`);
    }
    for (const [name, help, values, type] of gauges) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type ?? 'gauge'}`);
      for (const [labels, v] of values) out.push(`${name}${labelText(labels)} ${v}`);
    }
    return `${out.join('\n')}\n`;
  }
}
