//! `qrpack completions SHELL` and `qrpack man`: generated from the command definitions,
//! so every subcommand (including ones added later) must appear.

use clap::CommandFactory;

use crate::common::{qrpack, text};

/// Every visible subcommand of the binary, from its own definition.
pub fn subcommands() -> Vec<String> {
    qrpack::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn completions_for_every_shell_name_every_subcommand() {
    let dir = tempfile::tempdir().expect("tmp");
    let subs = subcommands();
    assert!(subs.len() >= 9, "{subs:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = qrpack(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.len() > 1000, "{shell}: {script}");
        for s in &subs {
            assert!(
                script.contains(s.as_str()),
                "{shell} completion lacks `{s}`"
            );
        }
        // Option values are completed too, where the shell's generator supports it.
        if matches!(shell, "bash" | "zsh" | "fish") {
            assert!(script.contains("builtin-dsm"), "{shell}: --kind values");
        }
    }
    // Deterministic.
    let a = qrpack(dir.path(), &["completions", "bash"]).stdout;
    let b = qrpack(dir.path(), &["completions", "bash"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn bash_completion_parses_and_completes() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = qrpack(dir.path(), &["completions", "bash"]);
    let script = dir.path().join("qrpack.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(check.status.success(), "{}", text(&check.stderr));
    // Source it and ask for the completions of `qrpack va`, as bash would.
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(qrpack va); COMP_CWORD=1; COMP_LINE='qrpack va'; COMP_POINT=9; _qrpack qrpack va qrpack; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash");
    assert_eq!(
        text(&run.stdout).trim(),
        "validate",
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = qrpack(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("possible values"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn man_page_on_stdout_and_one_per_subcommand() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = qrpack(dir.path(), &["man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH qrpack 1"), "{page}");
    for s in subcommands() {
        assert!(
            page.contains(&format!("qrpack\\-{s}(1)")),
            "qrpack.1 lacks {s}"
        );
    }

    let out = qrpack(dir.path(), &["man", "--out", "man/man1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|s| format!("qrpack-{s}.1"))
        .collect();
    expected.push("qrpack.1".into());
    expected.sort();
    let mut got: Vec<String> = std::fs::read_dir(dir.path().join("man/man1"))
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, expected);
    for name in &got {
        let p = std::fs::read_to_string(dir.path().join("man/man1").join(name)).expect("page");
        let title = name.trim_end_matches(".1");
        assert!(p.contains(&format!(".TH {title} 1")), "{name}: {p}");
        assert!(p.contains(".SH SYNOPSIS"), "{name}");
    }
    // The page on stdout is the folder's qrpack.1.
    let main = std::fs::read(dir.path().join("man/man1/qrpack.1")).expect("qrpack.1");
    assert_eq!(main, qrpack(dir.path(), &["man"]).stdout);
}

#[test]
fn man_out_into_a_file_fails_cleanly() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("taken"), "x").expect("write");
    let out = qrpack(dir.path(), &["man", "--out", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("error: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.path().join("taken")).expect("read"), b"x");
}
