//! The `qrpack` binary: parse arguments, run the command, map its outcome to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use qrpack::cli::{Cli, ColorChoice, Command};
use qrpack::commands::{self, Io, Outcome};

/// mimalloc instead of the system allocator: faster for the build's many small
/// allocations (see `docs/benchmarks.md`, build, session 5). The library does not choose
/// an allocator; programs that embed it keep their own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version are successes; anything else is a usage error (2).
            return if e.use_stderr() {
                ExitCode::from(Outcome::Failure.code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (mut out, mut err) = (stdout.lock(), stderr.lock());
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        color,
        quiet: cli.quiet,
    };
    let outcome = match &cli.command {
        Command::Build(args) => commands::build::run(args, &mut io),
        Command::Validate(args) => commands::validate::run(args, &mut io),
        Command::Inspect(args) => commands::inspect::run(args, &mut io),
        Command::Test(args) => commands::test::run(args, &mut io),
        Command::Diff(args) => commands::diff::run(args, &mut io),
        Command::Release(args) => commands::release::run(args, &mut io),
        Command::Schema(args) => commands::tooling::schema(args, &mut io),
        Command::New(args) => commands::scaffold::new(args, &mut io),
        Command::Init(args) => commands::scaffold::init(args, &mut io),
        Command::Completions(args) => commands::tooling::completions(args, &mut io),
        Command::Man(args) => commands::tooling::man(args, &mut io),
    };
    ExitCode::from(outcome.code())
}
