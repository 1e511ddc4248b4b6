//! `qrpack test PACK`: the pack's test cases (or `--events` files) through the
//! simulator, offline; human, JSON and JUnit reports.

use std::io::{BufReader, IsTerminal, Read};
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Serialize;

use super::{Io, Outcome};
use crate::build::{Input, build};
use crate::catalogue::Catalogue;
use crate::cli::{Format, TestArgs};
use crate::diag::{Sources, render};
use crate::rule::Skeletons;
use crate::simulate::cases::{CaseRun, RecordRun, collect, run as run_cases};
use crate::simulate::engine::{Outcome as Sim, Simulator, parse_time_ms};
use crate::simulate::records::Records;

#[derive(Serialize)]
struct JsonReport<'a> {
    pack: String,
    /// Parts of the pack the simulator cannot run.
    not_simulated: &'a [String],
    cases: &'a [CaseRun],
    summary: Summary,
}

#[derive(Serialize, Default, Clone, Copy)]
struct Summary {
    cases: usize,
    cases_failed: usize,
    events: usize,
    checks: usize,
    checks_failed: usize,
}

pub fn run(args: &TestArgs, io: &mut Io) -> Outcome {
    let fail = |io: &mut Io, m: String| {
        let _ = writeln!(io.err, "error: {m}");
        Outcome::Failure
    };
    let super::build::PackFiles {
        pack_text,
        lock_path,
        lock_text,
        catalogue,
    } = match super::build::PackFiles::read(&args.pack, args.categories.as_deref()) {
        Ok(f) => f,
        Err(m) => return fail(io, m),
    };
    let catalogue: &Catalogue = &catalogue;
    let now = match &args.now {
        None => None,
        Some(t) => match parse_time_ms(t) {
            Some(ms) => Some(ms),
            None => {
                return fail(
                    io,
                    format!("--now {t} is not an RFC 3339 time (2026-11-28T12:00:00Z)"),
                );
            }
        },
    };
    let skeletons = Skeletons::builtin();
    let mut sources = Sources::new();
    sources.add(args.pack.display().to_string(), pack_text.clone());
    let input = Input {
        pack_path: &args.pack,
        pack_text: &pack_text,
        lock: lock_text.as_deref().map(|t| (lock_path.as_path(), t)),
        catalogue,
        skeletons: &skeletons,
        source_date_epoch: None,
        locked: false,
    };
    let built = match build(&input) {
        Ok(b) => b,
        Err(f) => {
            for (n, t) in f.extra_sources {
                sources.add(n, t);
            }
            let _ = write!(io.err, "{}", render(&f.diagnostics, &sources, io.color));
            let _ = writeln!(
                io.err,
                "error: the pack does not build, so it cannot be tested"
            );
            return Outcome::Findings;
        }
    };
    // The pack's own warnings, as `build` prints them: a test run must not hide them.
    if !io.quiet && !built.findings.is_empty() {
        for (n, t) in &built.extra_sources {
            sources.add(n.clone(), t.clone());
        }
        let _ = write!(io.err, "{}", render(&built.findings, &sources, io.color));
    }
    let sim = Simulator::new(&built, catalogue, now);
    if !sim.fatal.is_empty() {
        for p in &sim.fatal {
            let _ = writeln!(io.err, "error: {p}");
        }
        let _ = writeln!(
            io.err,
            "help: declare where each placeholder of the [dsm] templates is read from, in [dsm.fields] (docs/testing.md)"
        );
        return Outcome::Failure;
    }
    if !io.quiet {
        for p in &sim.problems {
            let _ = writeln!(io.err, "warning: {p}");
        }
    }

    if !args.events.is_empty() {
        return ad_hoc(args, &sim, io);
    }

    let cases = match collect(&args.pack, &pack_text) {
        Ok(c) => c,
        Err(errs) => {
            for (d, src) in errs {
                if let Some((n, t)) = src {
                    sources.add(n, t);
                }
                let _ = write!(io.err, "{}", render(&[d], &sources, io.color));
            }
            return Outcome::Findings;
        }
    };
    if cases.is_empty() {
        let _ = writeln!(
            io.err,
            "error: {} declares no [[test]] (and no test_files): nothing to test",
            args.pack.display()
        );
        let _ = writeln!(
            io.err,
            "help: add [[test]] cases (docs/testing.md), or pass --events FILE to see what events become"
        );
        return Outcome::Failure;
    }
    let runs = run_cases(&sim, &cases);
    let mut s = Summary {
        cases: runs.len(),
        ..Summary::default()
    };
    for r in &runs {
        if !r.passed() {
            s.cases_failed += 1;
        }
        s.events += r.records.len();
        for rec in &r.records {
            s.checks += rec.checks;
            s.checks_failed += rec.failures.len();
        }
        if r.error.is_some() {
            s.checks += 1;
            s.checks_failed += 1;
        }
    }
    match args.format {
        Format::Json => {
            let rep = JsonReport {
                pack: args.pack.display().to_string(),
                not_simulated: &sim.problems,
                cases: &runs,
                summary: s,
            };
            let _ = serde_json::to_writer_pretty(&mut *io.out, &rep);
            let _ = writeln!(io.out);
        }
        Format::Human => {
            for r in &runs {
                human_case(io, r, args.verbose);
            }
            if !io.quiet {
                let _ = writeln!(
                    io.out,
                    "\n{}: {} test cases over {} events, {} checks",
                    args.pack.display(),
                    s.cases,
                    s.events,
                    s.checks
                );
            }
            let _ = writeln!(
                io.out,
                "{} passed, {} failed",
                s.cases - s.cases_failed,
                s.cases_failed
            );
        }
    }
    if let Some(path) = &args.junit
        && let Err(e) = crate::archive::write_atomic(path, &junit(&args.pack, &runs))
    {
        return fail(io, e.to_string());
    }
    if s.cases_failed > 0 {
        Outcome::Findings
    } else {
        Outcome::Success
    }
}

