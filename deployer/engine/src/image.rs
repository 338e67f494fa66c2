//! The scraper's AMI, resolved once per region at deploy time: `scraper.ami: latest` is read from
//! AWS's public SSM parameter and passed to the pipeline stack as a plain image id, so
//! CloudFormation never re-reads it on its own and a new Amazon Linux release is a change that
//! `diff` shows (replacing the scraper instance) and `up` deploys only when asked to.

use environment::{Environment, ScraperImage};

use crate::{Error, api_error};

/// The image id the pipeline of `region` gets: `scraper.ami` as written, or for `latest` the value
/// of [`ScraperImage::LATEST_PARAMETER`] in that region (AMI ids differ per region), read with
/// `ssm`, a client of `region`.
pub async fn resolve(
    ssm: &aws_connect::json::JsonClient,
    region: &str,
    env: &Environment,
) -> Result<String, Error> {
    let parameter = match &env.scraper.ami {
        ScraperImage::Id(id) => return Ok(id.clone()),
        ScraperImage::Latest => ScraperImage::LATEST_PARAMETER,
    };
    let output = ssm
        .call("GetParameter", serde_json::json!({ "Name": parameter }))
        .await
        .map_err(|e| api_error(format!("GetParameter {parameter}"), region, e))?;
    let value = output["Parameter"]["Value"].as_str().unwrap_or_default();
    if !ScraperImage::is_image_id(value) {
        return Err(Error::Other(format!(
            "the SSM parameter {parameter} in {region} holds `{value}`, not an AMI id; set `scraper.ami` to an image id in environments/{}.yaml",
            env.name.as_str()
        )));
    }
    tracing::info!("{region}: scraper AMI `latest` is {value}");
    Ok(value.to_owned())
}

/// What `diff --offline` (no AWS) says of the scraper's AMI: a fixed id as it is, `latest` as
/// resolved at deploy time.
pub fn offline_description(env: &Environment) -> String {
    match &env.scraper.ami {
        ScraperImage::Id(id) => format!("{id} (scraper.ami)"),
        ScraperImage::Latest => format!(
            "resolved at deploy: the newest Amazon Linux 2023 ({}) in each region; `deployer diff` shows whether it changes",
            ScraperImage::LATEST_PARAMETER
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    fn prod(ami: Option<&str>) -> Environment {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments/prod.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let text = match ami {
            Some(id) => text.replacen("scraper:\n", &format!("scraper:\n  ami: {id}\n"), 1),
            None => text,
        };
        environment::parse("prod.yaml", &text).unwrap()
    }

    #[test]
    fn offline_a_fixed_id_is_shown_and_latest_is_said_to_be_resolved_at_deploy() {
        assert_eq!(
            offline_description(&prod(Some("ami-0abcdef1234567890"))),
            "ami-0abcdef1234567890 (scraper.ami)"
        );
        assert!(
            offline_description(&prod(None)).starts_with(
                "resolved at deploy: the newest Amazon Linux 2023 (/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64)"
            )
        );
    }
}
