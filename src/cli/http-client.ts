/**
 * The service API over HTTP: a client of the REST API of the `ssdtune serve`
 * that holds the ConfDB. Errors come back as the coded errors the server
 * raised (same code, same exit code); a tune is a job, polled until it ends.
 */
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERR_SERVER_UNREACHABLE, ERR_TRACE_OPEN, ERR_USAGE, errorFromCode, isSsdtuneError } from '../errors.js';
import { HostLocal } from '../service/local.js';
import {
  jobOutcome,
  KINDS,
  type AgentReport,
  type ApplyOutcome,
  type ApplyRequest,
  type PinRecord,
  type PinRequest,
  type Recommendation,
  type Counts,
  type Health,
  type IdentifyMethod,
  type IdentifyOutcome,
  type JobRecord,
  type Kind,
  type OnProgress,
  type Page,
  type RecordOf,
  type RetuneDecision,
  type RetuneRequest,
  type RevertOutcome,
  type RevertRequest,
  type SsdtuneApi,
  type TraceOptions,
  type TraceRecord,
  type TuneArgs,
  type TuneResult,
  type TuneSpec,
  type VerifyOutcome,
} from '../service/api.js';

const POLL_MS = 250;

export class HttpApi extends HostLocal implements SsdtuneApi {
  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    /** Recorded by the server as who asked (audit and device records). */
    private readonly actor = 'cli',
    /** Give up on a request (not an upload) after this long: a fleet agent then works from its cache. */
    private readonly o: { timeoutMs?: number } = {},
  ) {
    super();
  }

  private async send(method: string, route: string, body?: { json: unknown } | { stream: Readable; type: string }): Promise<Response> {
    const headers: Record<string, string> = { 'x-ssdtune-actor': this.actor };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: string | Readable | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = body.type;
      payload = body.stream;
    }
    let res: Response;
    try {
      res = await fetch(new URL(route, this.endpoint), {
        method,
        headers,
        ...(payload !== undefined ? { body: payload, duplex: 'half' } : {}),
        // Uploads take as long as their bytes do.
        ...(this.o.timeoutMs && !(payload instanceof Readable) ? { signal: AbortSignal.timeout(this.o.timeoutMs) } : {}),
      } as RequestInit);
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause;
      throw ERR_SERVER_UNREACHABLE(this.endpoint, cause?.message ?? (e as Error).message);
    }
    if (!res.ok) {
      const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string; field?: string } };
      throw errorFromCode(
        data.error?.code ?? 'SSDTUNE_REMOTE',
        data.error?.message ?? `${method} ${route}: ${res.status} ${res.statusText}`,
        res.status,
        typeof data.error?.field === 'string' ? data.error.field : undefined,
      );
    }
    return res;
  }

  private async call<T>(method: string, route: string, json?: unknown): Promise<T> {
    return (await (await this.send(method, route, json === undefined ? undefined : { json })).json()) as T;
  }

  /**
   * Paths are made absolute here: the server resolves them on its host, from
   * its own working directory. The server registers by path only under its
   * upload directory and `traceDirs` (SSDTUNE_PERMISSION otherwise): then the
   * file is uploaded (streamed) instead, so the command works the same.
   */
  async addTrace(file: string, o: TraceOptions = {}): Promise<TraceRecord> {
    try {
      return await this.call<TraceRecord>('POST', '/v1/traces/register', { path: path.resolve(file), ...(o.format ? { format: o.format } : {}) });
    } catch (e) {
      if (!isSsdtuneError(e, 'SSDTUNE_PERMISSION')) throw e;
    }
    return this.uploadFile(file, o);
  }

  /** A local file uploaded (streamed); one this process cannot read is a coded error, not a broken upload. */
  private async uploadFile(file: string, o: TraceOptions = {}): Promise<TraceRecord> {
    const fh = await fsp.open(file).catch((e: NodeJS.ErrnoException) => {
      throw ERR_TRACE_OPEN(file, e.code === 'ENOENT' ? 'no such file' : `cannot open it (${e.code ?? e.message})`);
    });
    return this.uploadTrace(fh.createReadStream(), path.basename(file), o);
  }

  async uploadTrace(body: Readable, name: string, o: TraceOptions = {}): Promise<TraceRecord> {
    const format = o.format ? `&format=${encodeURIComponent(o.format)}` : '';
    return (await (
      await this.send('POST', `/v1/traces?name=${encodeURIComponent(name)}${format}`, { stream: body, type: 'application/octet-stream' })
    ).json()) as TraceRecord;
  }

  deleteTrace(id: string): Promise<TraceRecord> {
    return this.call<TraceRecord>('DELETE', `/v1/traces/${encodeURIComponent(id)}`);
  }

  async tune(trace: string, args: TuneArgs, o: { onProgress?: OnProgress } = {}): Promise<TuneResult> {
    // The server validates the request before it registers the trace, as in-process: a refusal of
    // the path (not under the directories the server may read) means the request itself was good.
    let job: JobRecord;
    try {
      ({ job } = await this.call<{ job: JobRecord }>('POST', '/v1/tune', { trace: path.resolve(trace), ...args }));
    } catch (e) {
      if (!isSsdtuneError(e, 'SSDTUNE_PERMISSION')) throw e;
      const rec = await this.uploadFile(trace, args.format ? { format: args.format } : {});
      ({ job } = await this.submitTune({ ...args, traceId: rec.id }, { force: true }));
    }
    return jobOutcome<TuneResult>(await this.waitJob(job.id, o));
  }

  submitTune(spec: TuneSpec, o: { force?: boolean } = {}): Promise<{ job: JobRecord; deduplicated: boolean }> {
    return this.call('POST', '/v1/jobs', { ...spec, ...(o.force ? { force: true } : {}) });
  }

  async waitJob(id: string, o: { onProgress?: OnProgress } = {}): Promise<JobRecord> {
    for (;;) {
      const job = await this.get('jobs', id);
      o.onProgress?.(job.progress.done, job.progress.total, job.progress.message);
      if (job.status !== 'queued' && job.status !== 'running') return job;
      await sleep(POLL_MS);
    }
  }

  cancelJob(id: string): Promise<JobRecord> {
    return this.call('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  resumeJob(id: string): Promise<JobRecord> {
    return this.call('POST', `/v1/jobs/${encodeURIComponent(id)}/resume`);
  }

  list<K extends Kind>(kind: K, o: { limit?: number; after?: string } = {}): Promise<Page<RecordOf[K]>> {
    const q = new URLSearchParams({ limit: String(o.limit ?? 100), ...(o.after ? { after: o.after } : {}) });
    return this.call('GET', `/v1/${kind}?${q}`);
  }

  get<K extends Kind>(kind: K, id: string): Promise<RecordOf[K]> {
    return this.call('GET', `/v1/${kind}/${encodeURIComponent(id)}`);
  }

  async exportRecords(out: Writable): Promise<Counts> {
    const res = await this.send('GET', '/v1/export');
    const counts: Record<string, number> = {};
    let rest = '';
    // Count the records per kind as the lines pass through (line 1 is the header).
    for await (const chunk of Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream<Uint8Array>)) {
      const text = rest + Buffer.from(chunk as Uint8Array).toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const kind = /^\{"kind":"([a-z]+)"/.exec(l)?.[1];
        if (kind) counts[kind] = (counts[kind] ?? 0) + 1;
      }
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return Object.fromEntries(KINDS.map((k) => [k, counts[k] ?? 0])) as Counts;
  }

  async importRecords(input: Readable, name: string): Promise<Counts> {
    return (await (await this.send('POST', `/v1/import?name=${encodeURIComponent(name)}`, { stream: input, type: 'application/x-ndjson' })).json()) as Counts;
  }

  async compact(): Promise<void> {
    await this.call('POST', '/v1/compact');
  }

  health(): Promise<Health> {
    return this.call('GET', '/v1/health');
  }

  apply(r: ApplyRequest): Promise<ApplyOutcome> {
    const { device, ...body } = r;
    return this.call('POST', `/v1/devices/${encodeURIComponent(device)}/apply`, body);
  }

  revert(device: string, o: RevertRequest = {}): Promise<RevertOutcome> {
    return this.call('POST', `/v1/devices/${encodeURIComponent(device)}/revert`, o);
  }

  verify(device: string): Promise<VerifyOutcome> {
    return this.call('GET', `/v1/devices/${encodeURIComponent(device)}/verify`);
  }

  retune(r: RetuneRequest): Promise<RetuneDecision> {
    const { device, fleet, ...body } = r;
    // An agent applies on its own host with its own ConfDB holding the way back; a server retunes its own devices.
    if (fleet)
      throw ERR_USAGE(
        `a fleet agent retunes ${device} through this host's ConfDB, which the server at ${this.endpoint} holds: stop that server or give this agent its own --data-dir`,
      );
    return this.call('POST', `/v1/devices/${encodeURIComponent(device)}/retune`, body);
  }

  identify(traceId: string, o: { method?: IdentifyMethod } = {}): Promise<IdentifyOutcome> {
    return this.call('POST', '/v1/identify', { traceId, ...o });
  }

  fleetReport(r: AgentReport): Promise<Recommendation> {
    return this.call('POST', '/v1/fleet/reports', r);
  }

  async fleetCapture(workloadId: string, deviceClass: string, body: Readable, o: { host?: string } = {}): Promise<{ job: JobRecord; deduplicated: boolean }> {
    const q = new URLSearchParams({ deviceClass, ...(o.host ? { host: o.host } : {}) });
    return (await (
      await this.send('POST', `/v1/fleet/workloads/${encodeURIComponent(workloadId)}/capture?${q}`, { stream: body, type: 'application/octet-stream' })
    ).json()) as { job: JobRecord; deduplicated: boolean };
  }

  pin(p: PinRequest): Promise<PinRecord> {
    return this.call('PUT', '/v1/fleet/pins', p);
  }

  async unpin(workloadId: string, o: { deviceClass?: string } = {}): Promise<void> {
    const q = new URLSearchParams({ workloadId, ...(o.deviceClass ? { deviceClass: o.deviceClass } : {}) });
    await this.send('DELETE', `/v1/fleet/pins?${q}`);
  }

  async close(): Promise<void> {}
}
