//! `qrpack inspect PATH...`: a readable summary of what each archive holds.

use super::validate::open;
use super::{Io, Outcome};
use crate::catalogue::Catalogue;
use crate::cli::{Format, InspectArgs};
use crate::inspect::{inspect, render};
use crate::validate::{ArchiveLimits, Options, validate_path};

pub fn run(args: &InspectArgs, io: &mut Io) -> Outcome {
    let catalogue = match super::catalogue(args.categories.as_deref()) {
        Ok(c) => c,
        Err(m) => {
            let _ = writeln!(io.err, "error: {m}");
            return Outcome::Failure;
        }
    };
    let catalogue: &Catalogue = &catalogue;
    let opts = Options {
        catalogue,
        // Inspect reports what is there; the catalogue only names categories.
        catalogue_is_authoritative: false,
        limits: ArchiveLimits::default(),
        keep_rows: true,
    };
    let mut outcome = Outcome::Success;
    let mut all = Vec::new();
    for p in &args.paths {
        let report = match open(p).and_then(|o| validate_path(&o.path, &o.shown, &opts)) {
            Ok(r) => r,
            Err(m) => {
                let _ = writeln!(io.err, "error: {m}");
                outcome = Outcome::Failure;
                continue;
            }
        };
        let view = inspect(&report, catalogue);
        match args.format {
            Format::Human => {
                let _ = writeln!(io.out, "{}", render(&view));
            }
            Format::Json => all.push(view),
        }
    }
    if args.format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *io.out, &all);
        let _ = writeln!(io.out);
    }
    outcome
}