fn human_case(io: &mut Io, r: &CaseRun, verbose: bool) {
    let status = if r.passed() { "PASS" } else { "FAIL" };
    if r.passed() && !verbose {
        if !io.quiet {
            let _ = writeln!(
                io.out,
                "{status}  {}  ({} event{})",
                r.name,
                r.records.len(),
                if r.records.len() == 1 { "" } else { "s" }
            );
        }
        return;
    }
    let _ = writeln!(io.out, "{status}  {}  [{}]", r.name, r.declared_at);
    if let Some(e) = &r.error {
        let _ = writeln!(io.out, "      error: {e}");
    }
    for rec in &r.records {
        if verbose || !rec.failures.is_empty() {
            describe(io, rec);
        }
    }
}

fn describe(io: &mut Io, rec: &RecordRun) {
    let o = &rec.outcome;
    let _ = writeln!(io.out, "    {}", rec.source);
    let _ = writeln!(io.out, "{}", outcome_lines(o));
    for f in &rec.failures {
        let _ = writeln!(io.out, "      ✗ {f}");
    }
}

fn outcome_lines(o: &Sim) -> String {
    let mut s = String::new();
    let dev = match (&o.device_event_id, &o.device_event_category) {
        (Some(i), Some(c)) => format!("{i:?} / {c:?}"),
        _ => "not derived".into(),
    };
    match (&o.qid, &o.event) {
        (Some(q), Some(e)) => {
            s.push_str(&format!(
                "      event     {dev} → {q} {e} ({})",
                o.category.as_deref().unwrap_or("")
            ));
            if let Some(id) = &o.fallback {
                s.push_str(&format!(
                    "\n                by [[dsm.fallback]]: no mapping matched, so {id:?} was looked up"
                ));
            }
        }
        _ => s.push_str(&format!(
            "      event     {dev} → unknown: {}",
            o.unmapped.as_deref().unwrap_or("")
        )),
    }
    for (k, v) in &o.fields {
        s.push_str(&format!(
            "\n      field     {k} = {}",
            v.as_deref()
                .map(|v| format!("{v:?}"))
                .unwrap_or_else(|| "absent".into())
        ));
    }
    for (k, v) in &o.properties {
        s.push_str(&format!(
            "\n      property  {k} = {}",
            v.as_deref()
                .map(|v| format!("{v:?}"))
                .unwrap_or_else(|| "absent".into())
        ));
    }
    for v in o.rules.iter().chain(o.searches.iter()) {
        let what = if o.rules.contains(v) {
            "rule    "
        } else {
            "search  "
        };
        // Without a verdict, the reason says why ("not simulated: …").
        let verdict = match v.matched {
            Some(true) => format!("matches ({})", v.reason),
            Some(false) => format!("no ({})", v.reason),
            None => v.reason.clone(),
        };
        s.push_str(&format!("\n      {what}  {:?}: {verdict}", v.name));
    }
    s
}

/// One ad-hoc record: the pack event it maps to, and its report unless quiet.
type Step = (Option<usize>, Option<(String, Sim)>);

