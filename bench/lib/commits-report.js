// The S3 section of the report (kept apart from the workload, which needs the built packages).

/** RxDB's memory row for 1,000 Frontend writes in issue 26's run. */
const UPLOAD_GOAL_MS = 210;

/** Markdown lines for the S3 result. */
export function commitsMarkdown(r, command, date, quick = false) {
  const lines = [`## Commits at the default durability (S3, issue 26)`, '', `\`${command}\`, ${date}.`, ''];
  if (r.error) return [...lines, `Failed: ${r.error.split('\n')[0]}`, ''];
  lines.push('| group commit | writers | asked/s | held/s | median ms | p99 ms | max ms | closed loop/s |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of r.rows) lines.push(`| ${x.groupCommit ? 'on' : 'off'} | ${x.writers} | ${x.rate} | ${x.perSecond} | ${x.medianMs} | ${x.p99Ms} | ${x.maxMs} | ${x.closedLoopPerSecond} |`);
  if (r.uploads) {
    lines.push('', 'Upload: Desired writes saved together on a Frontend (replica on SQLite FULL), over a loopback WebSocket, until every result is back; the Edge on SQLite FULL.', '', '| Edge group commit | writes | saved locally ms | all results ms | writes/s |', '|---|---:|---:|---:|---:|');
    for (const u of r.uploads) lines.push(`| ${u.groupCommit ? 'on' : 'off'} | ${u.writes} | ${u.savedLocallyMs} | ${u.allResultsMs} | ${u.perSecond} |`);
    const on = r.uploads.find((u) => u.groupCommit);
    // Issue 26's goal: at least as fast as RxDB's memory row (0.21 s for 1,000 writes in the issue's run; the peers do not run in this bench yet).
    if (on) lines.push('', `Upload goal (issue 26): 1,000 writes in at most ${UPLOAD_GOAL_MS} ms (RxDB's memory row in the issue's run), protocol 3 (batched writes and results): ${on.allResultsMs} ms, ${quick ? 'not judged (smoke run)' : on.allResultsMs <= UPLOAD_GOAL_MS ? 'met' : 'MISSED'}.`);
  }
  lines.push('', `Goal: ${r.goal.rate} single-document commits/s from concurrent writers with p99 under ${r.goal.p99Ms} ms (group commit on): ${quick ? 'not judged (smoke run)' : r.met ? 'met' : 'MISSED'}.`, '');
  return lines;
}
