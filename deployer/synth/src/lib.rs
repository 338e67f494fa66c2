//! `deployer synth`: turns a validated environment into one CloudFormation template per stack and
//! region, checks them against CloudFormation's limits, and renders the IAM snapshot reviewers read.
//!
//! Everything here is pure (no AWS, no clock, no randomness), so the output is byte-identical across runs
//! and machines.

pub mod changes;
pub mod explain;
mod judge;
mod limits;
mod readable;
mod snapshot;

use std::collections::BTreeMap;

use environment::{Environment, Region};
use stacks::pipeline::{self, StackKind};

pub use explain::Grants;
pub use judge::parliament_inputs;
pub use limits::{
    INLINE_TEMPLATE_BYTES, LimitError, MAX_RESOURCES, S3_TEMPLATE_BYTES, USER_DATA_BYTES,
};
/// The readable text of a string or string-valued intrinsic (`Ref` → `${Name}`), as in the snapshot.
pub use readable::as_text as readable_text;
pub use snapshot::{ResourcePolicies, ResourcePolicy, RoleSnapshot, Snapshot};

/// One stack's synthesized template and its figures.
#[derive(Debug, Clone)]
pub struct StackOutput {
    /// What the stack is for.
    pub kind: StackKind,
    /// CloudFormation stack name.
    pub name: String,
    /// The template as pretty JSON (what is written and reviewed).
    pub pretty: String,
    /// The template as compact JSON (what is sent; what the size limits apply to).
    pub compact: String,
    /// The template as a JSON value.
    pub json: serde_json::Value,
    /// Number of resources.
    pub resources: usize,
}

impl StackOutput {
    /// Whether the template is too large to send inline and goes through S3.
    pub fn needs_s3_upload(&self) -> bool {
        self.compact.len() > INLINE_TEMPLATE_BYTES
    }
}

/// The stacks of one region.
#[derive(Debug, Clone)]
pub struct RegionOutput {
    /// The region.
    pub region: Region,
    /// Whether it is the environment's canary (first) region.
    pub canary: bool,
    /// Its stacks in deployment order.
    pub stacks: Vec<StackOutput>,
}

/// Everything `synth` produces for an environment.
#[derive(Debug, Clone)]
pub struct Synthesis {
    /// Per region, in rollout order.
    pub regions: Vec<RegionOutput>,
    /// The DR region's stack (the replica buckets and key) when the environment has `dr:`, whatever
    /// region was selected; it is deployed before every region's pipeline. Its region is never one
    /// of `regions`.
    pub dr: Option<RegionOutput>,
    /// The IAM snapshot (the same for every region: regions appear as `${AWS::Region}`).
    pub snapshot: Snapshot,
    /// Every role's grants with the uses they were made for (of the first region synthesized, like
    /// the snapshot).
    pub grants: Grants,
}

/// Why synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A bug in the stack definitions (never bad input: the environment was validated).
    #[error("building the stacks for {region}: {source}")]
    Build {
        /// The region.
        region: Region,
        /// What went wrong.
        source: pipeline::BuildError,
    },
    /// A template breaks a CloudFormation limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A role differs between two regions, which the snapshot format assumes it does not.
    #[error(
        "a role's IAM policies differ between {first} and {other}; the snapshot assumes a role is the same in every region that has it"
    )]
    RegionsDiffer {
        /// The canary region.
        first: Region,
        /// The region that differs.
        other: Region,
    },
}

/// Synthesizes `regions` of `env` (all of them when `only` is `None`).
pub fn synthesize(env: &Environment, only: Option<&Region>) -> Result<Synthesis, SynthError> {
    let mut regions = Vec::new();
    let mut snapshot: Option<(Region, Snapshot)> = None;
    let mut grants = None;
    let all = pipeline::regions_stacks(env, only).map_err(|e| SynthError::Build {
        region: e.region,
        source: e.source,
    })?;
    for (region, built) in &all {
        let stacks_out = stack_outputs(env, region, built)?;
        let region_snapshot =
            Snapshot::from_stacks(stacks_out.iter().map(|s| (s.name.as_str(), &s.json)));
        if grants.is_none() {
            grants = Some(Grants::from_templates(
                built.iter().map(|stack| &stack.template),
                &region_snapshot,
            ));
        }
        merge_snapshot(&mut snapshot, region, region_snapshot)?;
        regions.push(RegionOutput {
            region: region.clone(),
            canary: region == env.canary_region(),
            stacks: stacks_out,
        });
    }
    // Whatever `only` selects: every region's pipeline replicates to it, so `up --region R` must
    // find it deployed too (an unchanged stack costs one DescribeStacks).
    let dr = match &env.dr {
        Some(dr) => dr_region(env, &dr.region)?,
        None => None,
    };
    let mut grants = grants.unwrap_or_default();
    let dr = match dr {
        Some((dr, built)) => {
            // Its bootstrap stack's roles: the deploy role is every region's; the execution
            // role its own.
            let dr_snapshot =
                Snapshot::from_stacks(dr.stacks.iter().map(|s| (s.name.as_str(), &s.json)));
            grants.add_roles_of(Grants::from_templates(
                built.iter().map(|stack| &stack.template),
                &dr_snapshot,
            ));
            merge_snapshot(&mut snapshot, &dr.region, dr_snapshot)?;
            Some(dr)
        }
        None => None,
    };
    let snapshot = snapshot.map(|(_, s)| s).unwrap_or_default();
    Ok(Synthesis {
        regions,
        dr,
        snapshot,
        grants,
    })
}

