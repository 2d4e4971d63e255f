//! Writes a synthetic input CSV for benchmarks: `cargo run --release --example gen_input -- ROWS > FILE`.
//! Distinct UUIDv7-shaped auth_uuids, the three states in turn, reasons on every other row.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "auth_uuid,state,reasons")?;
    let states = ["OK", "KO", "CANCELLED"];
    for i in 0..rows {
        let state = states[(i % 3) as usize];
        let reasons = if i % 2 == 0 {
            "Revisión manual, lote 42"
        } else {
            ""
        };
        let quoted = if reasons.contains(',') {
            format!("\"{reasons}\"")
        } else {
            reasons.to_string()
        };
        writeln!(
            out,
            "01930000-{:04x}-7{:03x}-8{:03x}-{:012x},{state},{quoted}",
            (i >> 32) & 0xffff,
            (i >> 20) & 0xfff,
            (i >> 8) & 0xfff,
            i
        )?;
    }
    out.flush()
}
