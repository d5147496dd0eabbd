/**
 * The added-latency distribution as an SVG: one cumulative curve per place a row becomes
 * visible (the processed topic, Druid SQL), with the goal's line. Plain SVG text, so the bench
 * needs no plotting package and the picture opens in any browser.
 */

export interface Series {
    name: string;
    color: string;
    /** Seconds, one per aggregate row. */
    values: readonly number[];
}

export interface ChartOptions {
    title: string;
    /** Vertical reference lines, e.g. the checkpoint interval and the goal. */
    marks: { at: number; label: string }[];
    width?: number;
    height?: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A step that gives about 6-10 ticks over [0, max]. */
function tickStep(max: number): number {
    const raw = max / 8;
    const pow = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((m) => m * pow).find((step) => step >= raw)!;
}

export function cdfSvg(series: readonly Series[], options: ChartOptions): string {
    const { width = 760, height = 420 } = options;
    const pad = { left: 60, right: 20, top: 40, bottom: 50 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const all = series.flatMap((s) => s.values);
    const lo = Math.min(0, ...all);
    const hi = Math.max(1, ...all, ...options.marks.map((m) => m.at)) * 1.05;
    const x = (v: number) => pad.left + ((v - lo) / (hi - lo)) * plotW;
    const y = (p: number) => pad.top + (1 - p) * plotH;
    const out: string[] = [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
        `<rect width="${width}" height="${height}" fill="white"/>`,
        `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${esc(options.title)}</text>`,
    ];
    const step = tickStep(hi - lo);
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
        out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="#eee"/>`,
            `<text x="${x(t)}" y="${pad.top + plotH + 16}" text-anchor="middle">${Number(t.toFixed(3))}</text>`);
    }
    for (const p of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
        out.push(`<line x1="${pad.left}" x2="${pad.left + plotW}" y1="${y(p)}" y2="${y(p)}" stroke="#eee"/>`,
            `<text x="${pad.left - 6}" y="${y(p) + 4}" text-anchor="end">${Math.round(p * 100)}%</text>`);
    }
    out.push(`<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
        `<text x="${pad.left + plotW / 2}" y="${height - 12}" text-anchor="middle">seconds added beyond window end + watermark delay</text>`,
        `<text transform="translate(16 ${pad.top + plotH / 2}) rotate(-90)" text-anchor="middle">rows visible</text>`);
    options.marks.forEach((m, i) => {
        // One label per line of text, so labels of nearby marks do not overlap.
        out.push(`<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="#c00" stroke-dasharray="4 3"/>`,
            // Right of its line, or left of it near the right edge, so the label stays inside the picture.
            x(m.at) > pad.left + plotW - 120
                ? `<text x="${x(m.at) - 4}" y="${pad.top + 14 + 14 * i}" fill="#c00" text-anchor="end">${esc(m.label)}</text>`
                : `<text x="${x(m.at) + 4}" y="${pad.top + 14 + 14 * i}" fill="#c00">${esc(m.label)}</text>`);
    });
    series.forEach((s, i) => {
        const sorted = [...s.values].sort((a, b) => a - b);
        if (sorted.length > 0) {
            // A step function: at each value the curve rises by one row's share.
            const points = [`${x(sorted[0]!)},${y(0)}`];
            sorted.forEach((v, k) => points.push(`${x(v)},${y(k / sorted.length)}`, `${x(v)},${y((k + 1) / sorted.length)}`));
            out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`);
        }
        // Top left: the curves start at the bottom left and end at the top right.
        const ly = pad.top + 18 + 16 * i;
        out.push(`<line x1="${pad.left + 10}" x2="${pad.left + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`,
            `<text x="${pad.left + 35}" y="${ly}">${esc(`${s.name} (${s.values.length} rows)`)}</text>`);
    });
    out.push("</svg>");
    return out.join("\n") + "\n";
}
