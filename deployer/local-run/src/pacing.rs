//! How often to repeat a read of moto whose cost grows with what the run has stored (a bucket
//! listing, the `/moto-api/data.json` dump). moto serves every request on one core, the same core
//! the pipeline's own requests need, so such a read is spaced out as it gets slower.

use std::time::Duration;

/// The pause after a read that took `took`: `every`, or four times the read when that is longer,
/// so that the read never takes more than a fifth of moto's time.
pub fn pause_after(every: Duration, took: Duration) -> Duration {
    every.max(took.saturating_mul(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_read_spaces_the_next_one_out() {
        let every = Duration::from_secs(10);
        assert_eq!(pause_after(every, Duration::from_millis(300)), every);
        assert_eq!(
            pause_after(every, Duration::from_secs(5)),
            Duration::from_secs(20)
        );
        assert_eq!(
            pause_after(Duration::from_secs(1), Duration::from_millis(400)),
            Duration::from_millis(1600)
        );
    }
}
