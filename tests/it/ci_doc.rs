//! docs/ci.md: the commands of its GitHub Actions and GitLab CI blocks, run in order
//! against the built binary, in a git repository holding a copy of the default pack,
//! and the files their upload steps, artifacts and release links name checked.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{PACK, copy_tree, root, text};

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/ci.md")).expect("docs/ci.md")
}

fn yaml_blocks() -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc().lines() {
        match &mut cur {
            None if line.trim_start() == "```yaml" => cur = Some(String::new()),
            Some(b) if line.trim_start() == "```" => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// `KEY: value` lines of a top-level mapping (`env:`, `variables:`).
fn top_level_map(block: &str, key: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in block.lines() {
        if indent(l) == 0 && !l.trim().is_empty() {
            inside = l.trim() == format!("{key}:");
            continue;
        }
        let t = l.trim();
        if inside && !t.is_empty() && !t.starts_with('#') {
            let (k, v) = t.split_once(": ").expect("KEY: value");
            out.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

/// A GitHub step with a `run:`.
struct Run {
    job: String,
    name: String,
    script: String,
}

/// GitHub: every `run:` (one line, or a `|` block), with its job and step name.
fn github_runs(block: &str) -> Vec<Run> {
    let lines: Vec<&str> = block.lines().collect();
    let mut out = Vec::new();
    let (mut job, mut name) = (String::new(), String::new());
    let mut in_jobs = false;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        let t = l.trim();
        if indent(l) == 0 && !t.is_empty() {
            in_jobs = t == "jobs:";
            continue;
        }
        if in_jobs && indent(l) == 2 && t.ends_with(':') {
            job = t.trim_end_matches(':').to_string();
            continue;
        }
        let item = t.trim_start_matches("- ");
        if t.starts_with("- ") {
            // A new step: its name, or what it uses.
            name = item.to_string();
        }
        if let Some(n) = item.strip_prefix("name: ") {
            name = n.to_string();
        }
        if let Some(cmd) = item.strip_prefix("run: ") {
            let script = if cmd == "|" {
                let body_indent = indent(lines[i]);
                let mut body = Vec::new();
                while i < lines.len()
                    && (lines[i].trim().is_empty() || indent(lines[i]) >= body_indent)
                {
                    body.push(&lines[i][body_indent.min(lines[i].len())..]);
                    i += 1;
                }
                body.join("\n")
            } else {
                cmd.to_string()
            };
            out.push(Run {
                job: job.clone(),
                name: name.clone(),
                script,
            });
        }
    }
    out
}

/// GitLab: (job, list key, commands) for every `script:`/`before_script:` list.
fn gitlab_scripts(block: &str) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut job = String::new();
    let mut list: Option<usize> = None;
    for l in block.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if indent(l) == 0 {
            job = l.trim().trim_end_matches(':').to_string();
            list = None;
            continue;
        }
        let t = l.trim();
        if let Some(i) = list {
            if indent(l) > i && t.starts_with("- ") {
                if let Some(last) = out.last_mut() {
                    last.2.push(t[2..].to_string());
                }
                continue;
            }
            list = None;
        }
        if t == "script:" || t == "before_script:" {
            list = Some(indent(l));
            out.push((job.clone(), t.trim_end_matches(':').to_string(), Vec::new()));
        }
    }
    out
}

/// A git repository holding a copy of `qid-maps/`, committed and tagged v1.0.0, with
/// the binary under test first on PATH.
struct Repo {
    tmp: tempfile::TempDir,
    path: String,
    env: Vec<(String, String)>,
}

impl Repo {
    fn new(env: Vec<(String, String)>) -> Repo {
        let tmp = tempfile::tempdir().expect("tmp");
        copy_tree(&root().join("qid-maps"), &tmp.path().join("qid-maps"));
        let bin = tmp.path().join(".bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_qrpack"), bin.join("qrpack")).expect("link");
        std::fs::write(tmp.path().join(".gitignore"), ".bin/\n").expect("write");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let r = Repo { tmp, path, env };
        r.ok("git init -q && git add -A && git commit -q -m 'pack 1.0.0' && git tag v1.0.0");
        r
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn sh(&self, script: &str) -> Output {
        Command::new("bash")
            .arg("-c")
            .arg(format!("set -eo pipefail\n{script}"))
            .current_dir(self.dir())
            .env("PATH", &self.path)
            .env("CI", "true")
            .env("GIT_AUTHOR_NAME", "ci")
            .env("GIT_AUTHOR_EMAIL", "ci@example.org")
            .env("GIT_COMMITTER_NAME", "ci")
            .env("GIT_COMMITTER_EMAIL", "ci@example.org")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("bash")
    }

    fn ok(&self, script: &str) {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` failed ({:?}):\n{}{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    /// A new commit of the pack, tagged: `edit` is a sed script on the pack file.
    fn commit_and_tag(&self, edit: &str, tag: &str) {
        self.ok(&format!(
            "sed -i '{edit}' qid-maps/{PACK} && git commit -q -am '{tag}' && git tag {tag}"
        ));
    }

    /// What a fresh CI job starts from: no output of an earlier job.
    fn fresh_job(&self) {
        self.ok("git worktree remove --force previous-release 2>/dev/null || true; rm -rf release release.env");
    }
}

/// The files the pack job's steps produce, as the upload steps expect them.
fn check_pack_outputs(dir: &Path) {
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(junit.contains("<testsuites tests=\""), "{junit}");
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("qrpack.sarif")).expect("sarif"))
            .expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "qrpack");
    assert_eq!(zips(&dir.join("dist")).len(), 1);
}

fn zips(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".zip"))
                .collect()
        })
        .unwrap_or_default()
}

/// The release job's output: one archive of `version`, notes, and sums that check.
fn check_release_outputs(dir: &Path, version: &str) {
    let z = zips(&dir.join("release"));
    assert_eq!(z.len(), 1, "{z:?}");
    assert!(z[0].ends_with(&format!("-{version}.zip")), "{z:?}");
    let notes = std::fs::read_to_string(dir.join("release/RELEASE_NOTES.md")).expect("notes");
    assert!(notes.contains(version), "{notes}");
    let sums = std::fs::read_to_string(dir.join("release/SHA256SUMS")).expect("sums");
    assert!(
        sums.contains(&z[0]) && sums.contains("RELEASE_NOTES.md"),
        "{sums}"
    );
}

/// Version 1.1.0 with a changed description: a release the check accepts.
const BUMP: &str = "s/^version = \"1.0.0\"/version = \"1.1.0\"/; 0,/^description = \"A certificate/s//description = \"Changed: a certificate/";
/// Another changed description, version unchanged: refused (PK120).
const NO_BUMP: &str =
    "0,/^description = \"Changed: a certificate/s//description = \"Changed again: a certificate/";

#[test]
fn github_actions_workflow_runs_locally() {
    let blocks = yaml_blocks();
    let gh = blocks
        .iter()
        .find(|b| b.contains("runs-on:"))
        .expect("a GitHub Actions block");
    let env = top_level_map(gh, "env");
    assert!(env.iter().any(|(k, _)| k == "PACK"), "{env:?}");
    let runs = github_runs(gh);
    let repo = Repo::new(env);
    // Network and a hosted repository: left out here (docs/ci.md says so).
    let local = |r: &&Run| r.name != "Install qrpack" && r.name != "Publish";
    let skipped: Vec<(&str, &str)> = runs
        .iter()
        .filter(|r| !local(r))
        .map(|r| (r.job.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("pack", "Install qrpack"),
            ("release", "Install qrpack"),
            ("release", "Publish")
        ]
    );
    let job = |name: &str| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.job == name)
            .filter(local)
            .collect()
    };
    let names = |steps: &[&Run]| -> Vec<String> { steps.iter().map(|r| r.name.clone()).collect() };
    assert_eq!(names(&job("pack")), ["Build", "Validate", "Test"]);
    assert_eq!(names(&job("release")), ["Release", "Check the sums"]);

    for r in job("pack") {
        repo.ok(&r.script);
    }
    check_pack_outputs(repo.dir());
    // What the upload steps name exists.
    for l in gh.lines() {
        let t = l.trim();
        for key in ["sarif_file: ", "path: "] {
            if let Some(p) = t.strip_prefix(key) {
                assert!(repo.dir().join(p).exists(), "{key}{p} does not exist");
            }
        }
    }

    // The first release (no earlier tag), a second one that raises the version, and a
    // refused one that does not.
    let publish = runs.iter().find(|r| r.name == "Publish").expect("publish");
    for (edit, tag, version) in [(None, "v1.0.0", "1.0.0"), (Some(BUMP), "v1.1.0", "1.1.0")] {
        repo.fresh_job();
        if let Some(e) = edit {
            repo.commit_and_tag(e, tag);
        }
        for r in job("release") {
            repo.ok(&r.script);
        }
        check_release_outputs(repo.dir(), version);
        // What Publish attaches exists.
        repo.ok(&format!(
            "ls {} > /dev/null",
            publish
                .script
                .split_whitespace()
                .filter(|w| w.starts_with("release/"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    repo.fresh_job();
    repo.commit_and_tag(NO_BUMP, "v1.1.1");
    let out = repo.sh(&job("release")[0].script);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("PK120"), "{}", text(&out.stderr));
    assert!(
        !repo.dir().join("release").exists(),
        "a refused release writes nothing"
    );
}

#[test]
fn gitlab_ci_runs_locally() {
    let blocks = yaml_blocks();
    let gl = blocks
        .iter()
        .find(|b| b.contains("before_script:"))
        .expect("a GitLab CI block");
    let env = top_level_map(gl, "variables");
    let scripts = gitlab_scripts(gl);
    let jobs: Vec<(&str, &str)> = scripts
        .iter()
        .map(|(j, k, _)| (j.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("pack", "before_script"),
            ("pack", "script"),
            ("release", "before_script"),
            ("release", "script"),
            ("publish", "script")
        ]
    );
    for (_, key, cmds) in &scripts {
        if key == "before_script" {
            assert!(
                cmds.len() == 1 && cmds[0].starts_with("cargo install"),
                "{cmds:?}"
            );
        }
    }
    // A job's script lines run in one shell, as GitLab runs them.
    let script = |job: &str| -> String {
        scripts
            .iter()
            .find(|(j, k, _)| j == job && k == "script")
            .map(|(_, _, c)| c.join("\n"))
            .expect("script")
    };
    let repo = Repo::new(env);
    repo.ok(&script("pack"));
    check_pack_outputs(repo.dir());
    for (edit, tag, version) in [(None, "v1.0.0", "1.0.0"), (Some(BUMP), "v1.1.0", "1.1.0")] {
        repo.fresh_job();
        if let Some(e) = edit {
            repo.commit_and_tag(e, tag);
        }
        repo.ok(&script("release"));
        check_release_outputs(repo.dir(), version);
        repo.ok(&script("publish"));
        check_gitlab_names(gl, repo.dir());
    }
    repo.fresh_job();
    repo.commit_and_tag(NO_BUMP, "v1.1.1");
    let out = repo.sh(&script("release"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("PK120"), "{}", text(&out.stderr));
}

/// The junit report, the artifacts, the dotenv report, the release description and
/// links of the GitLab block name files that exist.
fn check_gitlab_names(gl: &str, dir: &Path) {
    let release_env = std::fs::read_to_string(dir.join("release.env")).expect("release.env");
    let archive = release_env
        .trim()
        .strip_prefix("ARCHIVE=")
        .expect("ARCHIVE=");
    assert!(dir.join("release").join(archive).is_file(), "{archive}");
    let mut in_paths = false;
    for l in gl.lines() {
        let t = l.trim();
        if t == "paths:" {
            in_paths = true;
            continue;
        }
        if in_paths && let Some(p) = t.strip_prefix("- ") {
            assert!(dir.join(p).exists(), "artifact {p} does not exist");
            continue;
        }
        in_paths = false;
        for key in ["junit: ", "dotenv: ", "description: release/"] {
            if let Some(p) = t.strip_prefix(key) {
                let p = if key.starts_with("description") {
                    format!("release/{p}")
                } else {
                    p.to_string()
                };
                assert!(dir.join(&p).is_file(), "{key}{p} does not exist");
            }
        }
        if let Some(url) = t.strip_prefix("url: ") {
            let file = url
                .split("/raw/")
                .nth(1)
                .and_then(|r| r.split('?').next())
                .expect("a raw artifact url")
                .replace("$ARCHIVE", archive);
            assert!(dir.join(&file).is_file(), "release link {file}");
        }
    }
}

#[test]
fn both_blocks_run_the_same_qrpack_commands() {
    let blocks = yaml_blocks();
    assert_eq!(
        blocks.len(),
        2,
        "docs/ci.md has one GitHub and one GitLab block"
    );
    let qrpack_lines = |lines: Vec<String>| -> Vec<String> {
        lines
            .iter()
            .flat_map(|s| {
                s.lines()
                    .map(str::trim)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .flat_map(|l| {
                // `if …; then A; else B; fi` on one line (GitLab) or several (GitHub).
                l.split(['&', ';'])
                    .map(|p| {
                        p.trim()
                            .trim_start_matches("then ")
                            .trim_start_matches("else ")
                            .trim()
                            .to_string()
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|c| c.starts_with("qrpack "))
            .collect()
    };
    let gh = qrpack_lines(
        github_runs(&blocks[0])
            .into_iter()
            .map(|r| r.script)
            .collect(),
    );
    let gl = qrpack_lines(
        gitlab_scripts(&blocks[1])
            .into_iter()
            .flat_map(|(_, _, c)| c)
            .collect(),
    );
    assert_eq!(gh.len(), 5, "{gh:?}");
    assert_eq!(gh, gl);
    // The table of steps shows the same commands.
    let table: Vec<String> = doc()
        .lines()
        .filter(|l| {
            ["| build |", "| validate |", "| test |", "| release (tags"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter_map(|l| {
            l.split('`')
                .skip(1)
                .step_by(2)
                .find(|c| c.starts_with("qrpack "))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(table, gh[..4]);
}
