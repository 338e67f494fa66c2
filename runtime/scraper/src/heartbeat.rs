//! The heartbeat: after every tick the daemon rewrites one small JSON file (atomically: a temporary
//! file renamed over it) with its shard and its counters since it started. The file's modification
//! time is the heartbeat; on an instance the heartbeat timer (`systemd/mystocktracker-heartbeat.sh`)
//! publishes the counters as CloudWatch metrics and marks the instance unhealthy when the file goes
//! stale.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The heartbeat file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The shard's index.
    pub shard: u32,
    /// The fleet's shard count.
    pub shards: u32,
    /// Unix seconds of the tick's end.
    pub at: u64,
    /// Ticks run since the daemon started.
    pub ticks: u64,
    /// Quote records made since the daemon started.
    pub quotes: u64,
    /// Pages that gave no record since the daemon started.
    pub fetch_failures: u64,
    /// Records Kinesis accepted since the daemon started.
    pub put: u64,
}

impl Heartbeat {
    /// Writes the heartbeat to `path` atomically (readers see the old file or the new one, never a
    /// partial one).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec(self).map_err(io::Error::other)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// Reads the heartbeat at `path`.
    pub fn read(path: &Path) -> io::Result<Heartbeat> {
        let text = std::fs::read(path)?;
        serde_json::from_slice(&text).map_err(io::Error::other)
    }
}
