/**
 * The service: the one object every front end (CLI, REST API, cron retune)
 * works through. It owns the ConfDB and the job runner of this process.
 */
import { mkdirSync } from 'node:fs';
import { ConfDB } from '../confdb/db.js';
import type { Settings } from '../config.js';
import { JobRunner, type JobHandler } from './jobs.js';

export interface Service {
  settings: Settings;
  db: ConfDB;
  jobs: JobRunner;
  close(): Promise<void>;
}

export async function openService(settings: Settings, handlers: Record<string, (svc: Service) => JobHandler> = {}): Promise<Service> {
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const db = await ConfDB.open(settings.dataDir, settings.store);
  const svc = { settings, db } as Service;
  svc.jobs = new JobRunner(db, Object.fromEntries(Object.entries(handlers).map(([k, make]) => [k, make(svc)])));
  await svc.jobs.recoverInterrupted();
  svc.close = async () => {
    await svc.jobs.close();
    await db.close();
  };
  return svc;
}
