//! The shipped environments: the committed snapshot, read from its directory, is no change against
//! what synthesis generates, and intrinsic references expand to readable ARNs on real data.

use std::path::{Path, PathBuf};

use policy_review::normalize::normalize_role;
use policy_review::{Catalog, RoleStatus, diff_snapshots, source};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_committed_snapshots_are_no_change_against_synthesis() {
    for name in ["local", "dev", "prod"] {
        let env = environment::load(&repo().join(format!("environments/{name}.yaml"))).unwrap();
        let synthesis = synth::synthesize(&env, None).unwrap();
        let catalog = Catalog::from_synthesis(&synthesis);
        let committed = source::from_dir(&repo().join("policies").join(name)).unwrap();
        assert!(!committed.roles.is_empty(), "{name}: no committed role");
        assert_eq!(
            committed.roles.len(),
            synthesis.snapshot.roles.len(),
            "{name}: committed and synthesized role counts"
        );
        let diff = diff_snapshots(
            name,
            "dir",
            &committed,
            "synth",
            &synthesis.snapshot,
            &catalog,
        );
        assert!(
            diff.roles.iter().all(|r| r.status == RoleStatus::Unchanged),
            "{diff:#?}"
        );
    }
}

#[test]
fn references_expand_on_the_real_snapshot() {
    let env = environment::load(&repo().join("environments/prod.yaml")).unwrap();
    let synthesis = synth::synthesize(&env, None).unwrap();
    let catalog = Catalog::from_synthesis(&synthesis);
    let resources = |role: &str| -> Vec<String> {
        let mut out: Vec<String> = normalize_role(&synthesis.snapshot.roles[role], &catalog)
            .grants
            .iter()
            .map(|g| g.resource.pattern.clone())
            .collect();
        out.dedup();
        out
    };
    let transform = resources("TransformRole");
    for expected in [
        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${FailedEventsQueue.QueueName}",
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${InfluxTokenSecret.Name}",
        "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${QuoteStream}",
    ] {
        assert!(
            transform.iter().any(|r| r == expected),
            "{expected} not in {transform:#?}"
        );
    }
    // `${RawBucket}` and the bucket's name written out are one resource.
    let firehose = resources("FirehoseRole");
    assert!(
        firehose.contains(
            &"arn:${AWS::Partition}:s3:::mst-prod-raw-${AWS::AccountId}-${AWS::Region}/raw/*"
                .to_owned()
        ),
        "{firehose:#?}"
    );
    assert!(!firehose.iter().any(|r| r.contains("${RawBucket}")));
}
