//! Generate a large NDJSON file of Entra ID diagnostic-settings records for the `test`
//! benchmark: the corpus's diagnostic records, repeated with fresh correlation ids.
//!
//! cargo run --release --example gen_events -- OUT.ndjson [--count 1000000]

// A command-line generator: printing is its job.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: gen_events OUT.ndjson [--count N]");
        std::process::exit(2);
    };
    let count: usize = args
        .iter()
        .position(|a| a == "--count")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let corpus = include_str!("../qid-maps/tests/events/diagnostic-records.ndjson");
    let templates: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();
    let file = std::fs::File::create(out).unwrap_or_else(|e| {
        eprintln!("cannot create {out}: {e}");
        std::process::exit(2);
    });
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut bytes = 0usize;
    for i in 0..count {
        let t = templates[i % templates.len()];
        // A fresh correlation id per record keeps them distinct, as in a real stream.
        let line = match t.find("\"correlationId\"") {
            Some(at) => {
                // The value's opening quote is the third quote from the key's.
                let start = t[at..]
                    .match_indices('"')
                    .nth(2)
                    .map_or(at, |(p, _)| at + p + 1);
                let end = start + t[start..].find('"').unwrap_or(0);
                format!(
                    "{}{:08x}-0000-4000-8000-{:012x}{}",
                    &t[..start],
                    i,
                    i,
                    &t[end..]
                )
            }
            None => t.to_string(),
        };
        bytes += line.len() + 1;
        if writeln!(w, "{line}").is_err() {
            eprintln!("write failed");
            std::process::exit(2);
        }
    }
    if w.flush().is_err() {
        eprintln!("write failed");
        std::process::exit(2);
    }
    eprintln!("wrote {count} records, {bytes} bytes, to {out}");
}
