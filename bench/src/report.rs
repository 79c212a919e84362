//! Markdown tables: median (min–max) over repetitions, and the Starling / other ratios.

use std::fmt::Write as _;

/// How a row's values print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A duration in nanoseconds (printed as ns, µs or ms).
    Nanos,
    /// A byte count (deterministic; printed with one decimal when fractional).
    Bytes,
}

/// One measurement across repetitions: one sample per repetition.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Adds one repetition's value.
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    /// The median (mean of the two middle values for an even count).
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }
    /// The smallest value.
    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }
    /// The largest value.
    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
}

/// Formats one value in `unit`.
pub fn fmt_value(v: f64, unit: Unit) -> String {
    if v.is_nan() {
        return "–".into();
    }
    match unit {
        Unit::Nanos if v >= 10_000_000.0 => format!("{:.1} ms", v / 1e6),
        Unit::Nanos if v >= 10_000.0 => format!("{:.1} µs", v / 1e3),
        Unit::Nanos if v >= 100.0 => format!("{v:.0} ns"),
        Unit::Nanos => format!("{v:.1} ns"),
        Unit::Bytes if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Bytes => format!("{v:.1}"),
    }
}

fn fmt_samples(s: &Samples, unit: Unit) -> String {
    let (med, lo, hi) = (s.median(), s.min(), s.max());
    if s.0.len() <= 1 || lo == hi {
        fmt_value(med, unit)
    } else {
        format!(
            "{} ({}–{})",
            fmt_value(med, unit),
            fmt_value(lo, unit),
            fmt_value(hi, unit)
        )
    }
}

/// `n` with thousands separators: `200,000`.
pub fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats `a / b` of medians.
pub fn fmt_ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if !r.is_finite() {
        "–".into()
    } else if r >= 10.0 {
        format!("{r:.0}")
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else if r >= 0.001 {
        format!("{r:.4}")
    } else {
        format!("{r:.2e}")
    }
}

/// One row: a metric measured for Starling, crdts and Automerge (`None` where a library
/// has no such figure).
#[derive(Clone, Debug)]
pub struct Row {
    /// What is measured.
    pub label: String,
    /// How values print.
    pub unit: Unit,
    /// Starling, crdts, Automerge.
    pub cells: [Option<Samples>; 3],
}

impl Row {
    /// A row with all three libraries.
    pub fn new(label: impl Into<String>, unit: Unit, cells: [Option<Samples>; 3]) -> Self {
        Row {
            label: label.into(),
            unit,
            cells,
        }
    }
    /// The median of library `i` (0 Starling, 1 crdts, 2 Automerge).
    pub fn median(&self, i: usize) -> f64 {
        self.cells[i].as_ref().map_or(f64::NAN, Samples::median)
    }
}

/// A comparison table: one row per metric, one column per library, and the ratios of
/// Starling's median to the others'.
#[derive(Clone, Debug)]
pub struct Table {
    /// Markdown heading (level 4).
    pub title: String,
    /// The rows.
    pub rows: Vec<Row>,
    /// Notes printed under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "#### {}\n", self.title);
        let _ = writeln!(
            out,
            "| metric | Starling | crdts 7.3 | Automerge 0.12 | Starling / crdts | Starling / Automerge |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let cell = |i: usize| {
                row.cells[i]
                    .as_ref()
                    .map_or_else(|| "–".to_string(), |s| fmt_samples(s, row.unit))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.label,
                cell(0),
                cell(1),
                cell(2),
                fmt_ratio(row.median(0), row.median(1)),
                fmt_ratio(row.median(0), row.median(2)),
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "{note}");
            }
        }
        out
    }
}

/// A free-form table: a header and rows of already formatted cells.
pub fn plain_table(title: &str, header: &[&str], rows: &[Vec<String>], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#### {title}\n");
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i == 0 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "{note}");
        }
    }
    out
}

/// Formats samples for a [`plain_table`] cell.
pub fn cell(s: &Samples, unit: Unit) -> String {
    fmt_samples(s, unit)
}
