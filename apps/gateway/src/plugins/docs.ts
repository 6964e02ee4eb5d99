// The OpenAPI document, built from the route schemas, served at /docs (UI) and /docs/json.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { problemSchema } from "../routes/schemas.js";

async function docsPlugin(app: FastifyInstance): Promise<void> {
  app.addSchema({ $id: "problem", ...problemSchema });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Flash-sale coupon issuance",
        version: "1.0.0",
        description:
          "Issue coupons under a stampede. Errors are application/problem+json with type, title, status, detail and code.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}

export default fp(docsPlugin, { name: "docs" });
