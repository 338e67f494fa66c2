//! The bounded on-disk spool: records Kinesis could not take yet, kept in order until it can.
//!
//! Layout: append-only segment files `<dir>/<id:020>.seg` and a `<dir>/cursor` file. A segment is a
//! sequence of frames `[len: u32 LE][crc32: u32 LE][key_len: u8][key][data]`, where `len` counts the bytes
//! after the CRC and the CRC covers them. Appends are fsync'd (and the directory when a segment is
//! created) before [`Spool::append`] returns. The cursor (`<segment id> <byte offset>`, replaced
//! atomically) marks the first record not yet delivered; segments before it are deleted.
//!
//! Records are read back in append order ([`Spool::peek`]). Delivery may acknowledge records out of
//! order ([`Spool::ack`]: different symbols succeed independently); the cursor advances over the
//! acknowledged prefix, and acknowledged records beyond it are skipped by later peeks in this process.
//! After a crash they may be sent again: delivery is at least once.
//!
//! Bound: when an append would make the files exceed `max_bytes`, whole segments are dropped oldest first
//! (each segment is at most `max_bytes / 8`, 8 MiB at most), their undelivered records counted and logged as dropped.
//! On open, a torn or corrupt frame ends its segment (the rest of it is counted as dropped).

use std::collections::{BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A record waiting for Kinesis: partition key and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The partition key (the symbol), at most 255 bytes.
    pub key: String,
    /// The payload (the quote's JSON).
    pub data: Vec<u8>,
}

impl Record {
    /// Bytes this record takes on disk.
    pub fn frame_len(&self) -> u64 {
        (8 + 1 + self.key.len() + self.data.len()) as u64
    }
}

/// A spool I/O failure.
#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    /// The file or directory.
    pub path: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
    /// Sequence number of the segment's first record in this process.
    first_seq: u64,
    /// Records in the segment.
    records: u64,
}

/// The spool. Not shared: the sink owns it.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    /// Frame sizes of every record from `head_seq` on, in order.
    frames: VecDeque<u32>,
    /// Sequence number of the first undelivered record.
    head_seq: u64,
    /// Byte offset of `head_seq`'s frame in the first segment.
    head_offset: u64,
    /// Delivered records beyond `head_seq`.
    acked: BTreeSet<u64>,
    writer: Option<File>,
    /// Records dropped when opening (corrupt frames), reported once by [`Spool::take_open_dropped`].
    open_dropped: u64,
}

