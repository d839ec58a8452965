import type Database from 'better-sqlite3';

/**
 * A check that the database answers: it commits a one-row write (the time of the check), so a
 * closed database, a failing disk or a full one shows, not only a database that cannot be read
 * (reads are mostly answered from SQLite's cache). Throws the database's error when it fails.
 */
export function databaseHealthCheck(db: Database.Database): (nowMs: number) => void {
  const record = db.prepare(
    `INSERT INTO settings (key, value) VALUES ('health_checked_at', ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  );
  return (nowMs) => {
    record.run(String(nowMs));
  };
}
