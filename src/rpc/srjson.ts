/**
 * JSON text exactly as Kamailio 5.6.3's jsonrpcs prints it (srjson, its
 * cJSON fork: `srjson_Print()` with `pretty_format=1`, the default), so a
 * reply body can be compared with a Kamailio capture byte for byte:
 *
 * - object: `{`, newline, each member on its own line indented with TABs as
 *   `"key":<TAB>value`, members separated by `,`+newline, the closing `}` on
 *   its own line one level less indented; an empty object is `{`, newline,
 *   the same closing indent, `}`;
 * - array: `[` elements separated by `, ` `]` on one line (nested objects
 *   still break lines); an empty array is `[]`;
 * - numbers as srjson's print_number(): `%d` when the value is an int32,
 *   else `%.0f` when integral, `%e` below 1e-6 or above 1e9, else `%f`
 *   (so 1.5 prints `1.500000`);
 * - strings: `"`, `\`, \b \f \n \r \t escaped, other control characters as
 *   \u00XX (lower-case hex), everything else (UTF-8, `/`) raw.
 *
 * Compact mode (`pretty_format=0`) drops the whitespace.
 */

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

/** C `(int)d` as x86 does it (out of range: INT_MIN). */
export function cInt(d: number): number {
  if (!Number.isFinite(d)) return INT_MIN;
  const t = Math.trunc(d);
  return t > INT_MAX || t < INT_MIN ? INT_MIN : t;
}

/** printf("%e") */
function cExp(d: number): string {
  const s = d.toExponential(6);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** srjson print_number(). */
export function printNumber(d: number): string {
  if (!Number.isFinite(d)) return 'null';
  const vi = cInt(d);
  if (Math.abs(vi - d) <= Number.EPSILON && d <= INT_MAX && d >= INT_MIN) return String(vi);
  if (Math.abs(Math.floor(d) - d) <= Number.EPSILON && Math.abs(d) < 1.0e60) {
    return Math.abs(d) < 1e21 ? d.toFixed(0) : BigInt(d).toString();
  }
  if (Math.abs(d) < 1.0e-6 || Math.abs(d) > 1.0e9) return cExp(d);
  return d.toFixed(6);
}

/** srjson print_string_ptr(). */
export function printString(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 32 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(from, i);
    from = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 8:
        out += '\\b';
        break;
      case 12:
        out += '\\f';
        break;
      case 10:
        out += '\\n';
        break;
      case 13:
        out += '\\r';
        break;
      case 9:
        out += '\\t';
        break;
      default:
        out += `\\u${c.toString(16).padStart(4, '0')}`;
    }
  }
  return out + s.slice(from) + '"';
}

function tabs(n: number): string {
  return '\t'.repeat(n);
}

function print(v: unknown, depth: number, pretty: boolean): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return printString(v);
    case 'number':
      return printNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const items = v.map((x) => print(x, depth + 1, pretty));
    return `[${items.join(pretty ? ', ' : ',')}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (!pretty) return `{${entries.map(([k, x]) => `${printString(k)}:${print(x, depth + 1, false)}`).join(',')}}`;
  if (entries.length === 0) return `{\n${tabs(depth)}}`;
  const members = entries.map(([k, x]) => `${tabs(depth + 1)}${printString(k)}:\t${print(x, depth + 1, true)}`);
  return `{\n${members.join(',\n')}\n${tabs(depth)}}`;
}

/**
 * Serialises a JSON value the way Kamailio's jsonrpcs does. Object members
 * print in insertion order; `undefined` members are left out.
 */
export function printKamailioJson(v: unknown, pretty = true): string {
  return print(v, 0, pretty);
}
