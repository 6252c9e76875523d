/**
 * Local gateway throughput: autocannon POSTs one build.finished delivery to the local
 * kitebridge (local/server.ts: gateway → real verify handler → local bus, whose built-in
 * EventLog rule appends every event to <dataDir>/events.jsonl), then to a bare node:http server
 * on the same machine that drains the request and answers the same 202 JSON. Both servers run
 * in this process, one after the other; autocannon runs in a worker thread so the load
 * generator does not share the servers' event loop. For information, a third target is the
 * same local kitebridge with its events.jsonl a symbolic link to /dev/null: the event log's
 * cost is the difference.
 *
 * Every request must be identical, so the credential is fixed: a signature made once per run
 * (valid for the replay window, 300 s) or, with --auth token, the X-Buildkite-Token header.
 *
 * For information only: local mode is a development tool, so its throughput has no target (the
 * former ≥ 0.5× bare-server target is retired); the figures show what local mode costs.
 *
 *   npx tsx bench/gateway-throughput.ts [--duration 10] [--connections 50] [--rounds 2] [--auth signature|token] [--keep]
 */
import autocannon from 'autocannon';
import { createReadStream, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeSignature } from '../lambda/verify/signature';
import { loadLocalConfig } from '../local/local-config';
import { startLocal } from '../local/server';
import { fmt, kb, machineLine, median, numberFlag, readFixture, stringFlag } from './support';

const DURATION = numberFlag('duration', 10);
const CONNECTIONS = numberFlag('connections', 50);
const ROUNDS = numberFlag('rounds', 2);
const WARMUP_SECONDS = numberFlag('warmup', 2);
const AUTH = stringFlag('auth', 'signature');
const KEEP = process.argv.includes('--keep');

if (AUTH !== 'signature' && AUTH !== 'token') throw new Error('--auth must be signature or token');

/** The bare server: drain the body, answer what the gateway answers to an accepted delivery. */
function startBare(): Promise<{ url: string; close: () => Promise<void> }> {
  const answer = JSON.stringify({ id: '6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e', status: 'published' });
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(202, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(answer),
      });
      response.end(answer);
    });
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function countLines(file: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(file)) {
    for (const byte of chunk as Buffer) if (byte === 10) lines++;
  }
  return lines;
}

interface Run {
  readonly reqPerSec: number;
  readonly total: number;
  readonly p50: number;
  readonly p99: number;
  readonly bad: string;
}

async function load(
  url: string,
  headers: Record<string, string>,
  body: string,
  seconds: number,
): Promise<Run> {
  const result = await autocannon({
    url: `${url}/buildkite`,
    method: 'POST',
    headers,
    body,
    connections: CONNECTIONS,
    duration: seconds,
    workers: 1,
  });
  const problems = [
    result.non2xx ? `${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)})` : '',
    result.errors ? `${result.errors} errors` : '',
    result.timeouts ? `${result.timeouts} timeouts` : '',
  ].filter(Boolean);
  return {
    reqPerSec: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad: problems.join(', '),
  };
}

function describe(run: Run): string {
  return `${fmt(run.reqPerSec, 0).padStart(7)} req/s (${run.total} requests, latency p50 ${run.p50} ms, p99 ${run.p99} ms)${run.bad ? `  !! ${run.bad}` : ''}`;
}

