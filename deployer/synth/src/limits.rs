//! CloudFormation's hard limits, and EC2's on user data, checked before anything is sent.

use environment::Region;
use serde_json::Value;

use super::StackOutput;

/// Resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// Bytes of a template body passed inline in the API call.
pub const INLINE_TEMPLATE_BYTES: usize = 51_200;
/// Bytes of a template read from S3.
pub const S3_TEMPLATE_BYTES: usize = 1_000_000;
/// Bytes of an instance's user data before base64 encoding (EC2's limit, checked when the
/// instance is launched: after the stack was accepted, so synth checks it).
pub const USER_DATA_BYTES: usize = 16 * 1024;

/// A template breaks a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Too many resources.
    #[error(
        "stack {stack} in {region} has {count} resources; CloudFormation allows {MAX_RESOURCES} per stack. Split the stack."
    )]
    TooManyResources {
        /// Stack name.
        stack: String,
        /// Region.
        region: Region,
        /// Resource count.
        count: usize,
    },
    /// A launch template's user data may exceed EC2's limit once its deploy-time values are in.
    #[error(
        "environment {env}: the user data of {resource} in stack {stack} ({region}) is up to {bytes} bytes ({literal} bytes of script and scraper configuration, up to {placeholders} more for values known at deploy time); EC2 allows {USER_DATA_BYTES} bytes, so launching the scraper would fail. The configuration lists every symbol and source: follow fewer symbols in this environment, or split them over environments."
    )]
    UserDataTooLarge {
        /// Environment name.
        env: String,
        /// Stack name.
        stack: String,
        /// Region.
        region: Region,
        /// The launch template's logical id.
        resource: String,
        /// Upper bound of the rendered size.
        bytes: usize,
        /// Bytes fixed at synth time.
        literal: usize,
        /// Upper bound of what the `${...}` values add.
        placeholders: usize,
    },
    /// Too large even for S3.
    #[error(
        "stack {stack} in {region} is {bytes} bytes; CloudFormation reads at most {S3_TEMPLATE_BYTES} bytes from S3. Split the stack."
    )]
    TooLarge {
        /// Stack name.
        stack: String,
        /// Region.
        region: Region,
        /// Compact size.
        bytes: usize,
    },
}

/// Checks one stack of environment `env`. A template over the inline limit is fine: the deployer
/// uploads it to S3.
pub(crate) fn check(env: &str, region: &Region, stack: &StackOutput) -> Result<(), LimitError> {
    check_figures(region, &stack.name, stack.resources, stack.compact.len())?;
    check_user_data(env, region, &stack.name, &stack.json)
}

/// Every launch template's `UserData` (`Fn::Base64` of a literal or of an `Fn::Sub`), at its
/// largest once CloudFormation has put the values in, against [`USER_DATA_BYTES`].
fn check_user_data(
    env: &str,
    region: &Region,
    stack: &str,
    template: &Value,
) -> Result<(), LimitError> {
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Ok(());
    };
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::EC2::LaunchTemplate") {
            continue;
        }
        let user_data = resource.pointer("/Properties/LaunchTemplateData/UserData/Fn::Base64");
        let (literal, placeholders) = match user_data {
            Some(Value::String(text)) => (text.len(), 0),
            Some(Value::Object(sub)) => match sub.get("Fn::Sub") {
                Some(Value::String(text)) => sub_bytes(text, region),
                _ => continue,
            },
            _ => continue,
        };
        if literal + placeholders > USER_DATA_BYTES {
            return Err(LimitError::UserDataTooLarge {
                env: env.to_owned(),
                stack: stack.to_owned(),
                region: region.clone(),
                resource: id.clone(),
                bytes: literal + placeholders,
                literal,
                placeholders,
            });
        }
    }
    Ok(())
}

/// The bytes of an `Fn::Sub` string outside its `${Name}` placeholders (`${!Literal}` counts as the
/// `${Literal}` it becomes), and the most its placeholders can add.
fn sub_bytes(text: &str, region: &Region) -> (usize, usize) {
    let (mut literal, mut placeholders) = (0, 0);
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal += start;
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            literal += rest.len() - start;
            return (literal, placeholders);
        };
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(escaped) => literal += escaped.len() + 3,
            None => placeholders += placeholder_bytes(name, region),
        }
        rest = &after[end + 1..];
    }
    (literal + rest.len(), placeholders)
}

