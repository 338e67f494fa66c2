//! The generated dashboards, alert rules, rule group and contact point validate against Grafana's
//! published JSON schemas (vendored in `schemas/`, see its README), for every flavour of
//! environment.

use serde_json::{Value, json};

fn schema(file: &str, definition: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("vendored schema"))
            .expect("schema is JSON");
    // Validate against one definition of the file: point the root at it.
    doc["$ref"] = json!(format!("#/definitions/{definition}"));
    jsonschema::draft7::new(&doc).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid:\n{}",
        errors.join("\n")
    );
}

#[test]
fn dashboards_validate_against_grafanas_dashboard_schema() {
    let validator = schema("dashboard.jsonschema.json", "Dashboard");
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        assert_eq!(p.dashboards.len(), 2);
        for d in &p.dashboards {
            assert_valid(
                &validator,
                &d.model,
                &format!("{} dashboard {}", p.env, d.uid),
            );
        }
    }
}

#[test]
fn alert_rules_group_and_contact_point_validate_against_grafanas_alerting_schema() {
    let rule = schema("alerting.jsonschema.json", "Rule");
    let group = schema("alerting.jsonschema.json", "RuleGroup");
    let contact = schema("alerting.jsonschema.json", "ContactPoint");
    for env in crate::common::all_flavours() {
        let p = grafana::generate(&env);
        assert!(!p.rule_group.rules.is_empty());
        for r in &p.rule_group.rules {
            assert_valid(&rule, r, &format!("{} rule {}", p.env, r["uid"]));
        }
        assert_valid(
            &group,
            &p.rule_group.api_body(),
            &format!("{} rule group", p.env),
        );
        let cp = p
            .contact_point
            .as_ref()
            .expect("every shipped environment has e-mails");
        assert_valid(&contact, cp, &format!("{} contact point", p.env));
    }
}

/// The validators do reject: a dashboard without `schemaVersion` and a rule whose uid is over
/// Grafana's 40 characters fail, so the tests above can fail.
#[test]
fn the_schemas_reject_what_grafana_rejects() {
    let p = grafana::generate(&crate::common::shipped("prod"));
    let mut dashboard = p.dashboards[0].model.clone();
    dashboard
        .as_object_mut()
        .expect("object")
        .remove("schemaVersion");
    assert!(!schema("dashboard.jsonschema.json", "Dashboard").is_valid(&dashboard));
    let mut rule = p.rule_group.rules[0].clone();
    rule["uid"] = json!("x".repeat(41));
    assert!(!schema("alerting.jsonschema.json", "Rule").is_valid(&rule));
    let mut rule = p.rule_group.rules[0].clone();
    rule["noDataState"] = json!("Firing");
    assert!(!schema("alerting.jsonschema.json", "Rule").is_valid(&rule));
}
