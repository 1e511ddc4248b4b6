//! One module per subcommand. Each takes its arguments and two writers (stdout,
//! stderr) and returns an [`Outcome`]; nothing here prints directly.

use std::io::Write;

pub mod build;
pub mod diff;
pub mod inspect;
pub mod release;
pub mod scaffold;
pub mod test;
pub mod tooling;
pub mod validate;

/// How a command ended, mapped by the binary to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, no error-level finding.
    Success,
    /// 1: the input has error-level findings.
    Findings,
    /// 2: the tool could not do its job (unreadable file, bad arguments, I/O failure).
    Failure,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Findings => 1,
            Outcome::Failure => 2,
        }
    }
}

/// Where a command writes, and how.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub color: bool,
    pub quiet: bool,
}

/// The catalogue a command uses: the embedded one, or the user's own (`--categories`).
pub(crate) fn catalogue(
    path: Option<&std::path::Path>,
) -> Result<std::borrow::Cow<'static, crate::catalogue::Catalogue>, String> {
    match path {
        None => Ok(std::borrow::Cow::Borrowed(
            crate::catalogue::Catalogue::builtin(),
        )),
        Some(p) => build::load_categories(p).map(std::borrow::Cow::Owned),
    }
}
