// Fastify gives every request a child logger bound to its request id. Building a pino child costs
// more than answering a sold-out request, and almost no request logs anything, so the child is
// built on the first log call at an enabled level. The methods live on a class prototype: a
// request costs one small object, not a closure per level and an accessor of its own.
import type { FastifyBaseLogger } from "fastify";

type ChildArgs = Parameters<FastifyBaseLogger["child"]>;
type LogFn = (...args: unknown[]) => void;

const LEVEL_VALUES = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 } as const;
type Level = keyof typeof LEVEL_VALUES;

function enabled(parent: FastifyBaseLogger, level: Level): boolean {
  const threshold = LEVEL_VALUES[parent.level as Level] ?? Infinity; // "silent" and unknown: nothing
  return LEVEL_VALUES[level] >= threshold;
}

class LazyChildLogger {
  private built: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: ChildArgs[0],
    private readonly options: ChildArgs[1],
  ) {}

  private real(): FastifyBaseLogger {
    return (this.built ??= this.parent.child(this.bindings, this.options));
  }

  private write(level: Level, args: unknown[]): void {
    if (this.built) (this.built[level] as unknown as LogFn)(...args);
    else if (enabled(this.parent, level)) (this.real()[level] as unknown as LogFn)(...args);
  }

  get level(): string {
    return this.built?.level ?? this.parent.level;
  }

  set level(value: string) {
    this.real().level = value;
  }

  child(more: ChildArgs[0], moreOptions?: ChildArgs[1]): FastifyBaseLogger {
    return this.real().child(more, moreOptions);
  }

  silent(): void {}
  fatal(...args: unknown[]): void {
    this.write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.write("error", args);
  }
  warn(...args: unknown[]): void {
    this.write("warn", args);
  }
  info(...args: unknown[]): void {
    this.write("info", args);
  }
  debug(...args: unknown[]): void {
    this.write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.write("trace", args);
  }
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: ChildArgs[0], options?: ChildArgs[1]): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
