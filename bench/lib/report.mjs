// Presenting results: the stdout table, a Markdown table for docs/benchmarks.md, and an SVG bar
// chart written by hand (no dependencies).

/** "8.80 M", "212 k", "7.5", "1.23" depending on unit and size. */
export function formatValue(value, unit) {
  if (!Number.isFinite(value)) return '—';
  if (unit === 'ms' || unit.startsWith('ms ')) return value < 10 ? value.toFixed(2) : value.toFixed(1);
  if (unit.startsWith('KiB')) return value.toFixed(1);
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)} k`;
  return value.toFixed(0);
}

/** The ratio per server CPU-second, for rate scenarios (blank where it means nothing). */
function perCoreText(row, scenario) {
  if (scenario.better !== 'higher') return '';
  return ratioText(row.perCoreRatio);
}

function perCoreGoal(goal) {
  return Number.isFinite(goal.perCoreRatio) && goal.metPerCore !== undefined ? `; per srv CPU ${ratioText(goal.perCoreRatio)}` : '';
}

function pct(fraction) {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '—';
}

function ratioText(ratio) {
  if (!Number.isFinite(ratio)) return '—';
  return ratio >= 10 ? `${ratio.toFixed(1)}x` : `${ratio.toFixed(2)}x`;
}

/** Detail column: latency percentiles, heap per connection, etc. */
function detail(row) {
  const parts = [];
  if (row.p50 !== undefined && Number.isFinite(row.p50)) parts.push(`p50 ${row.p50.toFixed(2)} ms`);
  if (row.p99 !== undefined && Number.isFinite(row.p99) && !row.unitIsP99) parts.push(`p99 ${row.p99.toFixed(2)} ms`);
  if (row.heapPerConn !== undefined && Number.isFinite(row.heapPerConn)) parts.push(`heap+ext ${row.heapPerConn.toFixed(1)} KiB`);
  if (row.errors > 0) parts.push(`${row.errors} errors`);
  return parts.join(', ');
}

function goalText(goal, results) {
  const label = (id) => results.rows.find((r) => r.id === id)?.label ?? id;
  if (goal.op === 'p99<') return `p99 < ${label(goal.vs)}`;
  return `${goal.metric === 'heapPerConn' ? 'heap+ext ' : ''}${goal.op} ${goal.ratio}x ${label(goal.vs)}`;
}

/** Evaluates a goal: { text, ratio, met } (met undefined when it cannot be decided). */
export function evaluateGoal(goal, results) {
  const row = results.rows.find((r) => r.id === goal.target);
  const base = results.rows.find((r) => r.id === goal.vs);
  const text = goalText(goal, results);
  if (!row || !base || row.skipped || base.skipped || !Number.isFinite(row.value) || !Number.isFinite(base.value)) {
    return { target: goal.target, text, ratio: NaN, met: undefined };
  }
  if (goal.op === 'p99<') return { target: goal.target, text, ratio: row.p99 / base.p99, met: row.p99 < base.p99 };
  // `metric` names another figure of the rows to compare (e.g. `heapPerConn`); default: the value column.
  // A row measured in pairs against the reference (cross-node throughput) carries its own ratio.
  const ratio = goal.metric === undefined ? row.pairedRatio ?? row.value / base.value : row[goal.metric] / base[goal.metric];
  const met = goal.op === '>=' ? ratio >= goal.ratio : ratio <= goal.ratio;
  const perCoreRatio = row.perCore / base.perCore;
  const metPerCore = goal.op === '>=' ? perCoreRatio >= goal.ratio : undefined;
  return { target: goal.target, text, ratio, met, perCoreRatio, metPerCore };
}

function pad(text, width, right = false) {
  const s = String(text);
  if (s.length >= width) return s;
  return right ? ' '.repeat(width - s.length) + s : s + ' '.repeat(width - s.length);
}

/** The plain-text table printed on stdout. */
export function textTable(all) {
  const lines = [];
  all.forEach((results, index) => {
    const s = results.scenario;
    lines.push('');
    lines.push(`${index + 1}) ${s.title}  [${s.id}; ${s.unit}, ${s.better} is better; ref = ${s.reference}]`);
    lines.push(
      `   ${pad('target', 44)} ${pad(s.unit, 12, true)} ${pad('x ref', 7, true)} ${pad('x/cpu', 7, true)} ${pad('srv cpu', 8, true)} ${pad('gen cpu', 8, true)} ${pad('irq', 5, true)} ${pad('other', 6, true)}  notes`,
    );
    for (const row of results.rows) {
      const mark = row.ours ? '*' : ' ';
      if (row.skipped || row.error) {
        const why = row.skipped ? `skipped: ${row.skipped}` : `error: ${row.error}`;
        lines.push(`  ${mark}${pad(row.label, 44)} ${pad('—', 12, true)} ${pad('', 7)} ${pad('', 7)} ${pad('', 8)} ${pad('', 8)} ${pad('', 5)} ${pad('', 6)}  ${why.split('\n')[0].slice(0, 160)}`);
        continue;
      }
      const goals = results.goals.filter((g) => g.target === row.id);
      const goalNotes = goals.map(
        (g) => `goal ${g.text}: ${g.met === undefined ? '?' : g.met ? 'met' : 'MISSED'} (${ratioText(g.ratio)}${perCoreGoal(g)})`,
      );
      const notes = [
        detail(row),
        ...goalNotes,
        row.genBound ? 'generator near saturation' : '',
        row.otherCpu > 0.15 ? 'other processes busy meanwhile' : '',
      ]
        .filter(Boolean)
        .join('; ');
      lines.push(
        `  ${mark}${pad(row.label, 44)} ${pad(formatValue(row.value, s.unit), 12, true)} ${pad(ratioText(row.ratio), 7, true)} ${pad(perCoreText(row, s), 7, true)} ${pad(
          pct(row.srvCpu),
          8,
          true,
        )} ${pad(pct(row.genCpu), 8, true)} ${pad(pct(row.irqCpu), 5, true)} ${pad(pct(row.otherCpu), 6, true)}  ${notes}`,
      );
    }
  });
  lines.push('');
  lines.push('  * = this project. Values are medians over the repetitions; "x ref" divides by the reference row;');
  lines.push('  "x/cpu" divides work per server CPU-second (rate / srv cpu) instead: steadier when the machine is shared.');
  lines.push('  srv/gen cpu = CPU time of the server / load-generator process over the measured window (1 core = 100%);');
  lines.push('  irq = interrupt + softirq time (the loopback network stack); other = every other process (/proc/stat');
  lines.push('  user + system minus the two): more than ~15% means something else ran meanwhile and the row is noisy.');
  return lines.join('\n');
}

/** The Markdown version of the table, for docs/benchmarks.md. */
export function markdownTable(all) {
  const lines = [];
  all.forEach((results, index) => {
    const s = results.scenario;
    lines.push(`**${index + 1}. ${s.title}** — ${s.unit}, ${s.better} is better, reference: ${s.reference}`);
    lines.push('');
    lines.push(`| target | ${s.unit} | × ref | × ref per srv CPU | srv CPU | gen CPU | irq | other | notes |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of results.rows) {
      const name = row.ours ? `**${row.label}**` : row.label;
      if (row.skipped || row.error) {
        const why = row.skipped ? `skipped: ${row.skipped}` : `error: ${row.error.split('\n')[0]}`;
        lines.push(`| ${name} | — | — | — | — | — | — | — | ${why.replaceAll('|', '\\|')} |`);
        continue;
      }
      const goals = results.goals
        .filter((g) => g.target === row.id)
        .map((g) => `goal ${g.text}: ${g.met === undefined ? '?' : g.met ? '✅' : '❌'} ${ratioText(g.ratio)}${perCoreGoal(g)}`);
      const flags = [
        row.genBound ? 'generator ≥ 90% of a core' : '',
        row.otherCpu > 0.15 ? 'other processes busy (noisy)' : '',
      ];
      const notes = [detail(row), ...goals, ...flags].filter(Boolean).join('; ');
      lines.push(
        `| ${name} | ${formatValue(row.value, s.unit)} | ${ratioText(row.ratio)} | ${perCoreText(row, s) || '—'} | ${pct(row.srvCpu)} | ${pct(row.genCpu)} | ${pct(row.irqCpu)} | ${pct(row.otherCpu)} | ${notes} |`,
      );
    }
    lines.push('');
  });
  return lines.join('\n');
}

