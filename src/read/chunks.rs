//! Moving a byte stream from one thread to another in chunks, so that inflating an
//! archive entry and parsing its XML run on two cores. The chunks are the ones the source
//! hands out (`fill_buf`), in order, followed by its error if it fails: the receiving side
//! sees exactly what reading the source directly would have given. A bounded channel and
//! recycled buffers keep memory flat. Each chunk travels in a buffer with
//! [`HEADROOM`] free bytes in front, so that the XML reader can take it over whole as
//! its next window ([`Source::take`]).

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::rows::{HEADROOM, Source};

/// Chunks in flight between the two threads: enough to ride out a few scheduling
/// hiccups on a busy machine (a chunk is up to the source's buffer, 256 KiB for zips).
const IN_FLIGHT: usize = 16;

/// Spent buffers larger than this (a window that held a long token) are not reused.
const REUSE_MAX: usize = 4 << 20;

type Chunk = io::Result<Vec<u8>>;

/// The sending side: see [`pump`].
pub struct Pump {
    chunks: SyncSender<Chunk>,
    spent: Receiver<Vec<u8>>,
}

/// A channel for chunks: the [`Pump`] end for the reading thread, the [`Chunks`] end
/// (a `BufRead`) for the parsing thread.
pub fn channel_pair() -> (Pump, Chunks) {
    let (chunks, from) = sync_channel(IN_FLIGHT);
    let (spent_to, spent) = channel();
    (
        Pump { chunks, spent },
        Chunks {
            from,
            spent: spent_to,
            current: Vec::new(),
            at: 0,
            failed: None,
        },
    )
}

impl Pump {
    /// Read `input` to its end (or its first error) into the channel. Returns early when
    /// the receiving side has gone (it stopped reading).
    pub fn pump<R: BufRead>(self, mut input: R) {
        loop {
            let chunk = match input.fill_buf() {
                Ok([]) => return,
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = self.chunks.send(Err(e));
                    return;
                }
            };
            // A spent buffer if there is one (too large ones are dropped), else a new one.
            let mut buf = loop {
                match self.spent.try_recv() {
                    Ok(b) if b.capacity() > REUSE_MAX => continue,
                    Ok(b) => break b,
                    Err(_) => break Vec::with_capacity(HEADROOM + chunk.len()),
                }
            };
            if buf.len() < HEADROOM {
                buf.resize(HEADROOM, 0);
            } else {
                buf.truncate(HEADROOM);
            }
            buf.extend_from_slice(chunk);
            let n = chunk.len();
            input.consume(n);
            if self.chunks.send(Ok(buf)).is_err() {
                return;
            }
        }
    }
}

/// The receiving side: the source's bytes, chunk by chunk.
pub struct Chunks {
    from: Receiver<Chunk>,
    spent: Sender<Vec<u8>>,
    /// The chunk being read, after [`HEADROOM`] bytes.
    current: Vec<u8>,
    at: usize,
    /// The source's error, repeated to later reads.
    failed: Option<(io::ErrorKind, String)>,
}

impl BufRead for Chunks {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.current.len() {
            if let Some((kind, msg)) = &self.failed {
                return Err(io::Error::new(*kind, msg.clone()));
            }
            match self.from.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.current, next);
                    self.at = HEADROOM;
                    self.give_back(old);
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                // The source ended.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.current[self.at..])
    }

    fn consume(&mut self, amt: usize) {
        self.at = (self.at + amt).min(self.current.len());
    }
}

impl Source for Chunks {
    fn fill(&mut self) -> io::Result<&[u8]> {
        self.fill_buf()
    }

    fn used(&mut self, n: usize) {
        BufRead::consume(self, n);
    }

    fn take(&mut self) -> Option<Vec<u8>> {
        if self.at < self.current.len() || self.failed.is_some() {
            return None;
        }
        match self.from.recv() {
            Ok(Ok(next)) => {
                let old = std::mem::take(&mut self.current);
                self.at = 0;
                self.give_back(old);
                Some(next)
            }
            Ok(Err(e)) => {
                // Told by the next `fill`.
                self.failed = Some((e.kind(), e.to_string()));
                None
            }
            Err(_) => None,
        }
    }

    fn give_back(&mut self, spent: Vec<u8>) {
        // Every buffer comes back once; empty ones are not worth the trip.
        if spent.capacity() > 0 {
            let _ = self.spent.send(spent);
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        BufRead::consume(self, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data` in chunks of `step`, then fails.
    struct Failing {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }
    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "broken"));
            }
            let n = self.step.min(out.len()).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// The rows, their positions and the stop, as text, read through `Chunks` (whole
    /// chunks taken over as windows) and straight from the bytes.
    #[test]
    fn rows_read_through_the_channel_are_the_same() {
        use crate::read::rows::{Item, Limits, read_rows, read_rows_from};
        let mut xml = String::from(
            "<?xml version=\"1.0\"?>\n<content>\n\t<qradarversion>1.2.3</qradarversion>\n",
        );
        for i in 0..300 {
            xml.push_str(&format!(
                "\t<qidmap>\n\t\t<id>{i}</id>\n\t\t<qname>n&amp;{i} – é</qname>\n\t\t<x/>\n\t</qidmap>\n"
            ));
        }
        xml.push_str("</content>\n");
        let bad = xml.replace("<id>250</id>", "<id>250</idd>");
        let show = |item: Item<'_>, out: &mut String| match item {
            Item::Version(v, p) => out.push_str(&format!("V {v} {}:{}\n", p.line, p.column)),
            Item::Row(r) => {
                out.push_str(&format!("R {} {}:{}\n", r.table, r.pos.line, r.pos.column));
                for c in &r.columns {
                    out.push_str(&format!(
                        " {}={} {}:{}\n",
                        c.name, c.value, c.pos.line, c.pos.column
                    ));
                }
            }
        };
        for text in [&xml, &bad] {
            let mut want = String::new();
            let stop = read_rows(text.as_bytes(), Limits::default(), |i| show(i, &mut want));
            want.push_str(&format!("{stop:?}"));
            for cap in [7, 100, 4096] {
                let (pump, chunks) = channel_pair();
                let source = io::BufReader::with_capacity(cap, text.as_bytes());
                let got = std::thread::scope(|s| {
                    s.spawn(move || pump.pump(source));
                    let mut got = String::new();
                    let stop = read_rows_from(chunks, Limits::default(), |i| show(i, &mut got));
                    got.push_str(&format!("{stop:?}"));
                    got
                });
                assert_eq!(got, want, "chunks of {cap}");
            }
        }
    }

    #[test]
    fn same_chunks_then_the_error() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (pump, mut chunks) = channel_pair();
        let source = io::BufReader::with_capacity(
            1000,
            Failing {
                data: data.clone(),
                at: 0,
                step: 777,
            },
        );
        let got = std::thread::scope(|s| {
            s.spawn(move || pump.pump(source));
            let mut got = Vec::new();
            let mut sizes = Vec::new();
            let err = loop {
                match chunks.fill_buf() {
                    Ok([]) => break None,
                    Ok(c) => {
                        sizes.push(c.len());
                        got.extend_from_slice(c);
                        let n = c.len();
                        chunks.consume(n);
                    }
                    Err(e) => break Some(e.to_string()),
                }
            };
            assert_eq!(err.as_deref(), Some("broken"));
            // BufReader hands out what one read of its inner reader gave.
            assert!(sizes.iter().all(|&n| n <= 777), "{sizes:?}");
            got
        });
        assert_eq!(got, data);
    }
}
