//! `qrpack new PATH` and `qrpack init`: a new pack from a template (src/scaffold.rs).

use std::path::Path;

use super::{Io, Outcome};
use crate::cli::{InitArgs, NewArgs, PackKind, ScaffoldArgs};
use crate::diag::{Sources, render};
use crate::scaffold::{Kind, Params, WriteError, files, write};

pub fn new(args: &NewArgs, io: &mut Io) -> Outcome {
    run(&args.path, &args.scaffold, io, Some(&args.path))
}

pub fn init(args: &InitArgs, io: &mut Io) -> Outcome {
    let here = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(io.err, "error: cannot find the current folder: {e}");
            return Outcome::Failure;
        }
    };
    run(&here, &args.scaffold, io, None)
}

/// `shown`: the folder as the user named it (`new`), for the next steps; `None` for the
/// current folder (`init`).
fn run(dir: &Path, args: &ScaffoldArgs, io: &mut Io, shown: Option<&Path>) -> Outcome {
    let kind = match args.kind {
        PackKind::BuiltinDsm => Kind::BuiltinDsm,
        PackKind::DetectionOnly => Kind::DetectionOnly,
    };
    // The folder's own name, even for `.` or a trailing `/`.
    let named = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let params = match Params::new(&named, args.name.as_deref(), args.hub_id.as_deref()) {
        Ok(p) => p,
        Err(d) => {
            let _ = write!(io.err, "{}", render(&[*d], &Sources::new(), io.color));
            return Outcome::Failure;
        }
    };
    let files = files(kind, &params);
    match write(dir, &files) {
        Ok(done) => {
            if !io.quiet {
                // `new`: paths as the user named the folder; `init`: relative to it.
                let show = |p: &Path| match shown {
                    Some(_) => p.display().to_string(),
                    None => p.strip_prefix(dir).unwrap_or(p).display().to_string(),
                };
                for p in &done.created {
                    let _ = writeln!(io.out, "  created    {}", show(p));
                }
                for p in &done.unchanged {
                    let _ = writeln!(io.out, "  unchanged  {}", show(p));
                }
                let _ = writeln!(
                    io.out,
                    "\nA {} pack \"{}\" (hub id \"{}\"). Next:",
                    kind.folder(),
                    params.name,
                    params.hub_id
                );
                if let Some(s) = shown {
                    let _ = writeln!(io.out, "  cd {}", s.display());
                }
                let f = &params.file;
                let _ = writeln!(io.out, "  qrpack build {f}.toml");
                let _ = writeln!(io.out, "  qrpack validate dist/*.zip");
                let _ = writeln!(io.out, "  qrpack test {f}.toml");
            }
            Outcome::Success
        }
        Err(WriteError::Exists(diags)) => {
            let _ = write!(io.err, "{}", render(&diags, &Sources::new(), io.color));
            let _ = writeln!(
                io.err,
                "error: nothing was written ({} file{} already exist{})",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" },
                if diags.len() == 1 { "s" } else { "" }
            );
            Outcome::Failure
        }
        Err(WriteError::Io(m)) => {
            let _ = writeln!(io.err, "error: {m} (nothing was written)");
            Outcome::Failure
        }
    }
}
