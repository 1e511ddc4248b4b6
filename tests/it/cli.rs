//! CLI behaviour pinned by trycmd: `tests/cmd/*.md` (help of every subcommand,
//! representative runs, errors). Regenerate after an intended change with
//! `TRYCMD=overwrite cargo test --test it cli::` (docs/testing.md).

use crate::tooling::subcommands;

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new()
        .register_bin("qrpack", std::path::Path::new(env!("CARGO_BIN_EXE_qrpack")))
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.md");
}

#[test]
fn every_subcommand_help_is_pinned() {
    let help = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/help.md"),
    )
    .expect("tests/cmd/help.md");
    for s in subcommands() {
        assert!(
            help.contains(&format!("$ qrpack {s} --help\n")),
            "tests/cmd/help.md does not pin `qrpack {s} --help`: add\n\n## `qrpack {s}`\n\n```console\n$ qrpack {s} --help\n```\n\nto it and run `TRYCMD=overwrite cargo test --test it cli::` (docs/testing.md)"
        );
    }
}