/// `--events FILE...`: what each event becomes.
fn ad_hoc(args: &TestArgs, sim: &Simulator, io: &mut Io) -> Outcome {
    #[derive(Serialize)]
    struct One {
        source: String,
        outcome: Sim,
    }
    let mut all = Vec::new();
    let mut unmapped = 0usize;
    let mut events = 0usize;
    let mut counts = vec![0usize; sim.events.len()];
    for f in &args.events {
        let file = match std::fs::File::open(f) {
            Ok(x) => x,
            Err(e) => {
                let _ = writeln!(io.err, "error: cannot read {}: {e}", f.display());
                return Outcome::Failure;
            }
        };
        // A progress bar for large files, unless every event is printed to the same
        // terminal as it goes (src/progress.rs).
        let prints_as_it_goes = args.format == Format::Human && std::io::stdout().is_terminal();
        let bar = if prints_as_it_goes {
            None
        } else {
            crate::progress::for_file(f, &format!("testing {}", f.display()), io.quiet)
        };
        let _shown = bar.clone().map(crate::progress::Shown);
        let input: Box<dyn Read> = match bar {
            Some(b) => Box::new(crate::progress::Reader::new(file, b)),
            None => Box::new(file),
        };
        let mut records = match Records::new(BufReader::with_capacity(1 << 20, input)) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(io.err, "error: {}:{}: {}", f.display(), e.line, e.message);
                return Outcome::Failure;
            }
        };
        let quick = args.format == Format::Human && io.quiet;
        loop {
            // One record: evaluated in place, reported unless this is a quiet summary.
            let step = records.next_with(&mut |raw: &str, line: u64| -> Result<Step, String> {
                if quick {
                    return sim
                        .run_quick(raw)
                        .map(|e| (e, None))
                        .map_err(|e| format!("{line}: {e}"));
                }
                let o = sim.run(raw).map_err(|e| format!("{line}: {e}"))?;
                let idx = o
                    .qid
                    .and_then(|q| sim.events.iter().position(|e| e.qid == q));
                Ok((idx, Some((format!("{}:{line}", f.display()), o))))
            });
            let result = match step {
                Ok(None) => break,
                Ok(Some(r)) => r,
                Err(e) => {
                    let _ = writeln!(io.err, "error: {}:{}: {}", f.display(), e.line, e.message);
                    return Outcome::Failure;
                }
            };
            let (idx, report) = match result {
                Ok(x) => x,
                Err(e) => {
                    let _ = writeln!(io.err, "error: {}:{e}", f.display());
                    return Outcome::Failure;
                }
            };
            events += 1;
            match idx {
                Some(i) => counts[i] += 1,
                None => unmapped += 1,
            }
            if let Some((source, outcome)) = report {
                match args.format {
                    Format::Human => {
                        let _ = writeln!(io.out, "{source}\n{}", outcome_lines(&outcome));
                    }
                    Format::Json => all.push(One { source, outcome }),
                }
            }
        }
    }
    match args.format {
        Format::Json => {
            let _ = serde_json::to_writer_pretty(&mut *io.out, &all);
            let _ = writeln!(io.out);
        }
        Format::Human => {
            let _ = writeln!(io.out, "\n{events} events:");
            for (e, n) in sim.events.iter().zip(&counts).filter(|(_, n)| **n > 0) {
                let _ = writeln!(io.out, "{n:>10}  {}", e.name);
            }
            let _ = writeln!(io.out, "{unmapped:>10}  (matched no mapping of the pack)");
        }
    }
    Outcome::Success
}

/// JUnit XML: one testsuite, one testcase per test case, a failure element with the diff.
fn junit(pack: &Path, runs: &[CaseRun]) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let failures = runs.iter().filter(|r| !r.passed()).count();
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let (tests, fails) = (runs.len().to_string(), failures.to_string());
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("tests", tests.as_str()));
    suites.push_attribute(("failures", fails.as_str()));
    let _ = w.write_event(Event::Start(suites));
    let name = format!("qrpack test {}", pack.display());
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", name.as_str()));
    suite.push_attribute(("tests", tests.as_str()));
    suite.push_attribute(("failures", fails.as_str()));
    suite.push_attribute(("errors", "0"));
    let _ = w.write_event(Event::Start(suite));
    for r in runs {
        let mut tc = BytesStart::new("testcase");
        tc.push_attribute(("name", r.name.as_str()));
        tc.push_attribute(("classname", name.as_str()));
        // `path:line:col` → the path.
        let file = r
            .declared_at
            .rsplitn(3, ':')
            .last()
            .unwrap_or(&r.declared_at);
        tc.push_attribute(("file", file));
        if r.passed() {
            let _ = w.write_event(Event::Empty(tc));
            continue;
        }
        let _ = w.write_event(Event::Start(tc));
        let mut details = String::new();
        if let Some(e) = &r.error {
            details.push_str(e);
            details.push('\n');
        }
        for rec in r.records.iter().filter(|x| !x.failures.is_empty()) {
            details.push_str(&format!("{}\n", rec.source));
            for f in &rec.failures {
                details.push_str(&format!("  {f}\n"));
            }
        }
        let first = details
            .lines()
            .find(|l| l.starts_with("  "))
            .unwrap_or(details.lines().next().unwrap_or("failed"))
            .trim()
            .to_string();
        let mut fe = BytesStart::new("failure");
        fe.push_attribute(("message", first.as_str()));
        let _ = w.write_event(Event::Start(fe));
        let _ = w.write_event(Event::Text(BytesText::new(&details)));
        let _ = w.write_event(Event::End(BytesEnd::new("failure")));
        let _ = w.write_event(Event::End(BytesEnd::new("testcase")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("testsuite")));
    let _ = w.write_event(Event::End(BytesEnd::new("testsuites")));
    let mut out = w.into_inner();
    out.push(b'\n');
    out
}
