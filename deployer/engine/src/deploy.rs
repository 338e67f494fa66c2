//! `up` for one region and for a whole environment: the artifacts stack and uploads in every
//! region at once, then the pipeline stack, canary first, in waves.

use std::collections::BTreeMap;
use std::time::Duration;

use environment::{Environment, Region};
use serde_json::Value;
use stacks::pipeline::{ArtifactParameter, Names, StackKind};
use synth::{RegionOutput, StackOutput};

use crate::Error;
use crate::apply::{self, Applied};
use crate::artifacts::{self, Artifact, StoredArtifact, sha256_hex};
use crate::aws::RegionClients;
use crate::change_set::{self, Deployed, Plan, Prepared, StackSpec, TemplateLocation};
use crate::delete;
use crate::events::StackEvent;
use crate::waves::{self, RegionResult, join_all};

/// The pipeline stack's parameter naming the artifacts bucket, as `stacks` defines it.
pub use stacks::pipeline::ARTIFACTS_BUCKET_PARAMETER;

/// Timing of the engine's polling.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Pause between two polls of a change set or a stack.
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(3),
        }
    }
}

/// Receives what happens, to show it (progress bars, plain lines or JSON).
pub trait Observer: Sync {
    /// A change set was computed and is about to be reviewed.
    fn plan(&self, region: &Region, plan: &Plan);
    /// A stack operation started; `total` resources are expected to change.
    fn started(&self, region: &Region, stack: &str, total: usize);
    /// A stack event arrived.
    fn event(&self, region: &Region, stack: &str, event: &StackEvent);
    /// A stack operation ended.
    fn finished(&self, region: &Region, stack: &str, outcome: &Result<Applied, String>);
    /// Anything else worth a line (uploads, skipped stacks).
    fn note(&self, region: &Region, text: &str);
}

/// Decides whether a plan may be executed.
pub trait Approver: Sync {
    /// `Ok(true)` to execute, `Ok(false)` to discard; `Err` with the sentence to show when approval
    /// is needed but cannot be asked for (no terminal and no `--yes`).
    fn approve(&self, region: &Region, plan: &Plan) -> Result<bool, String>;
}

/// How one stack's `ensure` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackResult {
    /// Already as wanted.
    Unchanged,
    /// Changes applied.
    Applied(Applied),
    /// Not approved; the change set was deleted.
    Declined(String),
}

/// The name of the artifacts bucket in `region`, as the artifacts stack names it (known before the
/// stack exists, and independent of outputs, which emulators may not report).
pub fn artifacts_bucket(env: &Environment, region: &Region) -> String {
    Names::new(env).artifacts_bucket_in(env.account.as_str(), region.as_str())
}

/// A resource name as the template fixes it: a literal, or `Fn::Sub` over the account and region
/// pseudo parameters. `None` for anything that depends on other resources.
pub fn resolve_name(value: &Value, env: &Environment, region: &Region) -> Option<String> {
    let text = value.as_str().or_else(|| value["Fn::Sub"].as_str())?;
    let name = text
        .replace("${AWS::AccountId}", env.account.as_str())
        .replace("${AWS::Region}", region.as_str());
    (!name.contains("${")).then_some(name)
}

/// The synthesized stack of a kind.
pub fn stack_of(region: &RegionOutput, kind: StackKind) -> Result<&StackOutput, Error> {
    region
        .stacks
        .iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| {
            Error::Other(format!(
                "no {} stack synthesized for {}",
                kind.as_str(),
                region.region
            ))
        })
}

/// The version parameter's value for an artifact not uploaded yet: only `diff` passes it (`up` would
/// upload it, which makes a new version, so the function shows as modified either way); `up` always
/// has the real version.
pub const NOT_UPLOADED_VERSION: &str = "not-uploaded-yet";

/// What to deploy as `kind` in `region`; the pipeline takes each artifact's key and object version
/// from `stored`.
pub fn spec(
    env: &Environment,
    region: &RegionOutput,
    kind: StackKind,
    stored: &[StoredArtifact],
) -> Result<StackSpec, Error> {
    let stack = stack_of(region, kind)?;
    let mut parameters = BTreeMap::new();
    if kind == StackKind::Pipeline {
        parameters.insert(
            ARTIFACTS_BUCKET_PARAMETER.to_owned(),
            artifacts_bucket(env, &region.region),
        );
        for parameter in ArtifactParameter::ALL {
            let artifact = stored
                .iter()
                .find(|a| a.parameter == parameter)
                .ok_or_else(|| Error::Other(format!("no {} artifact", parameter.crate_name())))?;
            parameters.insert(
                parameter.parameter_name().to_owned(),
                artifact.object.key.clone(),
            );
            parameters.insert(
                parameter.version_parameter_name().to_owned(),
                artifact
                    .object
                    .version_id
                    .clone()
                    .unwrap_or_else(|| NOT_UPLOADED_VERSION.to_owned()),
            );
        }
    }
    Ok(StackSpec {
        name: stack.name.clone(),
        body: stack.compact.clone(),
        parameters,
        tags: env.tags.clone(),
    })
}

