//! A progress bar on stderr for long reads (`validate` of a large archive, `test
//! --events` over large event files), drawn only for a person at a terminal.
//!
//! The hook is a [`Read`] wrapper under the command's buffered reader: it adds the bytes
//! each `read` returns and hands the count to the bar every [`STEP`] bytes; the bar
//! redraws at most 10 times a second (indicatif's rate limit). The parsers and their
//! hot loops never see it, and when no bar is wanted the commands do not wrap their
//! input at all.

use std::io::{self, IsTerminal, Read, Seek, SeekFrom};
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this are read too fast for a bar to help.
pub const MIN_BYTES: u64 = 4 << 20;

/// How many bytes are read between two updates of the bar.
pub const STEP: u64 = 256 << 10;

/// Whether a bar may be drawn: stderr is a terminal, `-q` was not given, and this is not
/// a CI job (`CI` set) or a dumb terminal.
pub fn wanted(quiet: bool) -> bool {
    !quiet
        && io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// A bar for reading `path` (its size is the total), or `None` when no bar is wanted
/// or the file is small or not a regular file.
pub fn for_file(path: &Path, what: &str, quiet: bool) -> Option<ProgressBar> {
    if !wanted(quiet) {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() < MIN_BYTES {
        return None;
    }
    Some(bar(
        meta.len(),
        what,
        ProgressDrawTarget::stderr_with_hz(10),
    ))
}

/// A bar of `total` bytes labelled `what`, drawn to `target`.
pub fn bar(total: u64, what: &str, target: ProgressDrawTarget) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template(
        "[{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {wide_msg}",
    ) {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(what.to_string());
    b
}

/// A reader that reports the bytes read through it to a bar.
pub struct Reader<R> {
    inner: R,
    bar: ProgressBar,
    read: u64,
    reported: u64,
    /// The bar's total: the count shown never passes it (a zip's central directory is
    /// read twice).
    cap: u64,
}

impl<R> Reader<R> {
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        let cap = bar.length().unwrap_or(u64::MAX);
        Reader {
            inner,
            bar,
            read: 0,
            reported: 0,
            cap,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.reported >= STEP {
            self.reported = self.read;
            self.bar.set_position(self.read.min(self.cap));
        }
        Ok(n)
    }
}

/// Seeking moves nothing on the bar: it counts bytes read (a zip's central directory is
/// read first, then its entries), which ends close to the file's size.
impl<R: Seek> Seek for Reader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A bar that one or more readers feed, cleared from the terminal when dropped (on
/// every path out of a command).
pub struct Shown(pub ProgressBar);

impl Drop for Shown {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_byte_and_updates_every_step() {
        let data = vec![7u8; (STEP * 3 + 10) as usize];
        let b = ProgressBar::hidden();
        b.set_length(data.len() as u64);
        let mut r = Reader::new(io::Cursor::new(&data), b.clone());
        let mut buf = [0u8; 4096];
        let mut total = 0;
        let mut positions = Vec::new();
        loop {
            let n = r.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            total += n;
            positions.push(b.position());
        }
        assert_eq!(total, data.len());
        assert_eq!(r.bytes_read(), data.len() as u64);
        // The bar moved in whole steps, never ahead of the bytes read.
        assert_eq!(b.position(), STEP * 3);
        let mut distinct = positions.clone();
        distinct.dedup();
        assert_eq!(distinct, vec![0, STEP, STEP * 2, STEP * 3]);
    }

    #[test]
    fn never_shows_more_than_the_total() {
        let data = vec![0u8; (STEP * 2) as usize];
        let b = ProgressBar::hidden();
        b.set_length(STEP);
        let mut r = Reader::new(io::Cursor::new(&data), b.clone());
        std::io::copy(&mut r, &mut std::io::sink()).expect("copy");
        assert_eq!(r.bytes_read(), STEP * 2);
        assert_eq!(b.position(), STEP);
    }

    #[test]
    fn seeking_passes_through() {
        let data: Vec<u8> = (0..=255).collect();
        let mut r = Reader::new(io::Cursor::new(&data), ProgressBar::hidden());
        r.seek(SeekFrom::Start(250)).expect("seek");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("read");
        assert_eq!(rest, vec![250, 251, 252, 253, 254, 255]);
        assert_eq!(r.bytes_read(), 6);
    }
}
