// Writing many rows in few statements: each SQL statement costs workerd a
// fixed overhead whatever it does, and a Durable Object binds at most 100
// parameters per statement. Used by the key-value and session tables
// (sql-kv.ts, sql-sessions.ts).

/** A Durable Object binds at most this many parameters per statement. */
export const maxParams = 100;

/**
 * Rows for one multi-row statement, sent once `rowsPerStatement` are waiting
 * or on flush(): `head VALUES (?, ...), ... tail`. The texts are reused, so
 * workerd's statement cache keeps them.
 */
export class RowWriter {
  private values: SqlStorageValue[] = [];
  private rows = 0;
  private readonly perStatement: number;
  private readonly texts: string[] = [];
  /** Statements sent, for tests and counters. */
  statements = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly head: string,
    private readonly columns: number,
    private readonly tail = '',
  ) {
    this.perStatement = Math.floor(maxParams / columns);
  }

  add(...row: SqlStorageValue[]): void {
    for (const v of row) this.values.push(v);
    if (++this.rows === this.perStatement) this.flush();
  }

  flush(): void {
    if (this.rows === 0) return;
    const text = (this.texts[this.rows] ??= `${this.head} VALUES ${Array(this.rows)
      .fill(`(${Array(this.columns).fill('?').join(', ')})`)
      .join(', ')} ${this.tail}`);
    this.sql.exec(text, ...this.values);
    this.statements++;
    this.values = [];
    this.rows = 0;
  }
}

/** `head (?, ?, ...)` with one placeholder per value, in statements of at most maxParams values. */
export function execIn(sql: SqlStorage, head: string, values: readonly SqlStorageValue[], per = maxParams): number {
  let statements = 0;
  for (let at = 0; at < values.length; at += per) {
    const part = values.slice(at, at + per);
    sql.exec(`${head} (${part.map(() => '?').join(', ')})`, ...part);
    statements++;
  }
  return statements;
}
