/**
 * SwitchyardError: a stable `code` (SY_ERR_*) and, when a SIP reply follows,
 * the `sipStatus` to send. Classes do not survive postMessage, so shards pass
 * errors across threads as the plain `{ code, message, sipStatus }` of toJSON().
 */
export class SwitchyardError extends Error {
  readonly code: string;
  readonly sipStatus: number | undefined;

  constructor(code: string, message: string, options: { sipStatus?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.sipStatus = options.sipStatus;
  }

  toJSON(): { code: string; message: string; sipStatus?: number } {
    return this.sipStatus === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, sipStatus: this.sipStatus };
  }
}

/** A configuration problem, located in its file. */
export class ConfigError extends SwitchyardError {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;

  constructor(file: string, line: number | undefined, key: string | undefined, message: string) {
    const where = line === undefined ? file : `${file}:${line}`;
    super('SY_ERR_CONFIG', `${where}: ${key ? `${key}: ` : ''}${message}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.key = key;
  }
}

/** Several configuration problems reported at once. */
export class ConfigErrors extends SwitchyardError {
  readonly errors: readonly ConfigError[];
  constructor(errors: ConfigError[]) {
    super('SY_ERR_CONFIG', errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
    this.errors = errors;
  }
}