/// One snapshot for the environment: a role may exist in some regions only (the Managed Grafana
/// workspace's, in the canary), but where two regions have it, it must be the same.
fn merge_snapshot(
    snapshot: &mut Option<(Region, Snapshot)>,
    region: &Region,
    region_snapshot: Snapshot,
) -> Result<(), SynthError> {
    match snapshot {
        None => *snapshot = Some((region.clone(), region_snapshot)),
        Some((first, existing)) => {
            for (id, role) in region_snapshot.roles {
                match existing.roles.get(&id) {
                    Some(known) if *known != role => {
                        return Err(SynthError::RegionsDiffer {
                            first: first.clone(),
                            other: region.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        existing.roles.insert(id, role);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The synthesized outputs of one region's stacks, each checked against CloudFormation's limits.
fn stack_outputs(
    env: &Environment,
    region: &Region,
    built: &[pipeline::Stack],
) -> Result<Vec<StackOutput>, SynthError> {
    let mut stacks_out = Vec::new();
    for stack in built {
        let to_err = |source: stacks::template::TemplateError| SynthError::Build {
            region: region.clone(),
            source: source.into(),
        };
        // Serialize the typed template once; both texts are printed from that value (its maps
        // keep their insertion order, so the text is the same as serializing the template).
        let json = stack.template.to_json().map_err(to_err)?;
        let output = StackOutput {
            kind: stack.kind,
            resources: stack.template.resource_count(),
            pretty: serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
            compact: json.to_string(),
            json,
            name: stack.name.clone(),
        };
        limits::check(env.name.as_str(), region, &output)?;
        stacks_out.push(output);
    }
    Ok(stacks_out)
}

/// The DR region's output: with `deploy:` its bootstrap stack, then the replicas; with the
/// stacks it was synthesized from.
fn dr_region(
    env: &Environment,
    region: &Region,
) -> Result<Option<(RegionOutput, Vec<pipeline::Stack>)>, SynthError> {
    let built = pipeline::dr_stacks(env).map_err(|source| SynthError::Build {
        region: region.clone(),
        source,
    })?;
    if built.is_empty() {
        return Ok(None);
    }
    let output = RegionOutput {
        region: region.clone(),
        canary: false,
        stacks: stack_outputs(env, region, &built)?,
    };
    Ok(Some((output, built)))
}

/// Totals for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Stacks in the region.
    pub stacks: usize,
    /// Resources in the region.
    pub resources: usize,
    /// IAM roles.
    pub roles: usize,
    /// IAM permission statements (trust statements not counted).
    pub statements: usize,
}

impl Synthesis {
    /// Figures of one region.
    pub fn totals(&self, region: &RegionOutput) -> Totals {
        Totals {
            stacks: region.stacks.len(),
            resources: region.stacks.iter().map(|s| s.resources).sum(),
            roles: self.snapshot.roles.len(),
            statements: self
                .snapshot
                .roles
                .values()
                .map(|r| r.permissions.len())
                .sum(),
        }
    }

    /// The files `synth --out DIR` writes, relative to DIR: `<region>/<stack>.json`.
    pub fn template_files(&self) -> BTreeMap<String, &str> {
        self.dr
            .iter()
            .chain(&self.regions)
            .flat_map(|region| {
                region.stacks.iter().map(move |stack| {
                    (
                        format!("{}/{}.json", region.region, stack.name),
                        stack.pretty.as_str(),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use environment::Environment;

    /// The shipped local environment.
    pub fn minimal_env() -> Environment {
        environment::parse(
            "local.yaml",
            include_str!("../../../environments/local.yaml"),
        )
        .expect("local.yaml is valid")
    }
}