/// What an append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Records written.
    pub written: u64,
    /// Older records dropped to make room (or new ones that can never fit).
    pub dropped: u64,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, bounded by `max_bytes` on disk.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut ids: Vec<u64> = fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        ids.sort_unstable();
        let cursor_path = dir.join("cursor");
        let (cursor_id, cursor_offset) = match fs::read_to_string(&cursor_path) {
            Ok(text) => {
                let mut it = text.split_whitespace().map(str::parse::<u64>);
                match (it.next(), it.next()) {
                    (Some(Ok(id)), Some(Ok(off))) => (id, off),
                    _ => {
                        tracing::error!(path = %cursor_path.display(), "spool cursor unreadable; replaying from the oldest segment");
                        (0, 0)
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, 0),
            Err(e) => return Err(io_err(&cursor_path)(e)),
        };
        let mut spool = Self {
            segment_bytes: (max_bytes / 8).clamp(4096, 8 << 20),
            max_bytes,
            dir,
            segments: VecDeque::new(),
            frames: VecDeque::new(),
            head_seq: 0,
            head_offset: 0,
            acked: BTreeSet::new(),
            writer: None,
            open_dropped: 0,
        };
        let mut seq = 0;
        for id in ids {
            let path = spool.segment_path(id);
            if id < cursor_id {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let start = if id == cursor_id { cursor_offset } else { 0 };
            let (frames, good_end, corrupt) = scan(&bytes, start);
            if corrupt > 0 || good_end < bytes.len() as u64 {
                tracing::error!(path = %path.display(), kept_bytes = good_end, "spool segment has a torn or corrupt frame; truncated there");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(good_end).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                spool.open_dropped += corrupt;
            }
            if spool.segments.is_empty() {
                spool.head_offset = start.min(good_end);
            }
            let records = frames.len() as u64;
            spool.segments.push_back(Segment {
                id,
                bytes: good_end,
                first_seq: seq,
                records,
            });
            spool.frames.extend(frames);
            seq += records;
        }
        spool.release_consumed()?;
        Ok(spool)
    }

    fn segment_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.seg"))
    }

    /// Records not yet delivered (acknowledged ones beyond the cursor excluded).
    pub fn len(&self) -> u64 {
        self.frames.len() as u64 - self.acked.len() as u64
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the segment files.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Records dropped while opening (corrupt frames); zero after the first call.
    pub fn take_open_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.open_dropped)
    }

    /// Appends `records` in order and fsyncs them, dropping the oldest segments when the bound would be
    /// passed.
    pub fn append(&mut self, records: &[Record]) -> Result<Appended, SpoolError> {
        let mut out = Appended::default();
        for r in records {
            let frame = encode(r);
            let len = frame.len() as u64;
            if len > self.max_bytes || r.key.len() > 255 {
                tracing::error!(
                    key = r.key,
                    bytes = len,
                    "record larger than the spool; dropped"
                );
                out.dropped += 1;
                continue;
            }
            while self.disk_bytes() + len > self.max_bytes && !self.segments.is_empty() {
                out.dropped += self.drop_oldest()?;
            }
            let rotate = match self.segments.back() {
                None => true,
                Some(s) => self.writer.is_none() || s.bytes + len > self.segment_bytes,
            };
            if rotate {
                self.new_segment()?;
            }
            let path = self.segment_path(self.segments.back().map_or(0, |s| s.id));
            let w = self
                .writer
                .as_mut()
                .ok_or_else(|| io_err(&path)(std::io::Error::other("no open segment")))?;
            w.write_all(&frame).map_err(io_err(&path))?;
            if let Some(s) = self.segments.back_mut() {
                s.bytes += len;
                s.records += 1;
            }
            self.frames
                .push_back(u32::try_from(len).unwrap_or(u32::MAX));
            out.written += 1;
        }
        if let (Some(w), Some(s)) = (&self.writer, self.segments.back()) {
            w.sync_data().map_err(io_err(&self.segment_path(s.id)))?;
        }
        Ok(out)
    }

    fn new_segment(&mut self) -> Result<(), SpoolError> {
        let id = self.segments.back().map_or(0, |s| s.id + 1);
        let path = self.segment_path(id);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_dir(&self.dir)?;
        let first_seq = self.head_seq + self.frames.len() as u64;
        self.segments.push_back(Segment {
            id,
            bytes: 0,
            first_seq,
            records: 0,
        });
        self.writer = Some(file);
        Ok(())
    }

    /// Drops the oldest segment; returns how many undelivered records it held.
    fn drop_oldest(&mut self) -> Result<u64, SpoolError> {
        let Some(seg) = self.segments.pop_front() else {
            return Ok(0);
        };
        let end = seg.first_seq + seg.records;
        let mut dropped = 0;
        while self.head_seq < end {
            self.frames.pop_front();
            if !self.acked.remove(&self.head_seq) {
                dropped += 1;
            }
            self.head_seq += 1;
        }
        self.head_offset = 0;
        if self.segments.is_empty() {
            self.writer = None;
        }
        let path = self.segment_path(seg.id);
        fs::remove_file(&path).map_err(io_err(&path))?;
        self.write_cursor()?;
        if dropped > 0 {
            tracing::error!(
                dropped,
                segment = seg.id,
                "spool full: oldest records dropped"
            );
        }
        Ok(dropped)
    }

    /// Up to `max` undelivered records in order, with their sequence numbers for [`Spool::ack`].
    pub fn peek(&self, max: usize) -> Result<Vec<(u64, Record)>, SpoolError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut out = Vec::new();
        let mut seq = self.head_seq;
        let mut frame_i = 0usize;
        for (si, seg) in self.segments.iter().enumerate() {
            if out.len() >= max {
                break;
            }
            let path = self.segment_path(seg.id);
            let mut file = File::open(&path).map_err(io_err(&path))?;
            let off = if si == 0 { self.head_offset } else { 0 };
            file.seek(SeekFrom::Start(off)).map_err(io_err(&path))?;
            let mut reader = std::io::BufReader::new(file);
            let mut frame = Vec::new();
            while seq < seg.first_seq + seg.records && out.len() < max {
                let len = self.frames.get(frame_i).copied().unwrap_or(0) as usize;
                frame.resize(len, 0);
                reader.read_exact(&mut frame).map_err(io_err(&path))?;
                if !self.acked.contains(&seq) {
                    let r = decode(&frame).ok_or_else(|| {
                        io_err(&path)(std::io::Error::other("frame changed on disk"))
                    })?;
                    out.push((seq, r));
                }
                seq += 1;
                frame_i += 1;
            }
        }
        Ok(out)
    }

    /// Marks records delivered; advances and persists the cursor over the delivered prefix and deletes
    /// segments left behind.
    pub fn ack(&mut self, seqs: impl IntoIterator<Item = u64>) -> Result<(), SpoolError> {
        let end = self.head_seq + self.frames.len() as u64;
        self.acked.extend(
            seqs.into_iter()
                .filter(|s| (self.head_seq..end).contains(s)),
        );
        let before = self.head_seq;
        while self.acked.remove(&self.head_seq) {
            let len = self.frames.pop_front().unwrap_or(0);
            self.head_offset += u64::from(len);
            self.head_seq += 1;
            // Crossed into the next segment?
            while let Some(first) = self.segments.front()
                && self.head_seq >= first.first_seq + first.records
                && self.segments.len() > 1
            {
                let path = self.segment_path(first.id);
                self.segments.pop_front();
                fs::remove_file(&path).map_err(io_err(&path))?;
                self.head_offset = 0;
            }
        }
        if self.head_seq != before {
            self.release_consumed()?;
            self.write_cursor()?;
        }
        Ok(())
    }

    /// When everything is delivered, removes the files and starts afresh.
    fn release_consumed(&mut self) -> Result<(), SpoolError> {
        if !self.frames.is_empty() {
            return Ok(());
        }
        self.writer = None;
        for seg in self.segments.drain(..) {
            let path = self.dir.join(format!("{:020}.seg", seg.id));
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        self.head_offset = 0;
        self.acked.clear();
        let cursor = self.dir.join("cursor");
        match fs::remove_file(&cursor) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&cursor)(e)),
        }
    }

    fn write_cursor(&self) -> Result<(), SpoolError> {
        let Some(first) = self.segments.front() else {
            return Ok(());
        };
        let tmp = self.dir.join("cursor.tmp");
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        writeln!(f, "{} {}", first.id, self.head_offset).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        let cursor = self.dir.join("cursor");
        fs::rename(&tmp, &cursor).map_err(io_err(&cursor))?;
        sync_dir(&self.dir)
    }
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn encode(r: &Record) -> Vec<u8> {
    let key = &r.key.as_bytes()[..r.key.len().min(255)];
    let mut body = Vec::with_capacity(1 + key.len() + r.data.len());
    body.push(key.len() as u8);
    body.extend_from_slice(key);
    body.extend_from_slice(&r.data);
    let mut frame = Vec::with_capacity(8 + body.len());
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    frame.extend_from_slice(&body);
    frame
}

