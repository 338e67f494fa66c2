//! VictoriaMetrics through the v2 write API (`/api/v2/write`, org and bucket ignored by it):
//! every valid point read back with its values (VictoriaMetrics keeps milliseconds and about 12
//! significant digits).

use std::collections::HashMap;

use serde_json::Value;
use testkit::{Moto, VictoriaMetrics};
use transform::config::InfluxApi;

use crate::common::*;

#[tokio::test]
async fn v2_writes_every_valid_point() {
    let (vm, moto) = (VictoriaMetrics::start(), Moto::start());
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "vm-accepts-any-token").await;
    let t = transform(
        &sdk,
        vm.url(),
        InfluxApi::V2 {
            org: "mst".into(),
            bucket: "quotes".into(),
        },
    );
    let event = fixture();
    let (valid, invalid) = split(&event);
    let response = transform::handle(&t, event.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // (metric, symbol, ms) -> (value, labels)
    let mut samples: HashMap<(String, String, i64), (f64, Value)> = HashMap::new();
    for line in vm.export(r#"{__name__=~"quote_.*"}"#).lines() {
        let series: Value = serde_json::from_str(line).unwrap();
        let metric = &series["metric"];
        for (v, ts) in series["values"]
            .as_array()
            .unwrap()
            .iter()
            .zip(series["timestamps"].as_array().unwrap())
        {
            let key = (
                metric["__name__"].as_str().unwrap().to_owned(),
                metric["symbol"].as_str().unwrap().to_owned(),
                ts.as_i64().unwrap(),
            );
            let old = samples.insert(key, (v.as_f64().unwrap(), metric.clone()));
            assert!(old.is_none(), "duplicate sample in {line}");
        }
    }
    let mut expected = 0;
    for (_, q) in &valid {
        let ms = q.market_time().unix_nanos().div_euclid(1_000_000);
        let fields = [
            ("quote_price", Some(q.price())),
            ("quote_change_pct", Some(q.change_pct())),
            ("quote_volume", q.volume().map(|v| v as f64)),
        ];
        for (name, value) in fields {
            let Some(value) = value else { continue };
            expected += 1;
            let key = (name.to_owned(), q.symbol().as_str().to_owned(), ms);
            let (got, labels) = samples
                .get(&key)
                .unwrap_or_else(|| panic!("no sample {key:?} in {samples:#?}"));
            // VictoriaMetrics stores floats as a decimal mantissa of about 12 significant digits
            // (171.123456789 comes back as 171.1234567889): close, not bit-exact.
            assert!(
                (got - value).abs() <= value.abs() * 1e-11,
                "{key:?}: {got} != {value}"
            );
            assert_eq!(labels["currency"], q.currency().as_str());
            assert_eq!(labels["source"], q.source());
        }
    }
    assert_eq!(
        samples.len(),
        expected,
        "only the valid points: {samples:#?}"
    );

    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1);
    assert_quarantined(&objects[0].1, &event, &invalid);
}
