/** `ssdtune db list|show|export|import|compact`: look into and move the ConfDB. */
import type { Command } from 'commander';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { ERR_CONFDB_IMPORT, ERR_USAGE } from '../../errors.js';
import { KINDS, type Counts, type Kind } from '../../service/api.js';
import { addCommonOptions, withApi, type CommonOptions } from '../service-access.js';

function kindArg(k: string): Kind {
  if (!(KINDS as readonly string[]).includes(k)) throw ERR_USAGE(`unknown record kind "${k}"; one of ${KINDS.join(', ')}`);
  return k as Kind;
}

function summary(kind: Kind, r: Record<string, unknown>): string {
  const id = String(r.id ?? r.device);
  const pick: Record<Kind, string[]> = {
    workloads: ['name', 'createdAt'],
    configs: ['space', 'workloadId', 'grade', 'evaluator'],
    evaluations: ['workloadId', 'evaluator', 'status', 'grade'],
    devices: ['appliedConfigId', 'appliedAt', 'by'],
    jobs: ['kind', 'status', 'updatedAt'],
    traces: ['name', 'format', 'bytes'],
    audit: ['at', 'actor', 'action'],
    pins: ['configId', 'by', 'at'],
    results: ['status', 'worker', 'ms'],
    agents: ['deviceClass', 'workloadId', 'configId', 'at'],
  };
  return [id, ...pick[kind].map((f) => (r[f] === undefined ? '-' : typeof r[f] === 'number' ? (r[f] as number).toPrecision(4) : String(r[f])))].join('  ');
}

export function register(program: Command): void {
  const db = program.command('db').description('inspect, export, import and compact the ConfDB');

  addCommonOptions(db.command('list <kind>').description(`list records: ${KINDS.join(', ')}`))
    .option('--limit <n>', 'at most n records', (v) => Number(v), 100)
    .action(async (k: string, o: CommonOptions & { limit: number }) => {
      const kind = kindArg(k);
      const { items } = await withApi(o, (api) => api.list(kind, { limit: o.limit }));
      if (o.json) console.log(JSON.stringify(items, null, 2));
      else for (const r of items) console.log(summary(kind, r as unknown as Record<string, unknown>));
    });

  addCommonOptions(db.command('show <kind> <id>').description('print one record as JSON')).action(async (k: string, id: string, o: CommonOptions) => {
    const kind = kindArg(k);
    const rec = await withApi(o, (api) => api.get(kind, id));
    console.log(JSON.stringify(rec, null, 2));
  });

  addCommonOptions(db.command('export <file>').description('write the whole ConfDB as JSON lines')).action(async (file: string, o: CommonOptions) => {
    // Written here, where the command runs, whoever holds the ConfDB.
    const counts = await withApi(o, (api) => api.exportRecords(createWriteStream(file, { mode: 0o600 })));
    console.log(o.json ? JSON.stringify({ file, counts }) : `exported to ${file}: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  });

  addCommonOptions(db.command('import <file>').description('add the records of an export (all or nothing)')).action(async (file: string, o: CommonOptions) => {
    if (!existsSync(file)) throw ERR_CONFDB_IMPORT(file, 0, 'no such file');
    const counts: Counts = await withApi(o, (api) => api.importRecords(createReadStream(file), file));
    console.log(o.json ? JSON.stringify({ file, counts }) : `imported ${file}: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  });

  addCommonOptions(db.command('compact').description('compact the LevelDB files')).action(async (o: CommonOptions) => {
    await withApi(o, (api) => api.compact());
    if (!o.json) console.log('compacted');
  });
}
