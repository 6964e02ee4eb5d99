// docker-compose.yml cannot be started on the machines that run this suite (no Docker engine), so
// the parts that can drift from the code are checked here: the files it mounts exist, the apps'
// environment passes the same config validation the apps run at start, and Prometheus and nginx
// point at the ports the services listen on.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "@coupon/config";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  expose?: string[];
  ports?: string[];
}
const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

describe("docker-compose.yml", () => {
  it("mounts only files that exist in the repository", () => {
    const sources = Object.values(services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(":")[0]!)
      .filter((src) => src.startsWith("./"));
    expect(sources.length).toBeGreaterThan(4);
    for (const src of sources) expect(existsSync(join(ROOT, src)), src).toBe(true);
  });

  it("gives the gateway, the worker and the migration an environment the apps accept", () => {
    for (const name of ["gateway", "worker", "migrate"]) {
      const env = services[name]?.environment;
      expect(env, name).toBeDefined();
      // ${VAR:-default} is what compose substitutes when VAR is unset.
      const resolved = Object.fromEntries(Object.entries(env!).map(([k, v]) => [k, String(v).replace(/\$\{\w+:-([^}]*)\}/g, "$1")]));
      expect(() => loadConfig(resolved), name).not.toThrow();
    }
  });

  it("scales: no app publishes a host port, and Prometheus and nginx reach every replica on the ports the apps listen on", () => {
    const gatewayPort = loadConfig(services.gateway!.environment).PORT;
    const workerPort = loadConfig(services.worker!.environment).WORKER_METRICS_PORT;
    expect(services.gateway!.ports ?? []).toEqual([]);
    expect(services.worker!.ports ?? []).toEqual([]);
    expect(services.gateway!.expose).toEqual([String(gatewayPort)]);
    expect(services.worker!.expose).toEqual([String(workerPort)]);

    type Scrape = { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[] };
    const prom = parse(readFileSync(join(ROOT, "ops/prometheus/prometheus.yml"), "utf8")) as { scrape_configs: Scrape[] };
    const sd = (job: string) => prom.scrape_configs.find((c) => c.job_name === job)?.dns_sd_configs?.[0];
    expect(sd("gateway")).toMatchObject({ names: ["gateway"], type: "A", port: gatewayPort });
    expect(sd("worker")).toMatchObject({ names: ["worker"], type: "A", port: workerPort });

    const nginx = readFileSync(join(ROOT, "ops/nginx/gateway-lb.conf"), "utf8");
    expect(nginx).toContain(`server gateway:${gatewayPort} resolve;`);
    // The per-address limit trusts exactly the one proxy that sets X-Forwarded-For.
    expect(services.gateway!.environment!.TRUST_PROXY).toBe("1");
    expect(nginx).toMatch(/proxy_set_header X-Forwarded-For \$remote_addr;/);
  });
});
