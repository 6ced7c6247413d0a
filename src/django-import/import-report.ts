import type { ImportReport } from './django-importer.js';

/** How many skipped or conflicting accounts are listed one by one; the rest are counted. */
const LIST_LIMIT = 50;

/**
 * The report as an operator reads it. Account ids only: no username, address, hash or token is
 * printed (they would end up in deploy logs).
 */
export function formatImportReport(report: ImportReport): string {
  const lines: string[] = [];
  const mode = report.dryRun ? 'DRY RUN (nothing written)' : report.wroteNothing ? 'STOPPED (nothing written)' : 'imported';
  lines.push(`Django import: ${mode} in ${(report.durationMs / 1000).toFixed(1)} s`);
  lines.push(`  Django accounts in the snapshot: ${report.djangoUsers}`);
  lines.push(`  new accounts: ${report.inserted}`);
  const updated = report.updated;
  lines.push(
    `  updated from Django: passwords ${updated.password}, active flags ${updated.isActive}, usernames ${updated.username}, e-mails ${updated.email}; last_login moved ${report.lastLoginsMoved}`,
  );
  lines.push(`  unchanged: ${report.unchanged}`);
  if (report.goneFromDjango > 0) lines.push(`  imported earlier but no longer in Django (left alone): ${report.goneFromDjango}`);
  const blacklist = report.blacklist;
  if (blacklist.noBlacklistApp) {
    lines.push('  blacklisted refresh tokens: Django has no token_blacklist tables');
  } else {
    lines.push(
      `  blacklisted refresh tokens: new ${blacklist.added}, already here ${blacklist.alreadyHere}, expired (not needed) ${blacklist.expired}, unusable ${blacklist.unusable}`,
    );
  }
  lines.push(`  live Django refresh tokens (honoured while LEGACY_TOKENS=true, until they expire): ${report.liveDjangoRefreshTokens}`);
  if (report.sequenceAfter !== null) lines.push(`  new accounts get ids after ${report.sequenceAfter}`);
  if (report.placeholders.length > 0) {
    lines.push(`  placeholder e-mail addresses (--placeholder-emails): ${report.placeholders.length}`);
    for (const { id, reason } of report.placeholders.slice(0, LIST_LIMIT)) {
      lines.push(`    account ${id}: ${reason === 'blank' ? 'no address in Django' : 'address shared with an older account'}`);
    }
  }
  if (report.skipped.length > 0) {
    lines.push(`  skipped: ${report.skipped.length}`);
    for (const skip of report.skipped.slice(0, LIST_LIMIT)) lines.push(`    account ${skip.id}: ${skip.reason}`);
    if (report.skipped.length > LIST_LIMIT) lines.push(`    … and ${report.skipped.length - LIST_LIMIT} more`);
  }
  if (report.conflicts.length > 0) {
    lines.push(`  CONFLICTS: ${report.conflicts.length} — nothing was written; resolve them in Django (or with an option) and run again`);
    for (const conflict of report.conflicts.slice(0, LIST_LIMIT)) lines.push(`    [${conflict.kind}] ${conflict.detail}`);
    if (report.conflicts.length > LIST_LIMIT) lines.push(`    … and ${report.conflicts.length - LIST_LIMIT} more`);
    const kinds = new Set(report.conflicts.map((conflict) => conflict.kind));
    if (kinds.has('blank-email') || kinds.has('duplicate-email')) {
      lines.push('    --placeholder-emails resolves blank-email and duplicate-email (see README "Moving from Django")');
    }
  }
  return lines.join('\n');
}
