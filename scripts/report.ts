/**
 * `npm run report`: runs the analytics named queries (the same SQL Athena runs, see
 * lambda/analytics/queries.ts) on DuckDB over the local records file, and writes a self-contained
 * HTML report with inline SVG charts to `<dataDir>/report.html`.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DUCKDB_PRELUDE,
  NAMED_QUERIES,
  duckdbTableStatements,
  renderQuery,
  type QueryName,
} from '../lambda/analytics/queries';
import { localRecordsFile } from '../local/consumers/analytics';

/** A result cell: counts become numbers, timestamps text (`2026-06-03 04:00:00`). */
export type Cell = string | number | boolean | null;
export type Row = Readonly<Record<string, Cell>>;
export type QueryResults = Readonly<Record<QueryName, readonly Row[]>>;

/** The table name the queries read locally (Athena reads the Glue table of the same shape). */
export const LOCAL_TABLE = 'records';

function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return String(value);
}

/**
 * Runs every named query on an in-memory DuckDB over a JSON-lines records file (`null`, a missing
 * or an empty file give empty results).
 */
export async function runNamedQueries(recordsFile: string | null): Promise<QueryResults> {
  const file = recordsFile && existsSync(recordsFile) && statSync(recordsFile).size > 0 ? recordsFile : null;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const statement of [...DUCKDB_PRELUDE, ...duckdbTableStatements(LOCAL_TABLE, file)]) {
      await connection.run(statement);
    }
    const results: Partial<Record<QueryName, Row[]>> = {};
    for (const [name, query] of Object.entries(NAMED_QUERIES) as [
      QueryName,
      (typeof NAMED_QUERIES)[QueryName],
    ][]) {
      const reader = await connection.runAndReadAll(renderQuery(query, LOCAL_TABLE));
      results[name] = reader
        .getRowObjects()
        .map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, toCell(value)])));
    }
    return results as QueryResults;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS = ['#2f6fdf', '#e0733a', '#2a9d6f', '#a64fc4', '#c9a227', '#d94a5b', '#4aa9c9'];

interface BarSeries {
  readonly name: string;
  readonly color: string;
}

interface BarRow {
  readonly label: string;
  readonly values: readonly number[];
}

