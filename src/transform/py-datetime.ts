/**
 * dbt's `run_started_at`: a UTC datetime with the Python methods models call on it
 * (`strftime('%Y-%m-%d')`, `isoformat()`, `date()`, `.year`…), printed as Python prints it
 * (`2024-03-01 12:00:05.123000+00:00`).
 */
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Python's `date.strftime` / `datetime.strftime` over a UTC instant; an unknown directive is an error. */
function strftime(d: Date, format: string, withTime: boolean): string {
  return String(format).replace(/%(.)/g, (_, c: string) => {
    const hour = withTime ? d.getUTCHours() : 0;
    switch (c) {
      case 'Y':
        return pad(d.getUTCFullYear(), 4);
      case 'y':
        return pad(d.getUTCFullYear() % 100);
      case 'm':
        return pad(d.getUTCMonth() + 1);
      case 'd':
        return pad(d.getUTCDate());
      case 'H':
        return pad(hour);
      case 'I':
        return pad(hour % 12 === 0 ? 12 : hour % 12);
      case 'p':
        return hour < 12 ? 'AM' : 'PM';
      case 'M':
        return pad(withTime ? d.getUTCMinutes() : 0);
      case 'S':
        return pad(withTime ? d.getUTCSeconds() : 0);
      case 'f':
        return pad(withTime ? d.getUTCMilliseconds() * 1000 : 0, 6);
      case 'j': {
        const start = Date.UTC(d.getUTCFullYear(), 0, 1);
        return pad(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - start) / 86_400_000) + 1, 3);
      }
      case 'a':
        return DAYS[d.getUTCDay()]!.slice(0, 3);
      case 'A':
        return DAYS[d.getUTCDay()]!;
      case 'b':
        return MONTHS[d.getUTCMonth()]!.slice(0, 3);
      case 'B':
        return MONTHS[d.getUTCMonth()]!;
      case 'z':
        return withTime ? '+0000' : '';
      case 'Z':
        return withTime ? 'UTC' : '';
      case '%':
        return '%';
      default:
        throw new Error(`strftime(): %${c} is not a directive duckhouse knows (known: %Y %y %m %d %H %I %p %M %S %f %j %a %A %b %B %z %Z %%)`);
    }
  });
}

/** Python's `datetime.date` of a UTC instant. */
export class PyDate {
  readonly [Symbol.toStringTag]: string = 'date';
  constructor(protected readonly instant: Date) {}
  get year(): number {
    return this.instant.getUTCFullYear();
  }
  get month(): number {
    return this.instant.getUTCMonth() + 1;
  }
  get day(): number {
    return this.instant.getUTCDate();
  }
  strftime(format: unknown): string {
    return strftime(this.instant, String(format), false);
  }
  isoformat(): string {
    return strftime(this.instant, '%Y-%m-%d', false);
  }
  toString(): string {
    return this.isoformat();
  }
}

/** Python's timezone-aware `datetime.datetime` in UTC (dbt's `run_started_at`). */
export class PyDatetime extends PyDate {
  override readonly [Symbol.toStringTag]: string = 'datetime';
  get hour(): number {
    return this.instant.getUTCHours();
  }
  get minute(): number {
    return this.instant.getUTCMinutes();
  }
  get second(): number {
    return this.instant.getUTCSeconds();
  }
  get microsecond(): number {
    return this.instant.getUTCMilliseconds() * 1000;
  }
  override strftime(format: unknown): string {
    return strftime(this.instant, String(format), true);
  }
  override isoformat(sep: unknown = 'T'): string {
    return `${this.date().isoformat()}${String(sep)}${strftime(this.instant, '%H:%M:%S.%f', true)}+00:00`;
  }
  date(): PyDate {
    return new PyDate(this.instant);
  }
  timestamp(): number {
    return this.instant.getTime() / 1000;
  }
  override toString(): string {
    return this.isoformat(' ');
  }
}
