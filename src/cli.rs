//! The command line: argument definitions (clap derive; doc comments are the help text).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Build, validate and test IBM QRadar content extensions from declarative pack files.
#[derive(Debug, Parser)]
#[command(name = "qrpack", version, about, long_about = None)]
pub struct Cli {
    /// When to use colours in messages (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Treat warnings as errors.
    Warnings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a pack file into an importable extension archive.
    Build(BuildArgs),
    /// Check extension archives (zip, tar.gz) or content XML files, ours or QRadar's.
    Validate(ValidateArgs),
    /// Show what an extension archive holds: events, properties, rules, searches.
    Inspect(InspectArgs),
    /// Run a pack's test cases (or event files) through a simulation of QRadar, offline.
    Test(TestArgs),
    /// Compare two extensions (archives or packs): what was added, removed or changed.
    Diff(DiffArgs),
    /// Build a release: check the pack against the previous release, then write the
    /// archive, SHA256SUMS and RELEASE_NOTES.md.
    Release(ReleaseArgs),
    // Tooling: editors, scaffolding, shells, manuals (docs/editor.md, docs/ci.md).
    /// Print the JSON Schema of the pack file (or of a tests file), for editors.
    Schema(SchemaArgs),
    /// Create a new pack in a new folder, from a template.
    New(NewArgs),
    /// Create a new pack in the current folder, from a template.
    Init(InitArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per subcommand.
    Man(ManArgs),
}

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    /// Release notes.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old side: an archive (zip, tar.gz), a content XML, or a pack file (.toml).
    pub old: PathBuf,
    /// The new side, likewise.
    pub new: PathBuf,
    /// Output format: human, json (version 1, docs/diff.md) or markdown (release notes).
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Low-level categories from your own QRadar, for category names.
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// The pack file (TOML).
    pub pack: PathBuf,
    /// The previous release's archive: the release is refused if it would break what
    /// that release installed (docs/releases.md).
    #[arg(long, value_name = "ARCHIVE", required_unless_present = "initial")]
    pub previous: Option<PathBuf>,
    /// The pack's first release: nothing to check against.
    #[arg(long, conflicts_with = "previous")]
    pub initial: bool,
    /// Folder to write the archive, saved searches, RELEASE_NOTES.md and SHA256SUMS into.
    #[arg(short, long, default_value = "dist")]
    pub out_dir: PathBuf,
    /// Fail instead of changing qrpack.lock (for CI: every QID must already be locked).
    #[arg(long)]
    pub locked: bool,
    /// Low-level categories from your own QRadar (as for `build`).
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
    /// A folder of rule test skeletons (<Class>.xml) replacing the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rule_tests: Option<PathBuf>,
    /// Output format of the report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The pack file (TOML).
    pub pack: PathBuf,
    /// Run these event files instead of the pack's test cases (NDJSON, a JSON array,
    /// {"records": [...]} or {"value": [...]}); reports what each event becomes.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub events: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a JUnit XML report of the test cases (for CI; not with --events, which
    /// runs no test case).
    #[arg(long, value_name = "FILE", conflicts_with = "events")]
    pub junit: Option<PathBuf>,
    /// The time NOW() stands for in AQL (RFC 3339); default: each event's own time.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Show every event of every test case, not only failures (--events always shows
    /// every event).
    #[arg(short, long, conflicts_with = "events")]
    pub verbose: bool,
    /// Low-level categories from your own QRadar.
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Archives or content XML files; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format: human or json.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Low-level categories from your own QRadar, for category names.
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Archives or content XML files; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format: human (rustc style), json (frozen, version 1) or sarif (2.1.0).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Promote findings of this level to errors (`--deny warnings`).
    #[arg(long, value_enum)]
    pub deny: Vec<Deny>,
    /// Low-level categories from your own QRadar (JSON of
    /// GET /api/data_classification/low_level_categories, or CSV); unknown categories become errors.
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The pack file (TOML).
    pub pack: PathBuf,
    /// Folder to write the archive, saved searches and SHA256SUMS into.
    #[arg(short, long, default_value = "dist")]
    pub out_dir: PathBuf,
    /// Fail instead of changing qrpack.lock (for CI: every QID must already be locked).
    #[arg(long)]
    pub locked: bool,
    /// Low-level categories from your own QRadar (the JSON of
    /// GET /api/data_classification/low_level_categories, or a CSV in the catalogue's columns).
    #[arg(long, value_name = "FILE")]
    pub categories: Option<PathBuf>,
    /// A folder of rule test skeletons (<Class>.xml) replacing the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rule_tests: Option<PathBuf>,
    /// Output format of the build report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

// ---- Tooling commands -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFile {
    /// The pack file (`*.toml`).
    Pack,
    /// A file of test cases (`test_files`, `*.tests.toml`).
    Tests,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which file's schema (JSON Schema draft-07).
    #[arg(value_enum, default_value_t = SchemaFile::Pack)]
    pub file: SchemaFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PackKind {
    /// New QIDs and mappings on a built-in DSM, a property, a rule, a search, tests.
    BuiltinDsm,
    /// No new QIDs: a property, a rule and a search over a built-in DSM's events, tests.
    DetectionOnly,
}

#[derive(Debug, clap::Args)]
pub struct ScaffoldArgs {
    /// The template.
    #[arg(long, value_enum, default_value_t = PackKind::BuiltinDsm)]
    pub kind: PackKind,
    /// The extension's name; default: the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The extension id (manifest `_id`); default: `local:<name>`. Never change it after
    /// a release.
    #[arg(long)]
    pub hub_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The folder to create (it may exist, but none of the files written may).
    pub path: PathBuf,
    #[command(flatten)]
    pub scaffold: ScaffoldArgs,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub scaffold: ScaffoldArgs,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write qrpack.1 and one qrpack-<command>.1 per subcommand into this folder
    /// instead of printing qrpack.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
