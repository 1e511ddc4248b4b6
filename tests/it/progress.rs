//! The progress bar: drawn on stderr only for a person at a terminal (a pseudo-terminal
//! made by `script(1)` here), never with -q, in CI or into a pipe, never for small files.

use std::path::Path;
use std::process::Command;

use crate::common::{root, text};

/// A content XML just over the bar's threshold (comments: quick to read in a debug build).
fn big_xml(dir: &Path) -> std::path::PathBuf {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<content>\n<qradarversion>2021.6.0</qradarversion>\n",
    );
    // Two findings (QR050, QR053), so that reports can be compared.
    s.push_str("<qidmap><id>1</id><qid>2000001</qid><qname>Event</qname><severity>11</severity><lowlevelcategory>99999</lowlevelcategory></qidmap>\n");
    let line = format!("<!-- {} -->\n", "padding ".repeat(25));
    while (s.len() as u64) < qrpack::progress::MIN_BYTES + (512 << 10) {
        s.push_str(&line);
    }
    s.push_str("</content>\n");
    let p = dir.join("big.xml");
    std::fs::write(&p, s).expect("write");
    p
}

/// Run `cmd` with stdin, stdout and stderr on a pseudo-terminal; the transcript.
fn on_terminal(dir: &Path, cmd: &str, ci: bool) -> String {
    let mut c = Command::new("script");
    c.args(["-qec", cmd, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    if ci {
        c.env("CI", "true");
    } else {
        c.env_remove("CI");
    }
    let out = c
        .output()
        .expect("script(1) from util-linux runs commands on a pseudo-terminal");
    text(&out.stdout)
}

const BIN: &str = env!("CARGO_BIN_EXE_qrpack");

#[test]
fn validate_draws_a_bar_only_for_a_person_at_a_terminal() {
    let tmp = tempfile::tempdir().expect("tmp");
    big_xml(tmp.path());
    let drawn = on_terminal(tmp.path(), &format!("{BIN} validate big.xml"), false);
    assert!(drawn.contains("validating big.xml"), "{drawn}");
    assert!(drawn.contains("MiB"), "{drawn}");
    // Cleared at the end: the last thing on the line is the erase, then the report.
    assert!(drawn.contains("\x1b[2K"), "{drawn:?}");
    assert!(drawn.contains("big.xml: "), "{drawn}");

    for (cmd, ci) in [
        (format!("{BIN} -q validate big.xml"), false),
        (format!("{BIN} validate big.xml -q"), false),
        (format!("{BIN} validate big.xml"), true),
        (format!("{BIN} validate big.xml 2>err.txt"), false),
    ] {
        let t = on_terminal(tmp.path(), &cmd, ci);
        assert!(!t.contains("validating big.xml"), "{cmd} (CI {ci}): {t}");
    }
    let err = std::fs::read_to_string(tmp.path().join("err.txt")).expect("err.txt");
    assert!(!err.contains("validating"), "{err}");
    // Into a pipe (no terminal at all).
    let out = Command::new(BIN)
        .args(["validate", "big.xml"])
        .current_dir(tmp.path())
        .env_remove("CI")
        .output()
        .expect("run");
    assert!(
        !text(&out.stderr).contains("validating"),
        "{}",
        text(&out.stderr)
    );

    // A small input gets no bar.
    let small = root().join("tests/fixtures/reference-exports/custom-json-dsm-teleport.zip");
    let t = on_terminal(
        tmp.path(),
        &format!("{BIN} validate {}", small.display()),
        false,
    );
    assert!(!t.contains("validating"), "{t}");
}

#[test]
fn the_bar_does_not_change_the_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    big_xml(tmp.path());
    // The same findings with and without the bar (JSON on stdout, into a file).
    on_terminal(
        tmp.path(),
        &format!("{BIN} validate --format json big.xml > with.json"),
        false,
    );
    let without = Command::new(BIN)
        .args(["validate", "--format", "json", "big.xml"])
        .current_dir(tmp.path())
        .output()
        .expect("run");
    let with = std::fs::read(tmp.path().join("with.json")).expect("with.json");
    assert!(text(&with).contains("\"QR050\""), "{}", text(&with));
    assert_eq!(text(&with), text(&without.stdout));
}

#[test]
fn test_events_draws_a_bar_when_its_report_is_not_on_the_terminal() {
    let tmp = tempfile::tempdir().expect("tmp");
    crate::common::copy_tree(&root().join("qid-maps"), tmp.path());
    let one = std::fs::read_to_string(tmp.path().join("tests/events/diagnostic-records.ndjson"))
        .expect("events");
    let mut big = String::new();
    while big.len() < 5 << 20 {
        big.push_str(&one);
    }
    std::fs::write(tmp.path().join("big.ndjson"), &big).expect("write");
    let pack = crate::common::PACK;
    // Human report into a file: the bar shows the bytes read.
    let t = on_terminal(
        tmp.path(),
        &format!("{BIN} test {pack} --events big.ndjson > report.txt"),
        false,
    );
    assert!(t.contains("testing big.ndjson"), "{t}");
    let report = std::fs::read_to_string(tmp.path().join("report.txt")).expect("report");
    assert!(report.contains("events:"), "{report}");
    assert!(
        !report.contains("testing big.ndjson"),
        "the bar went to stdout"
    );
    // Human report on the terminal: every event is printed as it goes, no bar.
    let t = on_terminal(
        tmp.path(),
        &format!("{BIN} test {pack} --events big.ndjson"),
        false,
    );
    assert!(
        !t.contains("testing big.ndjson"),
        "{}",
        &t[..t.len().min(2000)]
    );
}
