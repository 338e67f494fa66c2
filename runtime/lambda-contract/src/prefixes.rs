//! Key prefixes inside the data buckets: where Firehose, the Lambdas, the crawler and Athena read
//! and write. Each ends in `/`.

/// Raw bucket: records delivered by Firehose, `raw/symbol=<SYMBOL>/dt=<YYYY-MM-DD>/...` with dynamic
/// partitioning (`firehose.dynamic_partitioning`, the default), `raw/dt=<YYYY-MM-DD>/...` without;
/// to-parquet's trigger.
pub const RAW: &str = "raw/";
/// Raw bucket: records Firehose could not partition or deliver.
pub const FIREHOSE_ERRORS: &str = "errors/";
/// Raw bucket: invalid records set aside by a Lambda, with their reasons (one sub-prefix per Lambda,
/// see [`quarantine`]).
pub const QUARANTINE: &str = "quarantine/";
/// Curated bucket: Parquet data, `quotes/symbol=<S>/dt=<YYYY-MM-DD>/<name>.parquet`; notify's
/// trigger and the Athena table's location.
pub const QUOTES: &str = "quotes/";
/// Curated bucket: the notify Lambda's reference prices.
pub const NOTIFY_STATE: &str = "state/notify/";
/// Curated bucket: results of the Athena workgroup's queries.
pub const ATHENA_RESULTS: &str = "athena-results/";

/// The quarantine prefix of one Lambda, such as `quarantine/transform/`.
pub fn quarantine(lambda: &str) -> String {
    format!("{QUARANTINE}{lambda}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_in_a_slash_and_do_not_overlap() {
        let all = [
            RAW,
            FIREHOSE_ERRORS,
            QUARANTINE,
            QUOTES,
            NOTIFY_STATE,
            ATHENA_RESULTS,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.ends_with('/') && !a.starts_with('/'), "{a}");
            for b in &all[i + 1..] {
                assert!(
                    !a.starts_with(b) && !b.starts_with(a),
                    "{a} and {b} overlap"
                );
            }
        }
        assert_eq!(quarantine("transform"), "quarantine/transform/");
    }
}