/// The most bytes the value of `${name}` can have: the region is known; an S3 object version id
/// is at most 1,024 bytes (S3's definition, and the version parameters' pattern); an artifact key is
/// `<crate>/<sha256>.<ext>` (under 100 bytes); a bucket name at most 63; any other name (a
/// resource's physical name, such as the stream's) at most 128.
fn placeholder_bytes(name: &str, region: &Region) -> usize {
    match name {
        "AWS::Region" => region.as_str().len(),
        "AWS::AccountId" => 12,
        _ if name.ends_with("Version") => 1024,
        _ if name.ends_with("Key") => 100,
        _ if name.ends_with("Bucket") => 63,
        _ => 128,
    }
}

fn check_figures(
    region: &Region,
    stack: &str,
    resources: usize,
    bytes: usize,
) -> Result<(), LimitError> {
    if resources > MAX_RESOURCES {
        return Err(LimitError::TooManyResources {
            stack: stack.to_owned(),
            region: region.clone(),
            count: resources,
        });
    }
    if bytes > S3_TEMPLATE_BYTES {
        return Err(LimitError::TooLarge {
            stack: stack.to_owned(),
            region: region.clone(),
            bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        // Regions are only made by validation; borrow one from a minimal valid environment.
        crate::tests::minimal_env().regions[0].clone()
    }

    #[test]
    fn limits_are_enforced_at_their_edges() {
        let r = region();
        assert!(check_figures(&r, "s", MAX_RESOURCES, S3_TEMPLATE_BYTES).is_ok());
        assert!(matches!(
            check_figures(&r, "s", MAX_RESOURCES + 1, 10),
            Err(LimitError::TooManyResources { count: 501, .. })
        ));
        let err = check_figures(&r, "s", 1, S3_TEMPLATE_BYTES + 1).unwrap_err();
        assert!(err.to_string().contains("1000001 bytes"), "{err}");
    }

    fn launch_template(user_data: Value) -> Value {
        serde_json::json!({"Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "ScraperLaunchTemplate": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {"LaunchTemplateData": {"UserData": {"Fn::Base64": user_data}}},
            },
        }})
    }

    #[test]
    fn placeholders_count_at_their_largest_and_escapes_as_written() {
        let r = region();
        // "a" + "${!x}" (written `${x}`, 4 bytes) + "b"; the region and a version as placeholders.
        let (literal, placeholders) = sub_bytes("a${!x}b${AWS::Region}${BinaryVersion}", &r);
        assert_eq!(literal, 6);
        assert_eq!(placeholders, r.as_str().len() + 1024);
        assert_eq!(sub_bytes("no placeholders", &r), (15, 0));
        assert_eq!(sub_bytes("open ${", &r), (7, 0));
    }

    #[test]
    fn user_data_over_16_kib_is_refused_naming_the_environment_and_the_fix() {
        let r = region();
        let at_limit = "x".repeat(USER_DATA_BYTES);
        assert!(
            check_user_data("prod", &r, "s", &launch_template(Value::String(at_limit))).is_ok()
        );
        // With a placeholder: the literal alone fits, its largest value does not.
        let text = "x".repeat(USER_DATA_BYTES - 100) + "${StreamName}";
        let template = launch_template(serde_json::json!({ "Fn::Sub": text }));
        let err = check_user_data("prod", &r, "mst-prod-pipeline", &template).unwrap_err();
        assert_eq!(
            err,
            LimitError::UserDataTooLarge {
                env: "prod".into(),
                stack: "mst-prod-pipeline".into(),
                region: r.clone(),
                resource: "ScraperLaunchTemplate".into(),
                bytes: USER_DATA_BYTES - 100 + 128,
                literal: USER_DATA_BYTES - 100,
                placeholders: 128,
            }
        );
        let text = err.to_string();
        assert!(
            text.starts_with("environment prod: the user data of ScraperLaunchTemplate"),
            "{text}"
        );
        assert!(
            text.contains("EC2 allows 16384 bytes") && text.contains("follow fewer symbols"),
            "{text}"
        );
    }
}
