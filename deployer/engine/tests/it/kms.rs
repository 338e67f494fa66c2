//! KMS as the engine calls it: JSON calls through `aws_connect::json` (no SDK crate, so no SDK
//! mocks), answered by `testkit::mocks::direct_config` without the network or real time.

use std::sync::{Arc, Mutex};

use aws_connect::json::{JsonClient, KMS};
use serde_json::{Value, json};

/// A KMS client and the requests it answered.
#[derive(Debug, Clone)]
pub struct Kms {
    /// The client the engine is given.
    pub client: JsonClient,
    asked: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Kms {
    /// The operations answered so far (`DescribeKey`, ...) with their input, in order.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.asked.lock().unwrap().clone()
    }
}

/// KMS in `eu-west-1` answering each request with `answer(operation, input)`: an HTTP status and
/// the JSON body (see [`error`]). A request without a KMS target is refused.
pub fn answering(answer: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> Kms {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&asked);
    let config = testkit::mocks::direct_config(move |request| {
        let input: Value = serde_json::from_str(&request.body).unwrap_or_default();
        let Some(operation) = request
            .target
            .as_deref()
            .and_then(|t| t.strip_prefix("TrentService."))
        else {
            let refused = error("UnsupportedOperationException", "no KMS target");
            return (refused.0, refused.1.to_string());
        };
        recorded
            .lock()
            .unwrap()
            .push((operation.to_owned(), input.clone()));
        let (status, body) = answer(operation, &input);
        (status, body.to_string())
    });
    Kms {
        client: JsonClient::new(&config, "eu-west-1", KMS),
        asked,
    }
}

/// KMS that a test expects no call to: every request is refused.
pub fn unused() -> JsonClient {
    answering(|operation, _| error("AccessDeniedException", &format!("unexpected {operation}")))
        .client
}

/// A KMS error answer: `code` as the body's `__type`, with `message`.
pub fn error(code: &str, message: &str) -> (u16, Value) {
    (400, json!({ "__type": code, "message": message }))
}