async function main(): Promise<void> {
  console.log(
    'gateway-throughput: local kitebridge gateway vs a bare node:http server answering the same 202',
  );
  console.log(machineLine());
  console.log(
    `settings: autocannon ${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} rounds (order rotates), ${WARMUP_SECONDS} s warm-up per server, load generator in 1 worker thread; auth ${AUTH}`,
  );

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kitebridge-bench-gateway-'));
  const local = await startLocal({ config: loadLocalConfig(), dataDir, log: () => undefined });
  const nullDir = mkdtempSync(path.join(os.tmpdir(), 'kitebridge-bench-gateway-null-'));
  symlinkSync('/dev/null', path.join(nullDir, 'events.jsonl'));
  const noLog = await startLocal({
    config: loadLocalConfig(),
    dataDir: nullDir,
    token: local.token,
    log: () => undefined,
  });
  const bare = await startBare();
  try {
    const body = JSON.stringify(readFixture('build.finished'));
    const headersFor = (): Record<string, string> => {
      const common = {
        'Content-Type': 'application/json',
        'User-Agent': 'Buildkite-Request',
        'X-Buildkite-Event': 'build.finished',
      };
      if (AUTH === 'token') return { ...common, 'X-Buildkite-Token': local.token };
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = computeSignature(local.token, timestamp, Buffer.from(body));
      return { ...common, 'X-Buildkite-Signature': `timestamp=${timestamp},signature=${signature}` };
    };
    console.log(
      `body: fixtures/buildkite/build.finished.json as compact JSON, ${Buffer.byteLength(body)} bytes; every request identical${AUTH === 'signature' ? ' (one signature, re-made before each gateway run, valid for the 300 s replay window)' : ' (X-Buildkite-Token)'}`,
    );
    console.log(
      'local mode: the bus has only its built-in EventLog rule, which appends each event (body + delivery metadata) to events.jsonl through one append stream: that work is in the gateway figures\n',
    );

    // A real delivery first: the gateway must accept it, or the figures mean nothing.
    const probe = await fetch(`${local.url}/buildkite`, { method: 'POST', headers: headersFor(), body });
    const probeText = await probe.text();
    if (probe.status !== 202) throw new Error(`gateway answered ${probe.status} ${probeText}`);
    console.log(`probe: gateway answered ${probe.status} ${probeText}`);

    const targets = [
      { name: 'gateway', url: local.url },
      { name: 'nolog', url: noLog.url },
      { name: 'bare', url: bare.url },
    ] as const;
    type Name = (typeof targets)[number]['name'];
    const label = (name: Name) =>
      ({ gateway: 'gateway', nolog: 'gateway, event log → /dev/null', bare: 'bare' })[name].padEnd(31);
    for (const target of targets) {
      const warm = await load(target.url, headersFor(), body, WARMUP_SECONDS);
      console.log(`warm-up ${label(target.name)} ${describe(warm)}`);
    }

    const runs: Record<Name, Run[]> = { gateway: [], nolog: [], bare: [] };
    const ratios: number[] = [];
    const noLogRatios: number[] = [];
    let gatewayAccepted = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      // Rotate the order each round so no target always runs first or last.
      for (let k = 0; k < targets.length; k++) {
        const target = targets[(round - 1 + k) % targets.length] as (typeof targets)[number];
        const run = await load(target.url, headersFor(), body, DURATION);
        runs[target.name].push(run);
        if (target.name === 'gateway') gatewayAccepted += run.total;
        console.log(`round ${round} ${label(target.name)} ${describe(run)}`);
      }
      const bareRate = (runs.bare[round - 1] as Run).reqPerSec;
      ratios.push((runs.gateway[round - 1] as Run).reqPerSec / bareRate);
      noLogRatios.push((runs.nolog[round - 1] as Run).reqPerSec / bareRate);
      console.log(
        `round ${round} ratio gateway/bare ${fmt(ratios[round - 1] as number)}; without the event log ${fmt(noLogRatios[round - 1] as number)}`,
      );
    }

    await local.bus.drain();
    const eventLog = path.join(dataDir, 'events.jsonl');
    const events = await countLines(eventLog);
    const eventBytes = statSync(eventLog).size;
    console.log(
      `\nevent log: ${events} events, ${kb(eventBytes)} appended to events.jsonl (${fmt(eventBytes / Math.max(events, 1), 0)} bytes per event); measured gateway requests ${gatewayAccepted} + warm-up + probe`,
    );

    const g = runs.gateway.map((r) => r.reqPerSec);
    const n = runs.nolog.map((r) => r.reqPerSec);
    const b = runs.bare.map((r) => r.reqPerSec);
    const range = (values: number[], digits = 0) =>
      `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
    const anyBad = [...runs.gateway, ...runs.nolog, ...runs.bare].some((r) => r.bad);
    console.log('\nsummary (median (min–max) over rounds):');
    console.log('| figure | measured | target | result |');
    console.log('|---|---|---|---|');
    console.log(`| local gateway, ${AUTH} mode | ${range(g)} req/s | – | – |`);
    console.log(`| local gateway, event log → /dev/null | ${range(n)} req/s | – | info |`);
    console.log(`| bare node:http server | ${range(b)} req/s | – | – |`);
    console.log(`| ratio gateway/bare | ${range(ratios, 2)} | – (retired) | info |`);
    console.log(`| ratio gateway without event log/bare | ${range(noLogRatios, 2)} | – | info |`);
    if (anyBad) console.log('WARNING: some runs had non-2xx answers, errors or timeouts (see above).');
  } finally {
    await local.close();
    await noLog.close();
    await bare.close();
    if (KEEP) console.log(`data kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
    rmSync(nullDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
