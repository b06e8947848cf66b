/**
 * A campaign's report for auditors: every item, who reviewed it, when, the decision, the reason,
 * what it did, and the journal entries that record it (linked by the decision's request id). As
 * JSON (exact) and CSV (RFC 4180, cells safe for spreadsheets: journal/csv.ts's csvCell).
 */
import type { Knex } from 'knex';
import { csvCell } from '../journal/csv.js';
import { campaignById, reportRows, type Campaign, type ReportRow } from './review-store.js';

export interface CampaignReport {
  campaign: Campaign;
  generatedAt: string;
  summary: { total: number; decided: number; kept: number; revoked: number; shortened: number; byDefault: number; undecided: number };
  items: ReportRow[];
}

export async function campaignReport(db: Knex, campaignId: string): Promise<CampaignReport | undefined> {
  const campaign = await campaignById(db, campaignId);
  if (!campaign) return undefined;
  const items = await reportRows(db, campaignId);
  const count = (test: (row: ReportRow) => boolean) => items.filter(test).length;
  return {
    campaign,
    generatedAt: new Date().toISOString(),
    summary: {
      total: items.length,
      decided: count((r) => r.decision !== null),
      kept: count((r) => r.decision === 'keep'),
      revoked: count((r) => r.decision === 'revoke'),
      shortened: count((r) => r.decision === 'shorten'),
      byDefault: count((r) => r.byDefault),
      undecided: count((r) => r.decision === null),
    },
    items,
  };
}

export const REPORT_CSV_COLUMNS = [
  'campaign', 'item', 'kind', 'access', 'reviewer', 'reviewer_basis', 'decision', 'reason', 'shorten_until', 'decided_by', 'decided_at', 'by_default', 'outcome', 'journal_entries',
] as const;

export function reportCsv(report: CampaignReport): string {
  const lines = [REPORT_CSV_COLUMNS.join(',')];
  for (const r of report.items) {
    lines.push(
      [report.campaign.id, r.id, r.kind, r.label, r.reviewer, r.reviewerBasis, r.decision, r.reason, r.shortenUntil, r.decidedBy, r.decidedAt, r.byDefault, r.outcome, r.journalIds.join(' ')]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
