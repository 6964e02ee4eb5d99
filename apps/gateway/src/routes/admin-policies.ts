// Admin: create, read, list policies and move them between ACTIVE, PAUSED and ENDED.
import {
  DISCOUNT_TYPES,
  ISSUE_TYPES,
  MAX_PER_USER_LIMIT,
  MAX_QUANTITY,
  MAX_VALID_DAYS,
  POLICY_STATUSES,
  DomainError,
  parseId,
  type DiscountType,
  type IssueType,
  type PolicyStatus,
} from "@coupon/domain";
import type { FastifyInstance } from "fastify";
import { linkNext, readPage } from "./paging.js";
import { bearer, idString, pageQuery, problems } from "./schemas.js";
import type { PolicyService } from "../services/policy-service.js";
import { policyView } from "../services/policy-view.js";

interface CreateBody {
  name: string;
  issueType: IssueType;
  code?: string;
  totalQuantity?: number | null;
  perUserLimit?: number;
  validDays?: number | null;
  validUntil?: string | null;
  issueStartAt: string;
  issueEndAt: string;
  status?: PolicyStatus;
  discount: { type: DiscountType; value: number };
}

const dateTime = { type: "string", format: "date-time", maxLength: 40 } as const;

const createBody = {
  type: "object",
  additionalProperties: false,
  required: ["name", "issueType", "issueStartAt", "issueEndAt", "discount"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 200 },
    issueType: { type: "string", enum: ISSUE_TYPES },
    code: { type: "string", pattern: "^[A-Za-z0-9_-]{3,40}$" },
    totalQuantity: { type: ["integer", "null"], minimum: 1, maximum: MAX_QUANTITY },
    perUserLimit: { type: "integer", minimum: 1, maximum: MAX_PER_USER_LIMIT },
    validDays: { type: ["integer", "null"], minimum: 1, maximum: MAX_VALID_DAYS },
    validUntil: { anyOf: [dateTime, { type: "null" }] },
    issueStartAt: dateTime,
    issueEndAt: dateTime,
    status: { type: "string", enum: ["ACTIVE", "PAUSED"] },
    discount: {
      type: "object",
      additionalProperties: false,
      required: ["type", "value"],
      properties: {
        type: { type: "string", enum: DISCOUNT_TYPES },
        value: { type: "integer", minimum: 1, maximum: 1_000_000_000 },
      },
    },
  },
} as const;

const policySchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    issueType: { type: "string" },
    code: { type: ["string", "null"] },
    totalQuantity: { type: ["integer", "null"] },
    perUserLimit: { type: "integer" },
    validDays: { type: ["integer", "null"] },
    validUntil: { type: ["string", "null"] },
    issueStartAt: { type: "string" },
    issueEndAt: { type: "string" },
    status: { type: "string" },
    discount: { type: "object", properties: { type: { type: "string" }, value: { type: "integer" } } },
    issuedCount: { type: "integer" },
    remainingQuantity: { type: ["integer", "null"] },
    createdAt: { type: "string" },
    updatedAt: { type: "string" },
  },
} as const;

const idParams = { type: "object", required: ["id"], properties: { id: idString } } as const;

function parsePolicyId(raw: string): bigint {
  const id = parseId(raw);
  if (id === null) throw new DomainError("VALIDATION", "params.id must be a positive 64-bit integer");
  return id;
}

export async function adminPolicyRoutes(app: FastifyInstance, opts: { policies: PolicyService }): Promise<void> {
  const { policies } = opts;
  app.addHook("onRequest", app.authenticateAdmin);

  app.post<{ Body: CreateBody }>(
    "/admin/policies",
    {
      schema: {
        tags: ["admin"],
        summary: "Create a coupon policy",
        security: bearer,
        body: createBody,
        response: { 201: policySchema, ...problems(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const policy = await policies.create(
        {
          name: b.name,
          issueType: b.issueType,
          code: b.code ?? null,
          totalQuantity: b.totalQuantity ?? null,
          perUserLimit: b.perUserLimit ?? 1,
          validDays: b.validDays ?? null,
          validUntil: b.validUntil ? new Date(b.validUntil) : null,
          issueStartAt: new Date(b.issueStartAt),
          issueEndAt: new Date(b.issueEndAt),
          discountType: b.discount.type,
          discountValue: b.discount.value,
        },
        b.status ?? "ACTIVE",
      );
      reply.code(201).header("location", `/admin/policies/${policy.id}`);
      return policyView(policy, 0);
    },
  );

  app.get<{ Querystring: { limit?: string; after?: string } }>(
    "/admin/policies",
    {
      schema: {
        tags: ["admin"],
        summary: "List policies (paged by id)",
        security: bearer,
        querystring: pageQuery,
        response: { 200: { type: "array", items: policySchema }, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const page = readPage(request.query);
      const list = await policies.list(page.after, page.limit);
      linkNext(request, reply, page, list.length, list.at(-1)?.id);
      return Promise.all(list.map(async (p) => policyView(p, await policies.admitted(p.id))));
    },
  );

  app.get<{ Params: { id: string } }>(
    "/admin/policies/:id",
    {
      schema: {
        tags: ["admin"],
        summary: "Read a policy with its issued and remaining counts",
        security: bearer,
        params: idParams,
        response: { 200: policySchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const id = parsePolicyId(request.params.id);
      const policy = await policies.get(id);
      return policyView(policy, await policies.admitted(id));
    },
  );

  app.post<{ Params: { id: string } }>(
    "/admin/policies/:id/rebuild",
    {
      schema: {
        tags: ["admin"],
        summary: "Rebuild a policy's Redis state from PostgreSQL after Redis lost it",
        description: "409 INVALID_STATE when Redis still holds the policy: its live counts are ahead of PostgreSQL.",
        security: bearer,
        params: idParams,
        response: { 200: policySchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const id = parsePolicyId(request.params.id);
      const policy = await policies.rebuildLost(id);
      return policyView(policy, await policies.admitted(id));
    },
  );

  app.patch<{ Params: { id: string }; Body: { status: PolicyStatus } }>(
    "/admin/policies/:id",
    {
      schema: {
        tags: ["admin"],
        summary: "Pause, resume or end a policy",
        security: bearer,
        params: idParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["status"],
          properties: { status: { type: "string", enum: POLICY_STATUSES } },
        },
        response: { 200: policySchema, ...problems(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const id = parsePolicyId(request.params.id);
      const policy = await policies.changeStatus(id, request.body.status);
      return policyView(policy, await policies.admitted(id));
    },
  );
}
