// Incremental parsers for a DIRECT batch's list of user ids, fed the body as it arrives, so a
// million-id upload is never held whole. Each entry is handed on as the raw text submitted; the
// caller validates it (an invalid id is a recorded failure, not a rejected upload). A body whose
// shape is wrong is rejected (400) as soon as the wrong byte arrives.
import { DomainError } from "@coupon/domain";

/** Longest entry kept: longer ones cannot be ids, and keeping them would let one entry grow unbounded. */
const MAX_ENTRY = 100;

export interface IdListParser {
  write(text: string): void;
  end(): void;
}

type JsonState =
  | "start"
  | "key-start"
  | "key"
  | "colon"
  | "array-start"
  | "first-value"
  | "value"
  | "string"
  | "number"
  | "after-value"
  | "object-end"
  | "done";

const WS = new Set([" ", "\t", "\n", "\r"]);

/** `{"userIds": ["1", "2", ...]}`: the only shape accepted (numbers are taken as their text). */
export class JsonIdListParser implements IdListParser {
  private state: JsonState = "start";
  private token = "";
  private escaped = false;

  constructor(private readonly onEntry: (raw: string) => void) {}

  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      switch (this.state) {
        case "string":
          if (this.escaped) {
            this.escaped = false;
            this.append(ch);
          } else if (ch === "\\") this.escaped = true;
          else if (ch === '"') {
            this.onEntry(this.token);
            this.token = "";
            this.state = "after-value";
          } else if (ch < " ") this.fail("a control character inside a string");
          else this.append(ch);
          continue;
        case "key":
          if (ch === '"') {
            if (this.token !== "userIds") throw new DomainError("VALIDATION", "body may only hold userIds");
            this.token = "";
            this.state = "colon";
          } else this.append(ch);
          continue;
        case "number":
          if (/[0-9eE+.-]/.test(ch)) {
            this.append(ch);
            continue;
          }
          this.onEntry(this.token);
          this.token = "";
          this.state = "after-value";
          break; // the byte ending the number is read below as what follows a value
        default:
          break;
      }
      if (WS.has(ch)) continue;
      switch (this.state) {
        case "start":
          this.expect(ch, "{", "key-start");
          break;
        case "key-start":
          if (ch === "}") throw new DomainError("VALIDATION", "body.userIds is required");
          this.expect(ch, '"', "key");
          break;
        case "colon":
          this.expect(ch, ":", "array-start");
          break;
        case "array-start":
          if (ch !== "[") throw new DomainError("VALIDATION", "body.userIds must be an array");
          this.state = "first-value";
          break;
        case "first-value":
        case "value":
          if (ch === "]" && this.state === "first-value") this.state = "object-end";
          else if (ch === '"') this.state = "string";
          else if (ch === "-" || (ch >= "0" && ch <= "9")) {
            this.token = ch;
            this.state = "number";
          } else throw new DomainError("VALIDATION", "body.userIds must hold id strings");
          break;
        case "after-value":
          if (ch === ",") this.state = "value";
          else this.expect(ch, "]", "object-end");
          break;
        case "object-end":
          if (ch === ",") throw new DomainError("VALIDATION", "body may only hold userIds");
          this.expect(ch, "}", "done");
          break;
        case "done":
          this.fail("data after the end of the object");
      }
    }
  }

  end(): void {
    if (this.state !== "done") this.fail("the body ended before the end of the object");
  }

  private append(ch: string): void {
    if (this.token.length >= MAX_ENTRY) throw new DomainError("VALIDATION", `an entry of body.userIds is longer than ${MAX_ENTRY} characters`);
    this.token += ch;
  }

  private expect(ch: string, want: string, next: JsonState): void {
    if (ch !== want) this.fail(`expected '${want}', found '${ch}'`);
    this.state = next;
  }

  private fail(why: string): never {
    throw new DomainError("BAD_JSON", `Body is not valid JSON: ${why}`);
  }
}

/** One id per line (LF or CRLF), blank lines ignored, an optional header line (one holding a letter). */
export class CsvIdListParser implements IdListParser {
  private line = "";
  private seenFirst = false;

  constructor(private readonly onEntry: (raw: string) => void) {}

  write(text: string): void {
    let from = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", from)) {
      this.line += text.slice(from, nl);
      this.take();
      from = nl + 1;
    }
    this.line += text.slice(from);
    if (this.line.length > MAX_ENTRY + 2) {
      throw new DomainError("VALIDATION", `a line of the CSV body is longer than ${MAX_ENTRY} characters`);
    }
  }

  end(): void {
    this.take();
  }

  private take(): void {
    let entry = this.line.trim();
    this.line = "";
    if (entry.length > MAX_ENTRY) throw new DomainError("VALIDATION", `a line of the CSV body is longer than ${MAX_ENTRY} characters`);
    if (entry.length >= 2 && entry.startsWith('"') && entry.endsWith('"')) entry = entry.slice(1, -1).trim();
    if (entry === "") return;
    const first = !this.seenFirst;
    this.seenFirst = true;
    if (first && /[A-Za-z]/.test(entry)) return; // the header
    this.onEntry(entry);
  }
}