function escapeXml(text) {
  return String(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/**
 * A horizontal bar chart, one panel per scenario, bars scaled to the largest value of the panel.
 * Our rows are blue, peers grey, the reference darker; skipped rows say why.
 */
export function svgChart(all, { title, subtitle }) {
  const width = 960;
  const labelWidth = 300;
  const barMax = 470;
  const rowHeight = 20;
  const panelGap = 18;
  const out = [];
  let y = 68;
  const panels = [];
  all.forEach((results, index) => {
    const s = results.scenario;
    const rows = results.rows;
    const finite = rows.filter((r) => !r.skipped && !r.error && Number.isFinite(r.value));
    const max = Math.max(...finite.map((r) => r.value), 0) || 1;
    const parts = [];
    parts.push(
      `<text x="12" y="${y}" class="h">${escapeXml(`${index + 1}. ${s.title}`)}</text>` +
        `<text x="${width - 12}" y="${y}" class="u" text-anchor="end">${escapeXml(`${s.unit} (${s.better} is better)`)}</text>`,
    );
    y += 8;
    for (const row of rows) {
      const cy = y + rowHeight / 2 + 4;
      parts.push(`<text x="${labelWidth - 8}" y="${cy}" class="l" text-anchor="end">${escapeXml(row.label)}</text>`);
      if (row.skipped || row.error) {
        const why = row.skipped ? 'skipped (not available yet)' : 'error';
        parts.push(`<text x="${labelWidth + 4}" y="${cy}" class="s">${escapeXml(why)}</text>`);
      } else {
        const w = Math.max(1, (row.value / max) * barMax);
        const cls = row.ours ? 'ours' : row.id === s.reference ? 'ref' : 'peer';
        parts.push(`<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" class="${cls}"/>`);
        const text = `${formatValue(row.value, s.unit)}  (${ratioText(row.ratio)})`;
        parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${cy}" class="v">${escapeXml(text)}</text>`);
      }
      y += rowHeight;
    }
    y += panelGap;
    panels.push(parts.join(''));
  });
  const height = y + 30;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
  );
  out.push(
    '<style>.t{font-size:16px;font-weight:bold;fill:#111}.st{font-size:11px;fill:#555}.h{font-size:13px;font-weight:bold;fill:#111}' +
      '.u{font-size:11px;fill:#666}.l{font-size:12px;fill:#222}.v{font-size:11px;fill:#222}.s{font-size:11px;fill:#999;font-style:italic}' +
      '.ours{fill:#2563eb}.peer{fill:#9ca3af}.ref{fill:#4b5563}</style>',
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="12" y="24" class="t">${escapeXml(title)}</text>`);
  out.push(`<text x="12" y="40" class="st">${escapeXml(subtitle)}</text>`);
  out.push(...panels);
  const ly = height - 14;
  out.push(
    `<rect x="12" y="${ly - 9}" width="10" height="10" class="ours"/><text x="26" y="${ly}" class="u">this project</text>` +
      `<rect x="112" y="${ly - 9}" width="10" height="10" class="ref"/><text x="126" y="${ly}" class="u">reference peer (1.00x)</text>` +
      `<rect x="262" y="${ly - 9}" width="10" height="10" class="peer"/><text x="276" y="${ly}" class="u">other peers; bars scale to each panel's largest value, (x) = ratio to the reference</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
