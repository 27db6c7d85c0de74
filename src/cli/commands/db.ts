/** `ssdtune db list|show|export|import|compact`: look into and move the ConfDB. */
import type { Command } from 'commander';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { ERR_CONFDB_EXPORT, ERR_CONFDB_IMPORT, ERR_USAGE } from '../../errors.js';
import { isStandardOutput, writeAtomically } from '../../util/atomic-file.js';
import { intOption } from '../options.js';
import { KINDS, ssdConfigXml, type ConfigRecord, type Counts, type Kind, type SsdtuneApi } from '../../service/api.js';
import { fmtBytes, fmtCount, fmtNs, table } from '../../util/units.js';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';

function kindArg(k: string): Kind {
  if (!(KINDS as readonly string[]).includes(k)) throw ERR_USAGE(`unknown record kind "${k}"; one of ${KINDS.join(', ')}`);
  return k as Kind;
}

/** A time as people read it in a table: to the second, UTC. */
function when(iso: unknown): string {
  return typeof iso === 'string' ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

// -0.0003 prints as 0.000, not -0.000.
const num = (v: unknown, digits = 3): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits).replace(/^-(0\.0*)$/, '$1') : '-');
const text = (v: unknown): string => (v === undefined || v === null || v === '' ? '-' : String(v));

/** One column of `db list`: header, cell, right-aligned (numbers). */
type Column = [header: string, cell: (r: Record<string, unknown>, names: Map<string, string>) => string, right?: boolean];

/** The workload a record belongs to, by name when it is stored. */
const workloadCell = (r: Record<string, unknown>, names: Map<string, string>): string =>
  typeof r.workloadId === 'string' ? (names.get(r.workloadId) ?? r.workloadId) : '-';

