/**
 * The RPC method registry and Kamailio's parameter scanning.
 *
 * Each module registers its own methods (`dispatcher.*` in dispatcher.ts,
 * `dlg.*` in dlg.ts, ...), like Kamailio modules export `rpc_export_t`
 * arrays. A handler reads its parameters with `params.scan(fmt)`, the same
 * format letters and the same typing rules as Kamailio's `rpc->scan()` over
 * JSON-RPC (jsonrpcs_mod.c `jsonrpc_scan()`, shared/spec/rpc.md §1.3):
 *
 *   d  integer: a JSON number (truncated to int32), true = 1, anything else
 *      (a string!) silently 0
 *   s S string: a JSON string; with a preceding `.` (auto-convert) a number
 *      becomes its decimal text; anything else fails the scan
 *   f  double, u unsigned, b boolean (as 0/1)
 *   *  the letters after it are optional
 *   .  auto-convert the next letter
 *
 * `scan()` returns how many values it read, negative when a mandatory one
 * was missing or mistyped (Kamailio's convention); each call continues where
 * the previous one stopped. Params given as an object are consumed in member
 * order, names ignored.
 *
 * A handler fails with `throw new RpcFault(code, text)`: code > 100 becomes
 * the HTTP status with the text as reason phrase (Kamailio xhttp), lower
 * codes (the JSON-RPC -32xxx ones) give HTTP 500.
 */
import { cInt } from './srjson';

/** An RPC error reply: `{"error":{"code":code,"message":message}}`. */
export class RpcFault extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'RpcFault';
    this.code = code;
  }
}

/** JSON-RPC 2.0 error codes (used where Kamailio has no answer of its own). */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

/** Texts of the standard codes, as Kamailio's jsonrpcs error table spells them. */
export const JSONRPC_TEXT: Readonly<Record<number, string>> = {
  [-32700]: 'Parse Error',
  [-32600]: 'Invalid Request',
  [-32601]: 'Method Not Found',
  [-32602]: 'Invalid Parameters',
  [-32603]: 'Internal Error',
};

/** C `(unsigned long)d` printed, for the auto-conversion of a number into a string. */
function ulongText(d: number): string {
  if (!Number.isFinite(d)) return '0';
  const t = Math.trunc(d);
  if (t >= 0) return t <= Number.MAX_SAFE_INTEGER ? String(t) : BigInt.asUintN(64, BigInt(t)).toString();
  return BigInt.asUintN(64, BigInt(t)).toString();
}

/** srjson valueint of any JSON value. */
function jsonInt(v: unknown): number {
  if (typeof v === 'number') return cInt(v);
  return v === true ? 1 : 0;
}

export interface ScanResult {
  /** Values read (>= 0), or minus the values read before a mandatory one failed. */
  readonly n: number;
  /** The values read, in order (numbers for d/u/f/b, strings for s/S). */
  readonly v: Array<number | string>;
}

/** The parameters of one call, scanned like Kamailio's `rpc->scan()`. */
export class RpcParams {
  private readonly values: readonly unknown[];
  private pos = 0;

  constructor(params: unknown) {
    if (Array.isArray(params)) this.values = params;
    else if (params !== null && typeof params === 'object') this.values = Object.values(params as Record<string, unknown>);
    else this.values = [];
  }

  /** Parameters not read yet. */
  get remaining(): number {
    return this.values.length - this.pos;
  }

  /** Every parameter, raw (extension methods that type-check themselves). */
  get raw(): readonly unknown[] {
    return this.values;
  }

  scan(fmt: string): ScanResult {
    const v: Array<number | string> = [];
    let mandatory = true;
    let auto = false;
    let k = 0;
    for (; k < fmt.length && this.pos < this.values.length; k++) {
      const c = fmt[k]!;
      if (c === '*') {
        mandatory = false;
        continue;
      }
      if (c === '.') {
        auto = true;
        continue;
      }
      const node = this.values[this.pos];
      switch (c) {
        case 'd':
          v.push(jsonInt(node));
          break;
        case 'u':
        case 'b':
        case 't':
          v.push(typeof node === 'number' && Number.isFinite(node) ? Math.trunc(node) >>> 0 : node === true ? 1 : 0);
          break;
        case 'f':
          v.push(typeof node === 'number' ? node : 0);
          break;
        case 's':
        case 'S':
          if (typeof node === 'string') v.push(node);
          else if (auto && typeof node === 'number') v.push(ulongText(node));
          else return { n: -v.length, v };
          break;
        default:
          throw new TypeError(`RpcParams.scan: bad format letter ${c}`);
      }
      auto = false;
      this.pos++;
    }
    // A letter left over that is not optional: missing mandatory parameter.
    for (; k < fmt.length; k++) {
      const c = fmt[k]!;
      if (c === '*') {
        mandatory = false;
        continue;
      }
      if (c === '.') continue;
      if (mandatory) return { n: -v.length, v };
      break;
    }
    return { n: v.length, v };
  }
}

/** What a handler gets besides its parameters. */
export interface RpcCallContext {
  /** The method name as called. */
  readonly method: string;
  /** True for a JSON-RPC notification (no reply will be sent). */
  readonly notification: boolean;
}

export type RpcHandler = (params: RpcParams, ctx: RpcCallContext) => unknown;

export interface RpcMethod {
  readonly name: string;
  /** One line, as Kamailio's `*_doc` strings (system.methodHelp). */
  readonly doc: string;
  readonly handler: RpcHandler;
  /**
   * Kamailio's RET_ARRAY: a handler returning nothing gives `[]` instead of
   * `{}`.
   */
  readonly array?: boolean;
}

export class RpcRegistry {
  private readonly methods = new Map<string, RpcMethod>();

  register(m: RpcMethod): void {
    if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(m.name)) throw new TypeError(`RPC method name must be module.command, got "${m.name}"`);
    if (this.methods.has(m.name)) throw new Error(`RPC method ${m.name} is already registered`);
    this.methods.set(m.name, m);
  }

  get(name: string): RpcMethod | undefined {
    return this.methods.get(name);
  }

  /** Method names, sorted (system.listMethods). */
  names(): string[] {
    return [...this.methods.keys()].sort();
  }
}