/// Where CloudFormation reads `spec`'s template from; a large template is first uploaded to the
/// artifacts bucket under its content hash.
pub async fn template_location(
    clients: &RegionClients,
    bucket: &str,
    spec: &StackSpec,
) -> Result<TemplateLocation, Error> {
    if spec.body.len() <= synth::INLINE_TEMPLATE_BYTES {
        return Ok(TemplateLocation::Body);
    }
    let key = format!(
        "templates/{}/{}.json",
        spec.name,
        sha256_hex(spec.body.as_bytes())
    );
    artifacts::store(
        &clients.s3,
        clients.region.as_str(),
        bucket,
        &key,
        spec.body.as_bytes(),
        &format!("the template of {}", spec.name),
    )
    .await?;
    Ok(TemplateLocation::Url(format!(
        "https://{bucket}.s3.{}.amazonaws.com/{key}",
        clients.region.as_str()
    )))
}

/// What the stack currently is, and its template when it exists.
async fn current(clients: &RegionClients, name: &str) -> Result<Option<(Deployed, String)>, Error> {
    let region = clients.region.as_str();
    let Some(deployed) = change_set::describe_stack(&clients.cloudformation, region, name).await?
    else {
        return Ok(None);
    };
    if deployed.is_review_only() {
        return Ok(Some((deployed, String::new())));
    }
    let body = change_set::deployed_template(&clients.cloudformation, region, name).await?;
    Ok(Some((deployed, body)))
}