/** A horizontal bar chart: one group of bars per row, one bar per series. */
export function horizontalBars(
  rows: readonly BarRow[],
  series: readonly BarSeries[],
  format: (value: number) => string,
): string {
  if (rows.length === 0) return '<p class="empty">No data yet.</p>';
  const labelWidth = 260;
  const chartWidth = 460;
  const barHeight = 16;
  const groupGap = 10;
  const groupHeight = series.length * barHeight + groupGap;
  const legendHeight = series.length > 1 ? 24 : 0;
  const height = legendHeight + rows.length * groupHeight + 10;
  const max = Math.max(...rows.flatMap((r) => r.values), 0) || 1;
  const parts: string[] = [];
  series.forEach((s, i) => {
    if (series.length < 2) return;
    parts.push(
      `<rect x="${labelWidth + i * 110}" y="4" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${labelWidth + i * 110 + 16}" y="14" class="legend">${escapeHtml(s.name)}</text>`,
    );
  });
  rows.forEach((row, r) => {
    const top = legendHeight + r * groupHeight;
    parts.push(
      `<text x="${labelWidth - 8}" y="${top + (series.length * barHeight) / 2 + 4}" text-anchor="end" class="label">${escapeHtml(row.label)}</text>`,
    );
    row.values.forEach((value, i) => {
      const width = Math.max(1, (value / max) * chartWidth);
      const y = top + i * barHeight;
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight - 3}" fill="${series[i]?.color ?? COLORS[0]}"><title>${escapeHtml(`${row.label} ${series[i]?.name ?? ''}: ${format(value)}`)}</title></rect>`,
        `<text x="${labelWidth + width + 6}" y="${y + barHeight - 5}" class="value">${escapeHtml(format(value))}</text>`,
      );
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 90}" height="${height}" role="img">${parts.join('')}</svg>`;
}

/** A vertical grouped bar chart: categories along x (hours, days), one bar per series in each. */
export function verticalBars(
  categories: readonly string[],
  series: readonly (BarSeries & { readonly values: readonly (number | null)[] })[],
  format: (value: number) => string,
): string {
  if (categories.length === 0) return '<p class="empty">No data yet.</p>';
  const left = 60;
  const plotHeight = 200;
  const top = 30;
  const bar = 14;
  const groupWidth = Math.max(series.length * bar + 16, 60);
  const width = Math.max(left + categories.length * groupWidth + 60, left + series.length * 130 + 20, 420);
  const height = top + plotHeight + 60;
  const max = Math.max(...series.flatMap((s) => s.values.map((v) => v ?? 0)), 0) || 1;
  const parts: string[] = [
    `<line x1="${left}" y1="${top + plotHeight}" x2="${width - 10}" y2="${top + plotHeight}" class="axis"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" class="value">${escapeHtml(format(max))}</text>`,
    `<text x="${left - 6}" y="${top + plotHeight}" text-anchor="end" class="value">0</text>`,
  ];
  series.forEach((s, i) => {
    parts.push(
      `<rect x="${left + i * 130}" y="4" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${left + i * 130 + 16}" y="14" class="legend">${escapeHtml(s.name)}</text>`,
    );
  });
  categories.forEach((category, c) => {
    const x0 = left + c * groupWidth + 8;
    series.forEach((s, i) => {
      const value = s.values[c];
      if (value === null || value === undefined) return;
      const h = Math.max(1, (value / max) * plotHeight);
      parts.push(
        `<rect x="${x0 + i * bar}" y="${(top + plotHeight - h).toFixed(1)}" width="${bar - 2}" height="${h.toFixed(1)}" fill="${s.color}"><title>${escapeHtml(`${s.name} ${category}: ${format(value)}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0}" y="${top + plotHeight + 14}" class="tick" transform="rotate(30 ${x0} ${top + plotHeight + 14})">${escapeHtml(category)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img">${parts.join('')}</svg>`;
}

function table(rows: readonly Row[]): string {
  const first = rows[0];
  if (!first) return '';
  const columns = Object.keys(first);
  const cell = (v: Cell) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? '—');
  return `<details><summary>Rows (${rows.length})</summary><table><thead><tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map((c) => `<td>${escapeHtml(cell(r[c] ?? null))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></details>`;
}

const seconds = (v: number) => (v >= 120 ? `${(v / 60).toFixed(1)} min` : `${v.toFixed(1)} s`);
const percent = (v: number) => `${(v * 100).toFixed(0)}%`;
const count = (v: number) => String(Math.round(v));
const num = (v: Cell | undefined) => (typeof v === 'number' ? v : Number(v ?? 0));
const text = (v: Cell | undefined, fallback = '(none)') =>
  v === null || v === undefined || v === '' ? fallback : String(v);

export interface ReportMeta {
  readonly generatedAt: Date;
  readonly recordsFile: string;
  readonly recordCount: number;
}

/** The report page: one section per named query, each a chart, its SQL's description and its rows. */
export function renderReport(results: QueryResults, meta: ReportMeta): string {
  const section = (name: QueryName, chart: string) => {
    const q = NAMED_QUERIES[name];
    return `<section><h2>${escapeHtml(q.title)}</h2><p class="desc">${escapeHtml(q.description)} <code>${escapeHtml(q.id)}</code></p>${chart}${table(results[name])}</section>`;
  };

  const hours = [...new Set(results.queueWait.map((r) => text(r.hour)))].sort();
  const queues = [...new Set(results.queueWait.map((r) => text(r.queue)))].sort();
  const days = [...new Set(results.agentsLost.map((r) => text(r.day).slice(0, 10)))].sort();
  const lostQueues = [...new Set(results.agentsLost.map((r) => text(r.queue)))].sort();

  const sections = [
    section(
      'buildTime',
      horizontalBars(
        results.buildTime.map((r) => ({
          label: `${text(r.pipeline)} (${count(num(r.builds))} builds)`,
          values: [num(r.p50_s), num(r.p95_s)],
        })),
        [
          { name: 'p50', color: COLORS[0]! },
          { name: 'p95', color: COLORS[1]! },
        ],
        seconds,
      ),
    ),
    section(
      'failureRate',
      horizontalBars(
        results.failureRate.map((r) => ({
          label: `${text(r.pipeline)} · ${text(r.branch)} (${count(num(r.failed))}/${count(num(r.builds))})`,
          values: [num(r.failure_rate)],
        })),
        [{ name: 'failure rate', color: COLORS[5]! }],
        percent,
      ),
    ),
    section(
      'queueWait',
      verticalBars(
        hours.map((h) => h.slice(0, 13).replace('T', ' ') + 'h'),
        queues.map((queue, i) => ({
          name: queue,
          color: COLORS[i % COLORS.length]!,
          values: hours.map((h) => {
            const row = results.queueWait.find((r) => text(r.hour) === h && text(r.queue) === queue);
            return row ? num(row.p95_wait_s) : null;
          }),
        })),
        seconds,
      ),
    ),
    section(
      'flakyJobs',
      horizontalBars(
        results.flakyJobs.map((r) => ({
          label: `${text(r.pipeline)} · ${text(r.job)}`,
          values: [num(r.flaky_builds)],
        })),
        [{ name: 'builds where it failed, then passed on retry', color: COLORS[3]! }],
        count,
      ),
    ),
    section(
      'agentsLost',
      verticalBars(
        days,
        lostQueues.map((queue, i) => ({
          name: queue,
          color: COLORS[(i + 2) % COLORS.length]!,
          values: days.map((d) => {
            const row = results.agentsLost.find(
              (r) => text(r.day).slice(0, 10) === d && text(r.queue) === queue,
            );
            return row ? num(row.agents_lost) : null;
          }),
        })),
        count,
      ),
    ),
  ];

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kitebridge analytics report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:980px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin:0 0 4px}
section{border:1px solid #dde2ea;border-radius:8px;padding:16px;margin:16px 0;background:#fff}
.desc,.meta{color:#5b6475;margin:0 0 10px}.empty{color:#8a93a3;font-style:italic}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}svg .value,svg .tick{fill:#5b6475}.axis{stroke:#b8c0cc}
table{border-collapse:collapse;margin-top:6px;font-size:12px}td,th{border:1px solid #e3e7ee;padding:3px 8px;text-align:left}
code{font-size:12px;color:#5b6475}
</style></head><body>
<h1>kitebridge analytics</h1>
<p class="meta">${meta.recordCount} records from <code>${escapeHtml(meta.recordsFile)}</code>, generated ${escapeHtml(meta.generatedAt.toISOString())}. Same named queries as the Athena workgroup, run on DuckDB.</p>
${sections.join('\n')}
</body></html>
`;
}

function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '').length;
}

async function main(): Promise<void> {
  const dataDir = process.env.KITEBRIDGE_DATA_DIR ?? path.join(__dirname, '..', '.local-data');
  const recordsFile = localRecordsFile(dataDir);
  const records = countLines(recordsFile);
  if (records === 0) {
    console.log(
      `No records in ${recordsFile} yet: run \`npm start\`, then \`npm run send -- build.finished\`.`,
    );
  }
  const results = await runNamedQueries(recordsFile);
  mkdirSync(dataDir, { recursive: true });
  const out = path.join(dataDir, 'report.html');
  writeFileSync(out, renderReport(results, { generatedAt: new Date(), recordsFile, recordCount: records }));
  console.log(`Report written to ${out}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