const COLUMNS: Partial<Record<Kind, Column[]>> = {
  workloads: [
    ['id', (r) => text(r.id)],
    ['name', (r) => text(r.name)],
    ['format', (r) => text((r.source as { format?: string } | undefined)?.format)],
    [
      'requests',
      (r) => {
        const n = (r.source as { requests?: number } | undefined)?.requests;
        return n === undefined ? '-' : fmtCount(n);
      },
      true,
    ],
    ['created', (r) => when(r.createdAt)],
  ],
  configs: [
    ['id', (r) => text(r.id)],
    ['space', (r) => text(r.space)],
    ['workload', workloadCell],
    ['evaluator', (r) => text(r.evaluator)],
    ['grade', (r) => num(r.grade), true],
    ['created', (r) => when(r.createdAt)],
  ],
  evaluations: [
    ['id', (r) => text(r.id)],
    ['workload', workloadCell],
    ['evaluator', (r) => text(r.evaluator)],
    ['status', (r) => text(r.status)],
    ['grade', (r) => num(r.grade), true],
    ['took', (r) => (typeof r.durationMs === 'number' ? fmtNs(r.durationMs * 1e6) : '-'), true],
    ['at', (r) => when(r.at)],
  ],
  devices: [
    ['device', (r) => text(r.device)],
    ['config', (r) => text(r.appliedConfigId)],
    [
      'applied',
      (r) =>
        Object.entries((r.applied as Record<string, string> | undefined) ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || '-',
    ],
    ['at', (r) => when(r.appliedAt)],
    ['by', (r) => text(r.by)],
    // Whose device: a shared ConfDB may hold another host's record of a disk of the same name.
    ['host', (r) => text((r.recordedOn as { name?: string } | undefined)?.name)],
  ],
  jobs: [
    ['id', (r) => text(r.id)],
    ['kind', (r) => text(r.kind)],
    ['status', (r) => text(r.status)],
    [
      'progress',
      (r) => {
        const p = r.progress as { done: number; total: number } | undefined;
        return p ? `${p.done}/${p.total}` : '-';
      },
      true,
    ],
    ['updated', (r) => when(r.updatedAt)],
  ],
  traces: [
    ['id', (r) => text(r.id)],
    ['name', (r) => text(r.name)],
    ['format', (r) => text(r.format)],
    ['size', (r) => (typeof r.bytes === 'number' ? fmtBytes(r.bytes) : '-'), true],
    ['added', (r) => when(r.uploadedAt)],
    ['by', (r) => text(r.by)],
  ],
  audit: [
    ['at', (r) => when(r.at)],
    ['actor', (r) => text(r.actor)],
    ['action', (r) => text(r.action)],
    ['id', (r) => text(r.id)],
  ],
  pins: [
    ['workload', workloadCell],
    ['space', (r) => text(r.space)],
    ['device class', (r) => text(r.deviceClass)],
    ['config', (r) => text(r.configId)],
    ['by', (r) => text(r.by)],
    ['at', (r) => when(r.at)],
  ],
  results: [
    ['key', (r) => (typeof r.id === 'string' ? r.id.slice(0, 16) : '-')],
    ['status', (r) => text(r.status)],
    ['took', (r) => (typeof r.ms === 'number' ? fmtNs(r.ms * 1e6) : '-'), true],
    ['worker', (r) => text(r.worker)],
    ['at', (r) => when(r.at)],
  ],
  agents: [
    ['host/device', (r) => text(r.id)],
    ['device class', (r) => text(r.deviceClass)],
    ['workload', workloadCell],
    ['config', (r) => text(r.configId)],
    ['at', (r) => when(r.at)],
  ],
};

/** Columns of a kind without a layout of its own: its key and its scalar fields. */
function genericColumns(items: Record<string, unknown>[]): Column[] {
  const keys = [...new Set(items.flatMap((r) => Object.keys(r).filter((k) => ['string', 'number', 'boolean'].includes(typeof r[k]))))].slice(0, 6);
  return keys.map((k): Column => [
    k,
    (r) => (typeof r[k] === 'number' ? fmtCount(r[k] as number) : text(r[k])),
    items.every((r) => r[k] === undefined || typeof r[k] === 'number'),
  ]);
}

/** `db list` as a table: a header, human units, workloads by name. */
async function listTable(api: SsdtuneApi, kind: Kind, limit: number): Promise<string[]> {
  const { items, next } = await api.list(kind, { limit });
  if (items.length === 0) return [`no ${kind} stored yet${EMPTY_HINT[kind] ? ` (${EMPTY_HINT[kind]})` : ''}`];
  const rows = items as unknown as Record<string, unknown>[];
  const names = new Map<string, string>();
  for (const id of new Set(rows.map((r) => r.workloadId).filter((w): w is string => typeof w === 'string'))) {
    // A record can outlive its workload (an import of part of a ConfDB): its id stands in for the name then.
    const w = await api.get('workloads', id).catch(() => undefined);
    if (w) names.set(id, w.name);
  }
  const cols = COLUMNS[kind] ?? genericColumns(rows);
  const out = table(
    cols.map((c) => c[0]),
    rows.map((r) => cols.map((c) => c[1](r, names))),
    cols.map((c) => c[2] ?? false),
  );
  if (next) out.push(`(the first ${items.length}; --limit N shows more)`);
  return out;
}

const EMPTY_HINT: Partial<Record<Kind, string>> = {
  workloads: '`ssdtune tune <trace>` learns one',
  configs: '`ssdtune tune <trace>` learns one',
  devices: '`ssdtune apply` records each device it changes',
};

export function register(program: Command): void {
  const db = program.command('db').description('inspect, export, import and compact the ConfDB');

  addCommonOptions(db.command('list <kind>').description(`list records: ${KINDS.join(', ')}`))
    .option('--limit <n>', 'at most n records', intOption('limit', 1), 100)
    .action(async (k: string, o: CommonOptions & { limit: number }) => {
      const kind = kindArg(k);
      if (o.json) console.log(JSON.stringify((await withApi(o, (api) => api.list(kind, { limit: o.limit }))).items, null, 2));
      else for (const line of await withApi(o, (api) => listTable(api, kind, o.limit))) console.log(line);
    });

  addCommonOptions(db.command('show <kind> <id>').description('print one record as JSON'))
    .option('--mqsim', "an ssd configuration as MQSim's ssdconfig.xml (MQSim -i FILE) instead of JSON")
    .action(async (k: string, id: string, o: CommonOptions & { mqsim?: boolean }) => {
      const kind = kindArg(k);
      if (o.mqsim && kind !== 'configs') throw ERR_USAGE(`--mqsim prints a configuration: give "configs", not "${kind}"`);
      const rec = await withApi(o, (api) => api.get(kind, id));
      process.stdout.write(o.mqsim ? ssdConfigXml(rec as ConfigRecord) : JSON.stringify(rec, null, 2) + '\n');
    });

  addCommonOptions(db.command('export <file>').description('write the whole ConfDB as JSON lines ("-": standard output)')).action(
    async (file: string, o: CommonOptions) => {
      // Written here, where the command runs, whoever holds the ConfDB; a file appears only once complete.
      let counts: Counts | undefined;
      if (!isStandardOutput(file) && statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw ERR_CONFDB_EXPORT(file, 'it is a directory');
      try {
        await writeAtomically(file, async (ws) => {
          counts = await withApi(o, (api) => api.exportRecords(ws));
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // A file-system error is the destination's; a coded one (the ConfDB, the server) is reported as it is.
        throw typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) ? ERR_CONFDB_EXPORT(file, err.message.replace(/, \w+( '.*')?$/, '')) : e;
      }
      // With the records on standard output ("-", /dev/stdout), the summary goes to standard error.
      const say = isStandardOutput(file) ? console.error : console.log;
      say(
        o.json
          ? JSON.stringify({ file, counts })
          : `exported to ${file}: ${Object.entries(counts!)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')}`,
      );
    },
  );

  addCommonOptions(db.command('import <file>').description('add the records of an export, all or nothing ("-": standard input)')).action(
    async (file: string, o: CommonOptions) => {
      if (file !== '-' && !existsSync(file)) throw ERR_CONFDB_IMPORT(file, 0, 'no such file');
      const counts: Counts = await withApi(o, (api) =>
        file === '-' ? api.importRecords(process.stdin, 'stdin') : api.importRecords(createReadStream(file), file),
      );
      console.log(
        o.json
          ? JSON.stringify({ file, counts })
          : `imported ${file}: ${Object.entries(counts)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ')}`,
      );
    },
  );

  addCommonOptions(
    db
      .command('delete <kind> <id>')
      .description('forget a trace ("traces"), and remove its file when the server stored it (an upload); refused while a job reads it'),
  ).action(async (k: string, id: string, o: CommonOptions) => {
    // Only traces: the other kinds are what was learned and the way back to devices' settings (revert removes those).
    if (kindArg(k) !== 'traces') throw ERR_USAGE(`only traces can be deleted, not ${k}`);
    const rec = await withApi(o, (api) => api.deleteTrace(id));
    if (o.json) console.log(JSON.stringify(rec));
    else console.log(`deleted trace ${rec.id} (${rec.name})`);
  });

  addCommonOptions(db.command('compact').description('compact the LevelDB files')).action(async (o: CommonOptions) => {
    await withApi(o, (api) => api.compact());
    if (!o.json) console.log('compacted');
  });
}