/// Brings one stack to `spec`: skip when unchanged, else change set → review → approval →
/// execute → events.
pub async fn ensure_stack(
    clients: &RegionClients,
    spec: &StackSpec,
    location: &TemplateLocation,
    settings: &Settings,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Result<StackResult, Error> {
    let region = &clients.region;
    let cfn = &clients.cloudformation;
    let mut existing = current(clients, &spec.name).await?;
    if let Some((deployed, _)) = &existing {
        if deployed.in_progress() {
            return Err(Error::Blocked {
                stack: spec.name.clone(),
                region: region.to_string(),
                status: deployed.status.clone(),
                hint: "another operation is running; wait for it (`deployer status --watch`) and run again".into(),
            });
        }
        if deployed.is_failed_create() {
            // A failed first creation holds nothing (retained resources aside) and blocks every
            // update: delete it, then create afresh.
            observer.note(
                region,
                &format!(
                    "{} is {} from a failed creation: deleting it first",
                    spec.name, deployed.status
                ),
            );
            delete::delete_stack(cfn, region.as_str(), &spec.name, settings.poll, &mut |e| {
                observer.event(region, &spec.name, e)
            })
            .await?;
            existing = None;
        }
    }
    if let Some((deployed, body)) = &existing
        && change_set::unchanged(deployed, body, spec)
    {
        return Ok(StackResult::Unchanged);
    }
    let create = existing.as_ref().is_none_or(|(d, _)| d.is_review_only());
    let old_template: Option<Value> = existing
        .as_ref()
        .filter(|_| !create)
        .and_then(|(_, body)| serde_json::from_str(body).ok());
    let prepared = change_set::create(
        cfn,
        region.as_str(),
        spec,
        location,
        create,
        old_template.as_ref(),
        settings.poll,
    )
    .await?;
    let plan = match prepared {
        Prepared::Unchanged => return Ok(StackResult::Unchanged),
        Prepared::Changes(plan) => plan,
    };
    observer.plan(region, &plan);
    match approver.approve(region, &plan) {
        Ok(true) => {}
        Ok(false) => {
            change_set::discard(cfn, &plan).await?;
            return Ok(StackResult::Declined(format!(
                "{} in {region} was not approved",
                spec.name
            )));
        }
        Err(sentence) => {
            change_set::discard(cfn, &plan).await?;
            return Ok(StackResult::Declined(sentence));
        }
    }
    observer.started(region, &spec.name, plan.changes.len());
    let result = apply::execute(cfn, &plan, settings.poll, &mut |e| {
        observer.event(region, &spec.name, e)
    })
    .await;
    observer.finished(
        region,
        &spec.name,
        &result
            .as_ref()
            .map(Clone::clone)
            .map_err(ToString::to_string),
    );
    Ok(StackResult::Applied(result?))
}

/// Everything `up` needs for one environment.
pub struct Up<'a> {
    /// The environment.
    pub env: &'a Environment,
    /// Regions to deploy (synthesized), in rollout order, with their clients.
    pub regions: Vec<(&'a RegionOutput, RegionClients)>,
    /// The artifacts.
    pub artifacts: &'a [Artifact],
    /// Regions deployed at once after the canary.
    pub parallel: usize,
    /// Polling.
    pub settings: Settings,
}

/// Phase one in one region: the artifacts stack, then the artifacts, uploaded when missing and
/// checked when present. Returns the region's result and, when it succeeded, the stored artifacts
/// the pipeline pins.
pub async fn prepare_region(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> (RegionResult, Vec<StoredArtifact>) {
    let run = async {
        let spec = spec(up.env, region, StackKind::Artifacts, &[])?;
        let result = ensure_stack(
            clients,
            &spec,
            &TemplateLocation::Body,
            &up.settings,
            approver,
            observer,
        )
        .await?;
        if let StackResult::Declined(why) = result {
            return Ok((RegionResult::Declined(why), Vec::new()));
        }
        let bucket = artifacts_bucket(up.env, &region.region);
        if up.env.is_local() {
            artifacts::enable_versioning_on_emulator(&clients.s3, clients.region.as_str(), &bucket)
                .await?;
        }
        let stored =
            artifacts::store_all(&clients.s3, clients.region.as_str(), &bucket, up.artifacts)
                .await?;
        let uploaded = stored.iter().filter(|a| a.object.uploaded).count();
        if uploaded > 0 {
            observer.note(
                &clients.region,
                &format!("uploaded {uploaded} artifact(s) to s3://{bucket}"),
            );
        }
        let result = match (result, uploaded) {
            (StackResult::Unchanged, 0) => RegionResult::Unchanged,
            _ => RegionResult::Changed,
        };
        Ok::<_, Error>((result, stored))
    };
    run.await
        .unwrap_or_else(|e| (RegionResult::Failed(e.to_string()), Vec::new()))
}

/// Phase two in one region: the pipeline stack, with the artifacts `prepare_region` stored.
pub async fn pipeline_region(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    stored: &[StoredArtifact],
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> RegionResult {
    let run = async {
        let spec = spec(up.env, region, StackKind::Pipeline, stored)?;
        let location =
            template_location(clients, &artifacts_bucket(up.env, &region.region), &spec).await?;
        Ok::<_, Error>(
            match ensure_stack(clients, &spec, &location, &up.settings, approver, observer).await? {
                StackResult::Unchanged => RegionResult::Unchanged,
                StackResult::Applied(_) => RegionResult::Changed,
                StackResult::Declined(why) => RegionResult::Declined(why),
            },
        )
    };
    run.await
        .unwrap_or_else(|e| RegionResult::Failed(e.to_string()))
}

/// `up` for every region of `up`: artifacts stacks and uploads in all regions at once (nothing
/// there runs code), then the pipeline stacks, canary first and in waves. Returns every region's
/// result in rollout order.
pub async fn up(
    up: &Up<'_>,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Vec<(Region, RegionResult)> {
    let (prepared, stored): (Vec<RegionResult>, Vec<Vec<StoredArtifact>>) = join_all(
        up.regions
            .iter()
            .map(|(region, clients)| prepare_region(up, region, clients, approver, observer))
            .collect(),
    )
    .await
    .into_iter()
    .unzip();
    if prepared.iter().any(RegionResult::stops_rollout) {
        return up
            .regions
            .iter()
            .zip(prepared)
            .map(|((region, _), result)| {
                let result = if result.stops_rollout() {
                    result
                } else {
                    RegionResult::NotStarted
                };
                (region.region.clone(), result)
            })
            .collect();
    }
    let indices: Vec<usize> = (0..up.regions.len()).collect();
    let results = waves::run(&waves::plan(&indices, up.parallel), |index| {
        let (region, clients) = &up.regions[index];
        pipeline_region(up, region, clients, &stored[index], approver, observer)
    })
    .await;
    results
        .into_iter()
        .map(|(index, result)| {
            // An unchanged pipeline after uploading artifacts or creating the bucket is still a change.
            let result = match (&prepared[index], result) {
                (RegionResult::Changed, RegionResult::Unchanged) => RegionResult::Changed,
                (_, other) => other,
            };
            (up.regions[index].0.region.clone(), result)
        })
        .collect()
}
