//! The alert rule end to end: threshold edges, e-mail content, state across objects, order.

use crate::common::{BUCKET, Env, at, clock};

#[tokio::test]
async fn threshold_edges() {
    let env = Env::start().await;
    let notify = env.notify();
    let cases: [(&str, f64, f64, bool); 5] = [
        ("UP", 100.0, 100.99, false),  // +0.99%
        ("DOWN", 100.0, 99.01, false), // -0.99%
        ("ONE", 100.0, 101.0, true),   // +1.00%
        ("NEG", 250.0, 247.5, true),   // -1.00%
        ("BIN", 110.0, 111.1, true),   // +1.00%, 0.009999999999999948 in binary
    ];
    for (symbol, prev, cur, _) in cases {
        let key = env
            .put_quotes(symbol, "a", &[(&at(30, 5), prev), (&at(31, 5), cur)])
            .await;
        let outcome = env.run(&notify, &[&key]).await.unwrap();
        assert_eq!(outcome.objects, 1);
        assert_eq!(outcome.windows, 2);
    }
    let subjects: Vec<String> = env.published().into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        subjects,
        [
            "1 symbol moved >=1%: ONE +1.00%",
            "1 symbol moved >=1%: NEG -1.00%",
            "1 symbol moved >=1%: BIN +1.00%",
        ]
    );
    for (symbol, _, _, alert) in cases {
        assert_eq!(
            env.state(symbol).await.alerts.len(),
            usize::from(alert),
            "{symbol}"
        );
    }

    // A lower configured threshold (0.5%) alerts on the 0.99% moves too.
    let half = notify::Notify::from_config(&env.config(Some("0.5")), &env.sdk).with_clock(clock);
    let key = env
        .put_quotes("HALF", "a", &[(&at(30, 5), 100.0), (&at(31, 5), 100.5)])
        .await;
    env.run(&half, &[&key]).await.unwrap();
    assert_eq!(
        env.published().last().unwrap().0,
        "1 symbol moved >=0.5%: HALF +0.50%"
    );
}

#[tokio::test]
async fn email_subject_and_body() {
    let env = Env::start().await;
    let notify = env.notify();
    // Minute 30 (two rows: the later market_time wins), 31 +2%, 32 flat, gap, 35 -1.5%.
    let key = env
        .put_quotes(
            "AAPL",
            "flush-1",
            &[
                (&at(30, 50), 100.0),
                (&at(30, 10), 90.0),
                (&at(31, 2), 102.0),
                (&at(32, 59), 102.5),
                (&at(35, 30), 100.9625),
            ],
        )
        .await;
    let outcome = env.run(&notify, &[&key]).await.unwrap();
    assert_eq!(
        (outcome.windows, outcome.alerts, outcome.published),
        (4, 2, 1)
    );
    let published = env.published();
    assert_eq!(published.len(), 1);
    let (subject, body) = &published[0];
    assert_eq!(subject, "1 symbol moved >=1%: AAPL +2.00% (2 moves)");
    assert_eq!(
        body,
        &format!(
            "2 price moves of at least 1% between one-minute windows:\n\n\
             AAPL +2.00%: 100 (at 2026-11-27 15:30:50Z, window 2026-11-27 15:30Z) -> 102 (at 2026-11-27 15:31:02Z, window 2026-11-27 15:31Z)\n\
             AAPL -1.50%: 102.5 (at 2026-11-27 15:32:59Z, window 2026-11-27 15:32Z) -> 100.9625 (at 2026-11-27 15:35:30Z, window 2026-11-27 15:35Z)\n\
             \nThreshold: 1% (absolute move of a window's last price against the previous window with a price; windows are UTC minutes of market_time).\n\
             Source object: s3://{BUCKET}/{key}\n"
        )
    );
    println!("Subject: {subject}\n\n{body}");
}

#[tokio::test]
async fn state_carries_the_reference_across_objects() {
    let env = Env::start().await;
    let notify = env.notify();
    let first = env
        .put_quotes("MSFT", "f1", &[(&at(30, 5), 400.0), (&at(31, 5), 401.0)])
        .await;
    let second = env
        .put_quotes("MSFT", "f2", &[(&at(32, 5), 405.5), (&at(33, 5), 405.0)])
        .await;
    assert_eq!(env.run(&notify, &[&first]).await.unwrap().alerts, 0);
    let outcome = env.run(&notify, &[&second]).await.unwrap();
    assert_eq!((outcome.alerts, outcome.published), (1, 1));
    let (subject, body) = &env.published()[0];
    assert_eq!(subject, "1 symbol moved >=1%: MSFT +1.12%");
    assert!(
        body.contains(
            "MSFT +1.12%: 401 (at 2026-11-27 15:31:05Z, window 2026-11-27 15:31Z) -> 405.5"
        ),
        "{body}"
    );
    let state = env.state("MSFT").await;
    assert_eq!(state.windows.len(), 4);
    assert_eq!(
        state.alerts.iter().collect::<Vec<_>>(),
        ["MSFT/2026-11-27T15:32Z/2026-11-27T15:31Z"]
    );
}

#[tokio::test]
async fn objects_out_of_order_give_the_same_state_and_alerts() {
    let env = Env::start().await;
    let notify = env.notify();
    let rows_a = [(at(30, 5), 100.0), (at(31, 5), 100.2)];
    let rows_b = [(at(32, 5), 102.0), (at(33, 5), 102.1), (at(34, 5), 100.0)];
    let mut keys = Vec::new();
    for symbol in ["INORDER", "REVERSED"] {
        keys.push((
            env.put_quotes(symbol, "a", &rows_a).await,
            env.put_quotes(symbol, "b", &rows_b).await,
        ));
    }
    env.run(&notify, &[&keys[0].0]).await.unwrap();
    env.run(&notify, &[&keys[0].1]).await.unwrap();
    env.run(&notify, &[&keys[1].1]).await.unwrap();
    env.run(&notify, &[&keys[1].0]).await.unwrap();
    let in_order = env.state("INORDER").await;
    let reversed = env.state("REVERSED").await;
    assert_eq!(in_order.windows, reversed.windows);
    let strip = |s: &notify::state::State, sym: &str| -> Vec<String> {
        s.alerts.iter().map(|id| id.replacen(sym, "", 1)).collect()
    };
    assert_eq!(strip(&in_order, "INORDER"), strip(&reversed, "REVERSED"));
    // 100.2 -> 102 (+1.80%) and 102.1 -> 100 (-2.06%).
    assert_eq!(in_order.alerts.len(), 2);
    let alert_lines: usize = env
        .published()
        .iter()
        .map(|(_, body)| body.lines().filter(|l| l.contains(" (at ")).count())
        .sum();
    assert_eq!(alert_lines, 4);
}
