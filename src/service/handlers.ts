/** The job kinds the service can run, each made from the service it runs in. */
import type { Service } from './context.js';
import type { JobHandler } from './jobs.js';
import { tuneJobHandler } from './tune-jobs.js';

export const jobHandlers: Record<string, (svc: Service) => JobHandler> = {
  tune: tuneJobHandler,
};
