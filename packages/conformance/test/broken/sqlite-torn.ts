/** Factory module for child processes: SQLite that writes a batch as one autocommit per record, declared crashSafe. */
import { brokenSqlite } from './sqlite-broken.js';

export const open = brokenSqlite('torn');
