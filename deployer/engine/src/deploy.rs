//! `up` for one region and for a whole environment: the artifacts stack and uploads in every
//! region at once, then the pipeline stack, canary first, in waves.

use std::collections::BTreeMap;
use std::time::Duration;

use environment::{Environment, Region};
use serde_json::Value;
use stacks::pipeline::{
    ArtifactParameter, Names, REPLICA_KEY_PARAMETER, SCRAPER_IMAGE_PARAMETER, StackKind,
};
use synth::{RegionOutput, StackOutput};

use crate::Error;
use crate::adopt;
use crate::apply::{self, Applied};
use crate::artifacts::{self, Artifact, StoredArtifact, sha256_hex};
use crate::aws::RegionClients;
use crate::change_set::{self, Deployed, Plan, Prepared, StackSpec, TemplateLocation};
use crate::delete;
use crate::events::StackEvent;
use crate::gate::{self, CanaryGate};
use crate::image;
use crate::status::Phase;
use crate::waves::{self, RegionResult, join_all};

/// The pipeline stack's parameter naming the artifacts bucket, as `stacks` defines it.
pub use stacks::pipeline::ARTIFACTS_BUCKET_PARAMETER;

/// Timing of the engine's polling.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Pause between two polls of a change set or a stack.
    pub poll: Duration,
    /// Pause between two checks of the canary's alarms while it bakes.
    pub bake_poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(3),
            bake_poll: Duration::from_secs(30),
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
    Names::new(env).artifacts_bucket_in(env.account_of(region).as_str(), region.as_str())
}

/// A resource name as the template fixes it: a literal, or `Fn::Sub` over the account and region
/// pseudo parameters. `None` for anything that depends on other resources.
pub fn resolve_name(value: &Value, env: &Environment, region: &Region) -> Option<String> {
    let text = value.as_str().or_else(|| value["Fn::Sub"].as_str())?;
    let name = text
        .replace("${AWS::AccountId}", env.account_of(region).as_str())
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

/// The replica key's ARN for `diff` when the DR region's stack is not deployed yet (`up` deploys it
/// first and passes the real one).
pub fn replica_key_not_deployed(env: &Environment) -> Option<String> {
    env.dr.as_ref().map(|dr| {
        format!(
            "arn:aws:kms:{}:{}:key/not-deployed-yet",
            dr.region,
            env.account.as_str()
        )
    })
}

/// What the pipeline stack of one region is pinned to, fixed once per `up` or `diff` before any
/// stack is looked at: the stored artifacts and the scraper's AMI id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// Each artifact's key and object version in the region's artifacts bucket.
    pub artifacts: Vec<StoredArtifact>,
    /// The scraper's AMI id (`scraper.ami`, with `latest` resolved in the region).
    pub scraper_image: String,
}

