// Fastify gives every request a child logger bound to its request id. Building a pino child costs
// more than answering a sold-out request, and almost no request logs anything, so the child is
// built on the first log call at an enabled level.
import type { FastifyBaseLogger } from "fastify";

type ChildArgs = Parameters<FastifyBaseLogger["child"]>;
type LogFn = (...args: unknown[]) => void;

const LEVEL_VALUES = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 } as const;
type Level = keyof typeof LEVEL_VALUES;
const LEVELS = Object.keys(LEVEL_VALUES) as Level[];

function enabled(parent: FastifyBaseLogger, level: Level): boolean {
  const threshold = LEVEL_VALUES[parent.level as Level] ?? Infinity; // "silent" and unknown: nothing
  return LEVEL_VALUES[level] >= threshold;
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: ChildArgs[0], options?: ChildArgs[1]): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  const real = () => (child ??= parent.child(bindings, options));
  const lazy: Record<string, unknown> = {
    silent: () => {},
    child: (more: ChildArgs[0], moreOptions?: ChildArgs[1]) => real().child(more, moreOptions),
  };
  Object.defineProperty(lazy, "level", {
    get: () => child?.level ?? parent.level,
    set: (value: string) => {
      real().level = value;
    },
  });
  for (const level of LEVELS) {
    lazy[level] = (...args: unknown[]) => {
      if (child) return (child[level] as unknown as LogFn)(...args);
      if (enabled(parent, level)) (real()[level] as unknown as LogFn)(...args);
    };
  }
  return lazy as unknown as FastifyBaseLogger;
}
