/**
 * A hand-written SVG bar chart: one panel per figure, the service's bar beside its
 * reference's, each panel on its own linear scale. No dependencies.
 */

export interface ChartBar {
  label: string;
  value: number | undefined;
  kind: 'service' | 'reference';
}

export interface ChartPanel {
  title: string;
  unit: string;
  bars: ChartBar[];
  /** Bars longer than the longest of these labels are clipped (marked »), so one huge reference does not flatten the rest. */
  scaleTo?: string[];
  note?: string;
}

const WIDTH = 960;
const LABEL_W = 300;
const BAR_MAX = 500;
const ROW = 22;
const COLORS = { service: '#2563eb', reference: '#9ca3af' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function renderChart(title: string, subtitle: string, panels: ChartPanel[]): string {
  const parts: string[] = [];
  let y = 74;
  for (const panel of panels) {
    parts.push(`<text x="16" y="${y}" class="panel">${esc(panel.title)}</text>`);
    y += 10;
    const scaled = panel.bars.filter((b) => !panel.scaleTo || panel.scaleTo.includes(b.label));
    const max = Math.max(...scaled.map((b) => b.value ?? 0), 1e-9);
    for (const bar of panel.bars) {
      y += ROW;
      parts.push(`<text x="${LABEL_W - 8}" y="${y - 6}" class="label" text-anchor="end">${esc(bar.label)}</text>`);
      if (bar.value === undefined || !Number.isFinite(bar.value)) {
        parts.push(`<text x="${LABEL_W}" y="${y - 6}" class="na">not available</text>`);
        continue;
      }
      const clipped = bar.value > max * 1.0001;
      const w = Math.max(1, Math.round((Math.min(bar.value, max) / max) * BAR_MAX));
      parts.push(`<rect x="${LABEL_W}" y="${y - ROW + 5}" width="${w}" height="${ROW - 8}" fill="${COLORS[bar.kind]}" rx="2"/>`);
      const text = `${fmt(bar.value)} ${panel.unit}${clipped ? ' » (off scale)' : ''}`;
      parts.push(`<text x="${LABEL_W + w + 6}" y="${y - 6}" class="value">${esc(text)}</text>`);
    }
    if (panel.note) {
      y += 18;
      parts.push(`<text x="${LABEL_W}" y="${y - 4}" class="note">${esc(panel.note)}</text>`);
    }
    y += 24;
  }
  const legendY = y;
  parts.push(
    `<rect x="16" y="${legendY - 11}" width="12" height="12" fill="${COLORS.service}"/><text x="34" y="${legendY}" class="label">the service</text>`,
    `<rect x="140" y="${legendY - 11}" width="12" height="12" fill="${COLORS.reference}"/><text x="158" y="${legendY}" class="label">reference on the same machine, same run</text>`,
  );
  const height = legendY + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:18px;font-weight:bold}.sub{font-size:12px;fill:#4b5563}.panel{font-size:14px;font-weight:bold}.label{font-size:12px}.value{font-size:12px;fill:#111827}.na{font-size:12px;fill:#b91c1c;font-style:italic}.note{font-size:11px;fill:#4b5563}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" class="title">${esc(title)}</text>`,
    `<text x="16" y="42" class="sub">${esc(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
