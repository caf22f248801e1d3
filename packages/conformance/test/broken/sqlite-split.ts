/** Factory module for child processes: SQLite that allocates ids and writes records in two transactions. */
import { brokenSqlite } from './sqlite-broken.js';

export const open = brokenSqlite('split');
