/**
 * Structured logs: one line per event with time, level, component, message and key=value fields.
 * Readable by default (Kafka's shape: `[time] LEVEL [component] message key=value`); one JSON object per
 * line with format 'json', for log shippers. Written synchronously to stderr: log volume is low (no
 * per-request logging), and a crash must not lose its last lines.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | bigint | boolean | null | undefined | Error>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(text: string): text is LogLevel {
  return Object.hasOwn(LEVELS, text);
}

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  sink?: LogSink;
}

export class Logger {
  private readonly minLevel: number;
  private readonly format: 'text' | 'json';
  private readonly sink: LogSink;

  constructor(
    readonly component: string,
    private readonly options: LoggerOptions = {},
  ) {
    this.minLevel = LEVELS[options.level ?? 'info'];
    this.format = options.format ?? 'text';
    this.sink = options.sink ?? process.stderr;
  }

  /** A logger for a sub-component sharing this one's settings. */
  child(component: string): Logger {
    return new Logger(component, this.options);
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  log(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (LEVELS[level] < this.minLevel) return;
    const time = new Date().toISOString();
    const clean: Record<string, string | number | boolean | null> = {};
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        if (v instanceof Error) clean[k] = v.stack ?? v.message;
        else clean[k] = typeof v === 'bigint' ? v.toString() : (v as string | number | boolean | null);
      }
    }
    if (this.format === 'json') {
      this.sink.write(`${JSON.stringify({ time, level, component: this.component, message, ...clean })}\n`);
      return;
    }
    let line = `[${time}] ${level.toUpperCase().padEnd(5)} [${this.component}] ${message}`;
    for (const [k, v] of Object.entries(clean)) {
      const text = String(v);
      line += ` ${k}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`;
    }
    this.sink.write(`${line}\n`);
  }
}

/** A logger that drops everything (tests, embedding with logging off). */
export const silentLogger = new Logger('silent', { level: 'error', sink: { write: () => {} } });
