/**
 * Devices on the server's host: apply a configuration (a stored one, or
 * attribute values), revert, verify, retune. Token required for the writes.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { EXPORT_KINDS } from '../../service/devices.js';
import { BACKENDS } from '../../service/local.js';
import { BUDGET } from '../../service/tune-spec.js';
import { errors, HeldItem, StringEnum } from '../schemas.js';

// A kernel name (loop0, nvme0n1p2) or a device path (/dev/disk/by-id/...), resolved on the server's host.
const DeviceParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9._:+/-]+$', minLength: 1, maxLength: 4096 }) });
const Values = Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Union([Type.String({ maxLength: 4096 }), Type.Number()]));
const ApplyBody = Type.Object(
  {
    configId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a stored configuration whose space can be applied (host)' })),
    values: Type.Optional(Values),
    dryRun: Type.Optional(Type.Boolean({ default: false })),
    export: Type.Optional(StringEnum(EXPORT_KINDS, { description: 'write nothing; return the configuration as a tuned profile or a udev rule' })),
  },
  { additionalProperties: false, description: 'exactly one of configId and values' },
);
const Change = Type.Object({ key: Type.String(), from: Type.Optional(Type.String()), to: Type.String() });
const Snapshot = Type.Record(Type.String(), Type.String());
const ApplyReply = Type.Object({
  device: Type.String(),
  partition: Type.Optional(Type.String()),
  configId: Type.Optional(Type.String()),
  dryRun: Type.Boolean(),
  target: Snapshot,
  changes: Type.Array(Change),
  sideEffects: Type.Array(Type.String()),
  held: Type.Array(HeldItem, {
    description: 'attributes the kernel changed when another was written (by), written back to the value they had (from)',
  }),
  after: Snapshot,
  exported: Type.Optional(Type.Object({ kind: Type.String(), text: Type.String() })),
});
const RevertReply = Type.Object({
  device: Type.String(),
  dryRun: Type.Boolean(),
  changes: Type.Array(Change),
  after: Snapshot,
  interrupted: Type.Optional(Type.String({ description: 'the unfinished change the record carried (an interrupted apply or live evaluation)' })),
});
const VerifyReply = Type.Object({
  device: Type.String(),
  configId: Type.Optional(Type.String()),
  appliedAt: Type.String(),
  by: Type.String(),
  drift: Type.Array(Type.Object({ key: Type.String(), applied: Type.String(), now: Type.Optional(Type.String()) })),
});
const RetuneBody = Type.Object(
  {
    windowMs: Type.Number({ exclusiveMinimum: 0, maximum: 86_400_000, default: 60_000 }),
    budget: Type.Integer({ minimum: BUDGET.min, maximum: BUDGET.max, default: 12 }),
    backend: Type.Optional(StringEnum(['auto', ...BACKENDS] as const, { default: 'auto' })),
    dryRun: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

export default async function deviceRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/devices/:name/apply',
    {
      schema: {
        tags: ['devices'],
        summary: 'Apply a configuration through sysfs, all or nothing; previous values are recorded first',
        params: DeviceParams,
        body: ApplyBody,
        response: { 200: ApplyReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => req.api.apply({ device: req.params.name, ...req.body }),
  );
  app.post(
    '/devices/:name/revert',
    {
      schema: {
        tags: ['devices'],
        summary: 'Restore the values the device had before ssdtune first changed it',
        params: DeviceParams,
        body: Type.Optional(
          Type.Object(
            {
              dryRun: Type.Optional(Type.Boolean({ default: false })),
              anyway: Type.Optional(
                Type.Boolean({
                  default: false,
                  description:
                    "restore the recorded values even when ssdtune cannot tell the record is this device's (made on another host, or naming no host while the device shows neither its applied nor its previous values)",
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: RevertReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => req.api.revert(req.params.name, { dryRun: req.body?.dryRun ?? false, anyway: req.body?.anyway ?? false }),
  );
  app.get(
    '/devices/:name/verify',
    {
      schema: {
        tags: ['devices'],
        summary: 'Does the device still have what ssdtune applied? (drift: attributes changed since)',
        params: DeviceParams,
        response: { 200: VerifyReply, ...errors(404, 409) },
      },
    },
    async (req) => req.api.verify(req.params.name),
  );
  app.post(
    '/devices/:name/retune',
    {
      schema: {
        tags: ['devices'],
        summary: "Capture a window of the device's I/O, identify the workload, apply its host configuration when it differs",
        params: DeviceParams,
        body: RetuneBody,
        response: { 200: Type.Object({}, { additionalProperties: true }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => req.api.retune({ device: req.params.name, ...req.body }),
  );
}
