/**
 * Turns a SIPp driver run (run.ts --out FILE.json) into the worker-sweep
 * chart: bench/results/sweep-<time>.svg, linked from bench/RESULTS.md with a
 * compact table. Used by `switchyard bench`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { sweepChartSvg, type SweepBar } from './chart';

interface Point {
  target: string;
  rate: number;
  proxyCpuPer1000: number;
  pass: boolean;
}

interface RunJson {
  command: string;
  started: string;
  commit: string;
  machine: string;
  points: Point[];
  ramp?: { target: string; best: Point | null }[];
}

/**
 * Bars per target: the highest passing ramp rate, and the CPU per call at
 * 1,000 calls/s when that point was measured, else at the highest passing
 * rate, else at the lowest rate tried (the rate is kept for the table).
 */
export function barsOf(run: RunJson): (SweepBar & { cpuAt: number | undefined })[] {
  const targets = [...new Set(run.points.map((p) => p.target))];
  return targets.map((t) => {
    const best = run.ramp?.find((r) => r.target === t)?.best ?? undefined;
    const mine = run.points.filter((p) => p.target === t).sort((a, b) => a.rate - b.rate);
    const cpuPoint = mine.find((p) => p.rate === 1000) ?? best ?? mine[0];
    return {
      label: t,
      maxRate: run.ramp ? (best?.rate ?? 0) : undefined,
      cpuMsPerCall: cpuPoint?.proxyCpuPer1000,
      cpuAt: cpuPoint?.rate,
    };
  });
}

/** Writes the SVG and appends its section to RESULTS.md; returns the SVG path. */
export function appendChart(jsonFile: string, benchDir: string): string {
  const run = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as RunJson;
  const bars = barsOf(run);
  const stamp = run.started.replace(/[:.]/g, '-');
  const dir = path.join(benchDir, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const svgName = `sweep-${stamp}.svg`;
  const caption = `${run.started.slice(0, 10)}, commit ${run.commit}, ${run.machine}; CPU per call at 1,000 calls/s where measured (see table)`;
  fs.writeFileSync(path.join(dir, svgName), sweepChartSvg(bars, caption));
  const rows = bars.map(
    (b) =>
      `| ${b.label} | ${b.maxRate === undefined ? '-' : b.maxRate.toLocaleString('en-US')} | ${b.cpuMsPerCall === undefined ? '-' : b.cpuMsPerCall.toFixed(3)} | ${b.cpuAt?.toLocaleString('en-US') ?? '-'} |`,
  );
  const md = [
    '',
    `### Worker sweep chart — ${run.started}`,
    '',
    `- command: \`${run.command}\``,
    `- git commit: ${run.commit}; machine: ${run.machine}`,
    '',
    `![calls/s and CPU per call by worker count](results/${svgName})`,
    '',
    '| target | highest 0-failure rate (calls/s) | proxy CPU ms per call | CPU measured at (calls/s) |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
  fs.appendFileSync(path.join(benchDir, 'RESULTS.md'), md);
  return path.join(dir, svgName);
}

if (require.main === module) {
  const [json, benchDir] = process.argv.slice(2);
  if (!json) {
    process.stderr.write('usage: node dist/bench/sipp/chart-report.js RUN.json [BENCH_DIR]\n');
    process.exit(2);
  }
  process.stdout.write(`${appendChart(json, benchDir ?? path.join(__dirname, '..', '..', '..', 'bench'))}\n`);
}