/// What to deploy as `kind` in `region`. The pipeline takes each artifact's key and object
/// version, and the scraper's AMI, from `pinned`, which it requires; with `dr:` the replica key's
/// ARN from `replica_key` (refused when missing); and carries the source hash of each artifact
/// that has one as a stack tag ([`crate::sources::source_tag`]). The other stacks take no
/// parameters (`None`).
pub fn spec(
    env: &Environment,
    region: &RegionOutput,
    kind: StackKind,
    pinned: Option<&Pinned>,
    replica_key: Option<&str>,
) -> Result<StackSpec, Error> {
    let stack = stack_of(region, kind)?;
    let mut parameters = BTreeMap::new();
    if kind == StackKind::Pipeline && env.dr.is_some() {
        let arn = replica_key.ok_or_else(|| {
            Error::Other(format!(
                "the replica key of {} is not known: the DR region's stack (`{}`) must be deployed first, which `deployer up --env {}` does",
                region.region,
                Names::new(env).stack(StackKind::Replica),
                env.name.as_str()
            ))
        })?;
        parameters.insert(REPLICA_KEY_PARAMETER.to_owned(), arn.to_owned());
    }
    if kind == StackKind::Pipeline {
        let pinned = pinned.ok_or_else(|| {
            Error::Other(format!(
                "the pipeline of {} needs its artifacts and AMI pinned first",
                region.region
            ))
        })?;
        let stored = &pinned.artifacts;
        parameters.insert(
            SCRAPER_IMAGE_PARAMETER.to_owned(),
            pinned.scraper_image.clone(),
        );
        parameters.insert(
            ARTIFACTS_BUCKET_PARAMETER.to_owned(),
            artifacts_bucket(env, &region.region),
        );
        for parameter in ArtifactParameter::ALL
            .into_iter()
            .filter(|p| p.is_declared_in(&stack.json))
        {
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
    let mut tags = env.tags.clone();
    for artifact in pinned
        .map(|p| &p.artifacts[..])
        .unwrap_or_default()
        .iter()
        .filter(|a| a.parameter.is_declared_in(&stack.json))
    {
        if let Some(source) = &artifact.source_sha256 {
            tags.insert(
                crate::sources::source_tag(artifact.parameter),
                source.clone(),
            );
        }
    }
    let mut spec = StackSpec::new(stack.name.clone(), stack.compact.clone(), parameters, tags);
    if matches!(kind, StackKind::Pipeline | StackKind::Replica) {
        spec.role_arn = execution_role(env, &region.region);
    }
    Ok(spec)
}

/// The CloudFormation execution role of `region`'s bootstrap stack, for an environment with
/// `deploy:`: what the pipeline stack of a region, and the replica stack of the DR region, are
/// changed with.
pub fn execution_role(env: &Environment, region: &Region) -> Option<String> {
    env.is_bootstrapped().then(|| {
        Names::new(env).execution_role_arn(env.account_of(region).as_str(), region.as_str())
    })
}

/// Checks that `region`'s bootstrap stack (the artifacts stack of an environment with
/// `deploy:`) exists and is the one this version of the deployer synthesizes: the deploy role
/// may not change it, and an outdated execution role would miss what the pipeline now needs.
pub async fn check_bootstrap(
    clients: &RegionClients,
    env: &Environment,
    spec: &StackSpec,
) -> Result<(), Error> {
    let region = &clients.region;
    let deployed =
        change_set::describe_stack(&clients.cloudformation, region.as_str(), &spec.name).await?;
    let why = match &deployed {
        None => "does not exist",
        Some(d) if d.in_progress() => "is being changed",
        Some(d) if !change_set::unchanged(d, spec) => {
            "differs from the bootstrap this version of the deployer needs"
        }
        Some(_) => return Ok(()),
    };
    Err(Error::NotBootstrapped {
        env: env.name.as_str().to_owned(),
        stack: spec.name.clone(),
        region: region.to_string(),
        account: env.account_of(region).as_str().to_owned(),
        why: why.to_owned(),
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

/// Brings one stack to `spec`: skip when unchanged, else change set → review → approval →
/// execute → events. A stack about to be created first adopts the retained resources an earlier
/// `down` kept ([`adopt_kept`]).
pub async fn ensure_stack(
    clients: &RegionClients,
    env: &Environment,
    spec: &StackSpec,
    location: &TemplateLocation,
    settings: &Settings,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Result<StackResult, Error> {
    let region = &clients.region;
    let cfn = &clients.cloudformation;
    let mut existing = change_set::describe_stack(cfn, region.as_str(), &spec.name).await?;
    if let Some(deployed) = &existing {
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
            delete::delete_stack(
                cfn,
                region.as_str(),
                &spec.name,
                spec.role_arn.as_deref(),
                settings.poll,
                &mut |e| observer.event(region, &spec.name, e),
            )
            .await?;
            existing = None;
        }
    }
    if let Some(deployed) = &existing
        && change_set::unchanged(deployed, spec)
    {
        return Ok(StackResult::Unchanged);
    }
    if existing.as_ref().is_none_or(Deployed::is_review_only) {
        match adopt_kept(
            clients,
            env,
            spec,
            existing.as_ref(),
            settings,
            approver,
            observer,
        )
        .await?
        {
            Some(declined @ StackResult::Declined(_)) => return Ok(declined),
            Some(_) => {
                existing = change_set::describe_stack(cfn, region.as_str(), &spec.name).await?;
            }
            None => {}
        }
    }
    let create = existing.as_ref().is_none_or(Deployed::is_review_only);
    // The deployed template is read only now, for the IAM comparison of a real change.
    let old_template: Option<Value> = if create {
        None
    } else {
        serde_json::from_str(
            &change_set::deployed_template(cfn, region.as_str(), &spec.name).await?,
        )
        .ok()
    };
    let prepared = change_set::create(
        cfn,
        region.as_str(),
        spec,
        location,
        create,
        existing
            .as_ref()
            .filter(|_| !create)
            .map(|d| (d, old_template.as_ref())),
        settings.poll,
    )
    .await?;
    review_and_execute(clients, spec, prepared, settings, approver, observer).await
}

/// Before `spec`'s stack is created: imports the retained resources of its template that still
/// exist (an earlier `down` kept them, or a failed creation left them) into a new stack, through
/// an `IMPORT` change set reviewed and approved like any other. `None` when there is nothing to
/// adopt. A stack holding only an unexecuted change set (`review_only`) is deleted first: an
/// import makes the stack itself.
async fn adopt_kept(
    clients: &RegionClients,
    env: &Environment,
    spec: &StackSpec,
    review_only: Option<&Deployed>,
    settings: &Settings,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Result<Option<StackResult>, Error> {
    let region = &clients.region;
    let template: Value = serde_json::from_str(&spec.body)
        .map_err(|e| Error::Other(format!("template of {} is not JSON: {e}", spec.name)))?;
    let kept = adopt::find(clients, &template, env, region).await?;
    if kept.is_empty() {
        return Ok(None);
    }
    let cfn = &clients.cloudformation;
    if let Some(deployed) = review_only {
        observer.note(
            region,
            &format!(
                "{} is {} (a change set never executed; it holds no resources): deleting it before the import",
                spec.name, deployed.status
            ),
        );
        delete::delete_stack(
            cfn,
            region.as_str(),
            &spec.name,
            spec.role_arn.as_deref(),
            settings.poll,
            &mut |e| observer.event(region, &spec.name, e),
        )
        .await?;
    }
    let list: Vec<String> = kept.iter().map(ToString::to_string).collect();
    observer.note(
        region,
        &format!(
            "adopting {} resource(s) kept by an earlier `down` into {} (CloudFormation import): {}",
            kept.len(),
            spec.name,
            list.join(", ")
        ),
    );
    let body = adopt::import_template(&template, &kept).to_string();
    // Its own hash tags: an import that succeeded but whose update did not is not `unchanged`.
    let mut tags = spec.tags.clone();
    tags.remove(change_set::TEMPLATE_HASH_TAG);
    tags.remove(change_set::PARAMETERS_HASH_TAG);
    let mut import = StackSpec::new(spec.name.clone(), body, spec.parameters.clone(), tags);
    import.import = kept;
    let prepared = change_set::create(
        cfn,
        region.as_str(),
        &import,
        &TemplateLocation::Body,
        true,
        None,
        settings.poll,
    )
    .await?;
    review_and_execute(clients, &import, prepared, settings, approver, observer)
        .await
        .map(Some)
}

/// Shows a computed change set, asks for approval, and executes it (or deletes it when declined).
/// A failed execution's error says the stack's status afterwards, as `DescribeStacks` reports it.
async fn review_and_execute(
    clients: &RegionClients,
    spec: &StackSpec,
    prepared: Prepared,
    settings: &Settings,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Result<StackResult, Error> {
    let region = &clients.region;
    let cfn = &clients.cloudformation;
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
    let result = match result {
        Err(error @ Error::StackFailed { .. }) => Err(error),
        Err(error) => Err(with_stack_status(clients, &spec.name, error).await),
        Ok(applied) => Ok(applied),
    };
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

/// `error` (from executing a change set) followed by the stack's real status now and what the
/// next `up` or `down` does with it, so no message guesses the state (an emulator may leave a
/// create that failed on execution in `REVIEW_IN_PROGRESS`).
async fn with_stack_status(clients: &RegionClients, stack: &str, error: Error) -> Error {
    let region = clients.region.as_str();
    let now = match change_set::describe_stack(&clients.cloudformation, region, stack).await {
        Ok(None) => "does not exist".to_owned(),
        Ok(Some(deployed)) => {
            let next = match deployed.phase() {
                Phase::ReviewOnly => {
                    "; resources it made before failing may remain: the next `up` deletes the stack and creates it again (adopting the retained ones), `down --purge-data` removes them all"
                }
                Phase::FailedCreate => {
                    "; the next `up` deletes it and creates it again, `down` deletes it"
                }
                Phase::RolledBack => "; the previous version runs",
                Phase::InProgress => "; watch it with `deployer status --watch`",
                _ => "",
            };
            format!("is {}{next}", deployed.status)
        }
        Err(describe) => format!("has a status that could not be read ({describe})"),
    };
    Error::Other(format!("{error}; {stack} in {region} now {now}"))
}

/// Everything `up` needs for one environment.
pub struct Up<'a> {
    /// The environment.
    pub env: &'a Environment,
    /// Regions to deploy (synthesized), in rollout order, with their clients.
    pub regions: Vec<(&'a RegionOutput, RegionClients)>,
    /// The DR region's replica stack with the region's clients (environments with `dr:`):
    /// deployed before anything else, since every pipeline's replication rules name its buckets.
    pub dr: Option<(&'a RegionOutput, RegionClients)>,
    /// The artifacts.
    pub artifacts: &'a [Artifact],
    /// Regions deployed at once after the canary.
    pub parallel: usize,
    /// Polling.
    pub settings: Settings,
    /// Checked in the canary region after its bake, before the next wave (`None`: no gate, as
    /// `up --no-verify` asks).
    pub gate: Option<&'a dyn CanaryGate>,
    /// Continue a halted rollout (`up --resume`): regions whose pipeline already carries this plan
    /// are skipped without a look at their stacks' changes, and a canary already deployed is not
    /// held for its bake again (its alarms and gate are still checked once).
    pub resume: bool,
}

/// Phase one in one region: the scraper's AMI resolved (before anything changes), the artifacts
/// stack, then the artifacts, uploaded when missing and checked when present. Returns the region's
/// result and, when it succeeded, what the pipeline is pinned to.
pub async fn prepare_region(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> (RegionResult, Option<Pinned>) {
    let run = async {
        let scraper_image = image::resolve(&clients.ssm, clients.region.as_str(), up.env).await?;
        let spec = spec(up.env, region, StackKind::Artifacts, None, None)?;
        // A bootstrapped environment's artifacts stack is `deployer bootstrap`'s: only checked.
        let result = if up.env.is_bootstrapped() {
            check_bootstrap(clients, up.env, &spec).await?;
            StackResult::Unchanged
        } else {
            ensure_stack(
                clients,
                up.env,
                &spec,
                &TemplateLocation::Body,
                &up.settings,
                approver,
                observer,
            )
            .await?
        };
        if let StackResult::Declined(why) = result {
            return Ok((RegionResult::Declined(why), None));
        }
        let bucket = artifacts_bucket(up.env, &region.region);
        if up.env.is_local() {
            artifacts::enable_versioning_on_emulator(&clients.s3, clients.region.as_str(), &bucket)
                .await?;
        }
        let stored =
            artifacts::store_all(&clients.s3, clients.region.as_str(), &bucket, up.artifacts)
                .await?;
        let configurations = store_shard_configurations(up.env, clients, &bucket).await?;
        let uploaded = stored.iter().filter(|a| a.object.uploaded).count() + configurations;
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
        Ok::<_, Error>((
            result,
            Some(Pinned {
                artifacts: stored,
                scraper_image,
            }),
        ))
    };
    run.await
        .unwrap_or_else(|e| (RegionResult::Failed(e.to_string()), None))
}

/// Stores the scraper's shard configurations (`stacks::pipeline::shard_configurations`) in `bucket`
/// under their content-hash keys, checked like the other artifacts when already there; returns how
/// many were uploaded. The instances' first boot fetches them and checks their SHA-256 again.
pub async fn store_shard_configurations(
    env: &Environment,
    clients: &RegionClients,
    bucket: &str,
) -> Result<usize, Error> {
    let files = stacks::pipeline::shard_configurations(env, clients.region.as_str())
        .map_err(|e| Error::Other(format!("serializing the scraper configurations: {e}")))?;
    let mut uploaded = 0;
    for file in files {
        let stored = artifacts::store(
            &clients.s3,
            clients.region.as_str(),
            bucket,
            &file.key,
            &file.bytes,
            &format!("the configuration of scraper shard {}", file.shard.index),
        )
        .await?;
        uploaded += usize::from(stored.uploaded);
    }
    Ok(uploaded)
}

/// Phase two in one region: the pipeline stack, pinned to what `prepare_region` stored and resolved.
pub async fn pipeline_region(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    pinned: Option<&Pinned>,
    replica_key: Option<&str>,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> RegionResult {
    let run = async {
        let mut spec = spec(up.env, region, StackKind::Pipeline, pinned, replica_key)?;
        if change_set::describe_stack(&clients.cloudformation, clients.region.as_str(), &spec.name)
            .await?
            .is_some_and(|deployed| change_set::unchanged(&deployed, &spec))
        {
            return Ok(RegionResult::Unchanged);
        }
        let (rollback, missing) = gate::rollback_configuration(clients, up.env).await?;
        if missing > 0 {
            observer.note(
                &clients.region,
                &format!(
                    "{missing} of the pipeline's rollback alarms do not exist yet (this deployment creates them): CloudFormation watches {} alarm(s) this time",
                    rollback.as_ref().map_or(0, |r| r.triggers.len())
                ),
            );
        }
        spec.rollback = rollback;
        let location =
            template_location(clients, &artifacts_bucket(up.env, &region.region), &spec).await?;
        let result = ensure_stack(
            clients,
            up.env,
            &spec,
            &location,
            &up.settings,
            approver,
            observer,
        )
        .await;
        if let (Err(error @ Error::StackFailed { .. }), Some(rollback)) = (&result, &spec.rollback)
        {
            // Name the alarm when a rollback trigger, not a resource, undid the update.
            let names = gate::watched_alarms(up.env, true);
            if let Ok(firing) = gate::firing(clients, &names).await
                && !firing.is_empty()
            {
                let list: Vec<String> = firing.iter().map(ToString::to_string).collect();
                return Err(Error::Other(format!(
                    "{error}; rolled back by its rollback trigger (monitoring time {} min): alarm(s) in ALARM: {}",
                    rollback.monitoring_minutes,
                    list.join("; ")
                )));
            }
        }
        let result = result?;
        if up.env.is_local()
            && let (Some(key), StackResult::Applied(_)) = (replica_key, &result)
        {
            let template = &stack_of(region, StackKind::Pipeline)?.json;
            crate::dr::apply_replication_on_emulator(clients, up.env, template, &spec.name, key)
                .await?;
        }
        Ok::<_, Error>(match result {
            StackResult::Unchanged => RegionResult::Unchanged,
            StackResult::Applied(_) => RegionResult::Changed,
            StackResult::Declined(why) => RegionResult::Declined(why),
        })
    };
    run.await
        .unwrap_or_else(|e| RegionResult::Failed(e.to_string()))
}

/// True when the pipeline stack of `region` already is what this rollout deploys there: it
/// carries the planned template and parameter hashes and is in a completed state. What makes a
/// region "done" for `--resume`, and what decides whether the canary's gate is needed.
pub async fn pipeline_done(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    pinned: Option<&Pinned>,
    replica_key: Option<&str>,
) -> Result<bool, Error> {
    let spec = spec(up.env, region, StackKind::Pipeline, pinned, replica_key)?;
    Ok(
        change_set::describe_stack(&clients.cloudformation, clients.region.as_str(), &spec.name)
            .await?
            .is_some_and(|deployed| change_set::unchanged(&deployed, &spec)),
    )
}

/// Between the canary and the next wave: when a later region still needs its pipeline deployed,
/// hold the canary for its bake with its alarms watched (checked once when resuming), then run
/// the gate. `Err` is the sentence that halts the rollout.
async fn after_canary(
    up: &Up<'_>,
    pinned: &[Option<Pinned>],
    replica_key: Option<&str>,
    observer: &dyn Observer,
) -> Result<(), String> {
    let mut pending = false;
    for (index, (region, clients)) in up.regions.iter().enumerate().skip(1) {
        if !pipeline_done(up, region, clients, pinned[index].as_ref(), replica_key)
            .await
            .unwrap_or(false)
        {
            pending = true;
            break;
        }
    }
    let Some((canary, clients)) = up.regions.first() else {
        return Ok(());
    };
    if !pending {
        return Ok(());
    }
    let alarms = gate::watched_alarms(up.env, false);
    let minutes = if up.resume {
        0
    } else {
        up.env.rollout.bake_minutes
    };
    if minutes > 0 {
        observer.note(
            &canary.region,
            &format!(
                "baking the canary for {minutes} min before the next wave, watching {} alarm(s)",
                alarms.len()
            ),
        );
    }
    gate::bake(
        clients,
        &alarms,
        Duration::from_secs(u64::from(minutes) * 60),
        up.settings.bake_poll,
    )
    .await?;
    if let Some(gate) = up.gate {
        observer.note(
            &canary.region,
            &format!("running the canary gate: {}", gate.name()),
        );
        gate.check(&canary.region).await.map_err(|failure| {
            format!(
                "{} failed in the canary region {}: {failure}",
                gate.name(),
                canary.region
            )
        })?;
    }
    Ok(())
}

/// The DR region's replica stack (buckets and key the pipelines replicate to), brought up before
/// any other stack.
pub async fn replica_region(
    up: &Up<'_>,
    region: &RegionOutput,
    clients: &RegionClients,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> RegionResult {
    let run = async {
        if up.env.is_bootstrapped() {
            // The DR region's bootstrap stack holds the execution role the replicas deploy with.
            let bootstrap = spec(up.env, region, StackKind::Artifacts, None, None)?;
            check_bootstrap(clients, up.env, &bootstrap).await?;
        }
        let spec = spec(up.env, region, StackKind::Replica, None, None)?;
        let result = ensure_stack(
            clients,
            up.env,
            &spec,
            &TemplateLocation::Body,
            &up.settings,
            approver,
            observer,
        )
        .await?;
        Ok::<_, Error>(match result {
            StackResult::Unchanged => RegionResult::Unchanged,
            StackResult::Applied(_) => RegionResult::Changed,
            StackResult::Declined(why) => RegionResult::Declined(why),
        })
    };
    run.await
        .unwrap_or_else(|e| RegionResult::Failed(e.to_string()))
}

/// `up` for every region of `up`: the DR region's replica stack first (when the environment has
/// `dr:`), then artifacts stacks and uploads in all regions at once (nothing there runs code), then
/// the pipeline stacks, canary first and in waves. Returns every region's result in rollout
/// order, the DR region first.
pub async fn up(
    up: &Up<'_>,
    approver: &dyn Approver,
    observer: &dyn Observer,
) -> Vec<(Region, RegionResult)> {
    // The account of every region first: a wrong one refuses the whole rollout before any change.
    let accounts = join_all(
        up.regions
            .iter()
            .map(|(_, clients)| crate::aws::check_region_account(clients, up.env))
            .collect(),
    )
    .await;
    if accounts.iter().any(Result::is_err) {
        return up
            .regions
            .iter()
            .zip(accounts)
            .map(|((region, _), account)| {
                let result = match account {
                    Err(error) => RegionResult::Failed(error.to_string()),
                    Ok(_) => RegionResult::NotStarted,
                };
                (region.region.clone(), result)
            })
            .collect();
    }
    let mut replica = Vec::new();
    let mut replica_key = None;
    if let Some((region, clients)) = &up.dr {
        let mut result = match crate::aws::check_region_account(clients, up.env).await {
            Err(error) => RegionResult::Failed(error.to_string()),
            Ok(_) => replica_region(up, region, clients, approver, observer).await,
        };
        if !result.stops_rollout() {
            match crate::dr::replica_key_arn(clients, up.env).await {
                Ok(Some(arn)) => replica_key = Some(arn),
                Ok(None) => {
                    result = RegionResult::Failed(format!(
                        "the replica stack is deployed but the key alias {} is missing in {}: look at the stack's events (`deployer status --env {}`)",
                        Names::new(up.env).replica_key_alias(),
                        region.region,
                        up.env.name.as_str()
                    ));
                }
                Err(error) => result = RegionResult::Failed(error.to_string()),
            }
        }
        let stops = result.stops_rollout();
        replica.push((region.region.clone(), result));
        if stops {
            // Without the replica buckets S3 refuses every pipeline's replication rules.
            replica.extend(
                up.regions
                    .iter()
                    .map(|(region, _)| (region.region.clone(), RegionResult::NotStarted)),
            );
            return replica;
        }
    }
    let (prepared, pinned): (Vec<RegionResult>, Vec<Option<Pinned>>) = join_all(
        up.regions
            .iter()
            .map(|(region, clients)| prepare_region(up, region, clients, approver, observer))
            .collect(),
    )
    .await
    .into_iter()
    .unzip();
    if prepared.iter().any(RegionResult::stops_rollout) {
        return replica
            .into_iter()
            .chain(
                up.regions
                    .iter()
                    .zip(prepared)
                    .map(|((region, _), result)| {
                        let result = if result.stops_rollout() {
                            result
                        } else {
                            RegionResult::NotStarted
                        };
                        (region.region.clone(), result)
                    }),
            )
            .collect();
    }
    let replica_key = replica_key.as_deref();
    let indices: Vec<usize> = (0..up.regions.len()).collect();
    let results = waves::run_gated(
        &waves::plan(&indices, up.parallel),
        |index| {
            let (region, clients) = &up.regions[index];
            let pinned = pinned[index].as_ref();
            async move {
                if up.resume
                    && pipeline_done(up, region, clients, pinned, replica_key)
                        .await
                        .unwrap_or(false)
                {
                    observer.note(
                        &region.region,
                        "already deployed by the halted rollout: skipped",
                    );
                    return RegionResult::Unchanged;
                }
                pipeline_region(up, region, clients, pinned, replica_key, approver, observer).await
            }
        },
        |_| after_canary(up, &pinned, replica_key, observer),
    )
    .await;
    replica
        .into_iter()
        .chain(results.into_iter().map(|(index, result)| {
            // An unchanged pipeline after uploading artifacts or creating the bucket is still a change.
            let result = match (&prepared[index], result) {
                (RegionResult::Changed, RegionResult::Unchanged) => RegionResult::Changed,
                (_, other) => other,
            };
            (up.regions[index].0.region.clone(), result)
        }))
        .collect()
}