fn decode(frame: &[u8]) -> Option<Record> {
    let body = frame.get(8..)?;
    let key_len = usize::from(*body.first()?);
    let key = std::str::from_utf8(body.get(1..1 + key_len)?).ok()?;
    Some(Record {
        key: key.to_owned(),
        data: body.get(1 + key_len..)?.to_vec(),
    })
}

/// Frame sizes from `start`, the end of the last good frame, and how many frames after it were
/// damaged (0 for a torn tail: a crash mid-append loses only the record being written, which was never
/// acknowledged; 1 when a complete frame has a bad CRC, as the rest of the segment can't be trusted).
fn scan(bytes: &[u8], start: u64) -> (Vec<u32>, u64, u64) {
    let mut frames = Vec::new();
    let mut off = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    loop {
        let Some(head) = bytes.get(off..off + 8) else {
            return (frames, off as u64, 0);
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = bytes.get(off + 8..off + 8 + len) else {
            return (frames, off as u64, 0);
        };
        if len == 0 || crc32fast::hash(body) != crc || decode(&bytes[off..off + 8 + len]).is_none()
        {
            return (frames, off as u64, 1);
        }
        frames.push(u32::try_from(8 + len).unwrap_or(u32::MAX));
        off += 8 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> Record {
        Record {
            key: format!("S{}", i % 3),
            data: format!("{{\"n\":{i}}}").into_bytes(),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mst-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn order_ack_and_reopen() {
        let dir = tmp("order");
        let mut s = Spool::open(&dir, 1 << 20).unwrap();
        let recs: Vec<Record> = (0..10).map(rec).collect();
        assert_eq!(
            s.append(&recs).unwrap(),
            Appended {
                written: 10,
                dropped: 0
            }
        );
        let got = s.peek(4).unwrap();
        assert_eq!(
            got.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            recs[..4]
        );
        // Out of order: 1 and 2 delivered, 0 not yet.
        s.ack([1, 2]).unwrap();
        assert_eq!(s.len(), 8);
        let got: Vec<u64> = s.peek(3).unwrap().iter().map(|(q, _)| *q).collect();
        assert_eq!(got, vec![0, 3, 4]);
        s.ack([0]).unwrap();
        drop(s);
        let mut s = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(s.len(), 7);
        let again: Vec<Record> = s.peek(100).unwrap().into_iter().map(|(_, r)| r).collect();
        assert_eq!(again, recs[3..]);
        let seqs: Vec<u64> = s.peek(100).unwrap().iter().map(|(q, _)| *q).collect();
        s.ack(seqs).unwrap();
        assert!(s.is_empty());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "files left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn full_drops_oldest_and_counts() {
        let dir = tmp("full");
        let mut s = Spool::open(&dir, 64 * 1024).unwrap();
        let big = |i: usize| Record {
            key: "AAPL".into(),
            data: vec![b'0' + (i % 10) as u8; 1000],
        };
        let mut dropped = 0;
        for i in 0..200 {
            dropped += s.append(&[big(i)]).unwrap().dropped;
        }
        assert!(s.disk_bytes() <= 64 * 1024);
        assert!(dropped > 0);
        assert_eq!(s.len() + dropped, 200);
        // What is left is the newest, in order.
        let left = s.peek(1000).unwrap();
        assert_eq!(left.last().unwrap().1, big(199));
        assert_eq!(left.len() as u64, s.len());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn torn_tail_is_cut() {
        let dir = tmp("torn");
        let mut s = Spool::open(&dir, 1 << 20).unwrap();
        s.append(&[rec(0), rec(1)]).unwrap();
        drop(s);
        let seg = dir.join(format!("{:020}.seg", 0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let mut s = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!(s.take_open_dropped(), 0);
        assert_eq!(s.len(), 2);
        s.append(&[rec(2)]).unwrap();
        let got: Vec<Record> = s.peek(10).unwrap().into_iter().map(|(_, r)| r).collect();
        assert_eq!(got, vec![rec(0), rec(1), rec(2)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
