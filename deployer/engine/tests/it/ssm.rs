//! SSM as the engine reads it: one `GetParameter` JSON call through `aws_connect::json` (no SDK
//! crate, so no SDK mocks), answered by `testkit::mocks::direct_config` without the network or real
//! time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_connect::json::{JsonClient, SSM};
use environment::ScraperImage;

/// An SSM client and how many calls it answered.
#[derive(Debug, Clone)]
pub struct Ssm {
    /// The client the engine is given.
    pub client: JsonClient,
    calls: Arc<AtomicUsize>,
}

impl Ssm {
    /// The `GetParameter` calls answered so far.
    pub fn num_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// SSM in `eu-west-1` holding `value` under the scraper's `latest` parameter; any other request is
/// refused as SSM refuses an unknown parameter.
pub fn holding(value: &str) -> Ssm {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let value = value.to_owned();
    let config = testkit::mocks::direct_config(move |request| {
        counted.fetch_add(1, Ordering::SeqCst);
        let asked: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        if request.target.as_deref() == Some("AmazonSSM.GetParameter")
            && asked["Name"] == ScraperImage::LATEST_PARAMETER
        {
            let answer = serde_json::json!({
                "Parameter": {
                    "Name": ScraperImage::LATEST_PARAMETER,
                    "Type": "String",
                    "Value": value,
                    "Version": 42
                }
            });
            (200, answer.to_string())
        } else {
            not_found(&request.body)
        }
    });
    Ssm {
        client: JsonClient::new(&config, "eu-west-1", SSM),
        calls,
    }
}

/// SSM that a test expects no call to: every request is refused.
pub fn unused() -> JsonClient {
    let config = testkit::mocks::direct_config(|request| not_found(&request.body));
    JsonClient::new(&config, "eu-west-1", SSM)
}

fn not_found(asked: &str) -> (u16, String) {
    let answer = serde_json::json!({
        "__type": "ParameterNotFound",
        "message": format!("unexpected request: {asked}")
    });
    (400, answer.to_string())
}
