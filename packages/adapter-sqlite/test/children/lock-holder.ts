// Holds the write lock of a SQLite file for a while, then releases it. Prints `locked` once
// it holds the lock.
import BetterSqlite3 from 'better-sqlite3';

const [path, holdMs] = process.argv.slice(2) as [string, string];
const db = new BetterSqlite3(path);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
setTimeout(() => {
  db.exec('COMMIT');
  db.close();
}, Number(holdMs));
