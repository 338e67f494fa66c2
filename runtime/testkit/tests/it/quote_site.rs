//! `testkit::QuoteSite`: the bundled quote site on a free port, what it served, jumps, stopped on drop.
// Test helpers panic on what a test should fail on.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

fn get(url: &str) -> (u16, String) {
    let mut resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
        .get(url)
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

#[test]
fn serves_pages_reports_them_and_jumps() {
    let site = testkit::QuoteSite::start_with(testkit::quote_site::SiteConfig::without_errors());
    let (status, html) = get(&site.html_url().replace("{symbol}", "AAPL"));
    assert_eq!(status, 200);
    assert!(html.contains("class=\"price\""), "{html}");
    site.jump("AAPL", 10.0);
    let (status, json) = get(&site.json_url().replace("{symbol}", "AAPL"));
    assert_eq!(status, 200, "{json}");
    let served = site.served();
    assert_eq!(served.symbols["AAPL"].served, 2);
    let [before, after] = &served.quotes[..] else {
        panic!("{served:?}")
    };
    assert!(after.jumped);
    assert!((after.price / before.price - 1.1).abs() <= 0.01 / before.price);
    let url = site.url();
    drop(site);
    assert!(std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err());
}
